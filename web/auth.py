"""Sign-in, sign-out, the current user, and the permission checks every view uses.

Sessions hold the user's id and a mark of their password; every request
reloads the user, so a disabled account or a changed password ends its
sessions at once. The API also accepts HTTP basic auth for
scripts. Failed sign-ins are limited per (username, address).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from typing import Callable, Optional
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from checkpoint.models import User
from web import csrf
from web.i18n import LANGUAGES, translate
from web.state import db, state
from web.users import authenticate, can, user_count

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def load_user() -> None:
    g.user = None
    g.kiosk = False
    user_id = session.get("user_id")
    if user_id is not None:
        user = db().get(User, user_id)
        if user is not None and user.active and session.get("password") == password_mark(user):
            g.user = user
        else:
            session.clear()  # disabled, deleted, or its password was changed: sign in again


def password_mark(user: User) -> str:
    """Binds a session to the password it was opened with (a hash of the hash, never the hash itself)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def basic_auth_user() -> Optional[User]:
    """The user named by an HTTP basic Authorization header, if its password is right (rate limited)."""
    credentials = request.authorization
    if credentials is None or credentials.type != "basic" or not credentials.username:
        return None
    limiter, address = state().limiter, request.remote_addr or ""
    if limiter.blocked(credentials.username, address):
        abort(429)
    user = authenticate(db(), credentials.username, credentials.password or "")
    if user is None:
        limiter.failed(credentials.username, address)
        return None
    limiter.succeeded(credentials.username, address)
    return user


def requires(permission: str, kiosk: bool = False, api: bool = False) -> Callable:
    """Views need a signed-in user with ``permission``; ``kiosk`` views also open anonymously in kiosk mode."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None and api:
                g.user = basic_auth_user()
            if g.user is None:
                if kiosk and state().settings.web.kiosk:
                    g.kiosk = True
                    return view(*args, **kwargs)
                if api:
                    return {"error": "authentication required"}, 401, {"WWW-Authenticate": 'Basic realm="checkpoint"'}
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not can(g.user, permission):
                if api:
                    return {"error": f"needs the '{permission}' permission"}, 403
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _safe_next(target: Optional[str]) -> str:
    if target and any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        abort(400, description="The address to go back to is not valid.")  # CR-LF cannot reach a header
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("screen.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        limiter, address = state().limiter, request.remote_addr or ""
        if limiter.blocked(username, address):
            error, status = translate("login.limited"), 429
            log.warning("sign-in blocked for %r from %s: too many failures", username, address)
        else:
            user = authenticate(db(), username, password)
            if user is None:
                limiter.failed(username, address)
                error, status = translate("login.failed"), 401
                log.info("failed sign-in for %r from %s", username, address)
            else:
                limiter.succeeded(username, address)
                language = session.get("language")
                session.clear()
                session.permanent = True
                session["user_id"] = user.id
                session["password"] = password_mark(user)
                if language:
                    session["language"] = language
                csrf.rotate()
                log.info("%s signed in from %s", user.username, address)
                return redirect(_safe_next(request.form.get("next")))
    first_run = user_count(db()) == 0
    return render_template("login.html", error=error, first_run=first_run,
                           next=request.values.get("next", "")), status


@bp.route("/logout", methods=["POST"])
def logout():
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language():
    chosen = request.form.get("language")
    if chosen in LANGUAGES:
        session["language"] = chosen
        if g.user is not None and g.user.language:
            g.user.language = chosen  # a signed-in user's choice is remembered on the account
            db().add(g.user)
            db().commit()
    return redirect(_safe_next(request.form.get("next")))


def first_run_hint(app) -> None:
    """Log how to create the first admin when the database has no users."""
    from sqlmodel import Session

    with Session(app.extensions["checkpoint"].engine) as session:
        if user_count(session) == 0:
            log.warning("no users yet: create the first admin with "
                            "`checkpoint user add NAME --role admin` (add -c FILE for your configuration)")


def init_app(app) -> None:
    app.before_request(load_user)
    app.jinja_env.globals["can"] = lambda permission: can(g.get("user"), permission)
    app.register_blueprint(bp)
