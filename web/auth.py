"""Sign-in, sign-out, the current user, and the permission checks every view uses.

A session (Flask's signed cookie, 12 h) holds the user's id and the account's
session generation (``User.session_generation``) at sign-in. Every request
reloads the user and compares: sign-out, disabling, a new password or role,
and ``checkpoint user unlock`` raise the generation (web.users.end_sessions),
so every copy of every session of that account is refused from its next
request on, including a cookie copied before sign-out, and re-enabling an
account brings none back. That is the one mechanism; nothing else ends a
session early.

The API also accepts HTTP basic auth for scripts. Failed sign-ins, on the
form and by basic auth, are limited per address and delayed per account
(web.limits); a browser that signed in to an account before carries a signed
device cookie for it and is not delayed by other people's failures.
"""

from __future__ import annotations

import functools
import logging
import secrets
from typing import Callable, Optional
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import TooManyRequests

from checkpoint.models import User
from web import csrf
from web.i18n import LANGUAGES, translate
from web.limits import retry_after
from web.state import db, state
from web.users import can, end_sessions, find_user, user_count, verify

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def load_user() -> None:
    g.user = None
    g.kiosk = False
    user_id = session.get("user_id")
    if user_id is not None:
        user = db().get(User, user_id)
        if user is not None and user.active and session.get("generation") == user.session_generation:
            g.user = user
        else:
            session.clear()  # signed out, disabled, deleted, new password or role: sign in again


# -- sign-in attempts: limits and device cookies ---------------------------------------------------------------

DEVICE_COOKIE = "checkpoint_device"
DEVICE_MAX_AGE_S = 180 * 24 * 3600
DEVICE_ACCOUNTS = 8  # accounts remembered per browser (a shared desk)


def _devices_serializer() -> URLSafeTimedSerializer:
    key = current_app.secret_key
    if key is None:  # create_app always sets it
        raise RuntimeError("the app has no SECRET_KEY to sign the device cookie with")
    return URLSafeTimedSerializer(key, salt="checkpoint.device")


def _devices() -> list[list[str]]:
    """The [name, device id] pairs of this browser's device cookie (signed; empty when absent or forged)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        pairs = _devices_serializer().loads(raw, max_age=DEVICE_MAX_AGE_S)
    except BadSignature:
        return []
    if not isinstance(pairs, list):
        return []
    return [pair for pair in pairs
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)]


def device_id(username: str) -> Optional[str]:
    """This browser's device id for ``username``, if it has signed in to that account before."""
    name = username.lower()
    return next((device for known, device in _devices() if known == name), None)


def _remember_device(response, username: str, device: Optional[str]) -> None:
    name = username.lower()
    pairs = [[name, device or secrets.token_urlsafe(16)]] + [pair for pair in _devices() if pair[0] != name]
    response.set_cookie(DEVICE_COOKIE, _devices_serializer().dumps(pairs[:DEVICE_ACCOUNTS]), max_age=DEVICE_MAX_AGE_S,
                        path=url_for("auth.login"), secure=current_app.config["SESSION_COOKIE_SECURE"],
                        httponly=True, samesite="Strict")


def client_address() -> str:
    """The client's address: the peer's, or the one the trusted proxies report (``[web] trusted_proxies``)."""
    return request.remote_addr or ""


class Attempt:
    """One sign-in attempt through the limits: ``wait`` (seconds, 0: go on), then ``check`` the password."""

    def __init__(self, username: str, device: Optional[str] = None) -> None:
        self.username, self.device, self.address = username, device, client_address()
        self.user = find_user(db(), username) if username else None
        # a name without an account is counted the same way, so the answers do not tell which names exist
        self.generation = self.user.session_generation if self.user is not None else 0
        self.wait = state().limiter.wait(username, self.address, self.generation, self.user is not None, device)

    def check(self, password: str) -> Optional[User]:
        limiter = state().limiter
        if verify(self.user, password):
            limiter.succeeded(self.username, self.device)
            return self.user
        limiter.failed(self.username, self.address, self.generation, self.user is not None, self.device)
        return None


def basic_auth_user() -> Optional[User]:
    """The user named by an HTTP basic Authorization header, if its password is right (limited like sign-in)."""
    credentials = request.authorization
    if credentials is None or credentials.type != "basic" or not credentials.username:
        return None
    attempt = Attempt(credentials.username)
    if attempt.wait:
        log.warning("basic auth for %r from %s refused for %.0f s: too many failures",
                    credentials.username, attempt.address, attempt.wait)
        seconds = retry_after(attempt.wait)
        raise TooManyRequests(description=f"Too many failed sign-ins: try again in {seconds} seconds.",
                              retry_after=int(seconds))
    user = attempt.check(credentials.password or "")
    if user is None:
        log.info("failed basic auth for %r from %s", credentials.username, attempt.address)
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
    error, status, headers = None, 200, {}
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        attempt = Attempt(username, device_id(username))
        if attempt.wait:
            seconds = retry_after(attempt.wait)
            error, status, headers = translate("login.wait").format(seconds=seconds), 429, {"Retry-After": seconds}
            log.warning("sign-in for %r from %s refused for %s s: too many failures", username, attempt.address,
                        seconds)
        else:
            user = attempt.check(password)
            if user is None:
                error, status = translate("login.failed"), 401
                log.info("failed sign-in for %r from %s", username, attempt.address)
            else:
                language = session.get("language")
                session.clear()
                session.permanent = True
                session["user_id"] = user.id
                session["generation"] = user.session_generation
                if language:
                    session["language"] = language
                csrf.rotate()
                log.info("%s signed in from %s", user.username, attempt.address)
                response = redirect(_safe_next(request.form.get("next")))
                _remember_device(response, user.username, attempt.device)
                return response
    first_run = user_count(db()) == 0
    return render_template("login.html", error=error, first_run=first_run,
                           next=request.values.get("next", "")), status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends every session of the account, on every browser, copies of the cookie included."""
    if g.user is not None:
        end_sessions(g.user)
        db().add(g.user)
        db().commit()
        log.info("%s signed out", g.user.username)
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
