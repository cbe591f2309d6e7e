"""Administration: user accounts (add, enable/disable, set password) and the effective settings."""

from __future__ import annotations

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, session, url_for
from sqlmodel import select

from checkpoint.config import effective_toml
from checkpoint.models import User
from web.auth import requires
from web.i18n import translate
from web.settings_view import settings_sections
from web.state import db, state
from web.users import ROLES, UserError, create_user, set_active, set_password, set_role

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _users():
    return list(db().exec(select(User).order_by(User.username)))


def _message(exc: UserError) -> str:
    """The refusal in the user's language when it has a text in web/i18n.py (the password rules), else as raised."""
    return translate(exc.key).format(**exc.params) if exc.key else str(exc)


@bp.route("/users", methods=["GET", "POST"])
@requires("admin")
def users():
    error = None
    if request.method == "POST":
        try:
            create_user(db(), request.form.get("username", "").strip(), request.form.get("password", ""),
                        request.form.get("role", ""), request.form.get("language") or None)
            flash(translate("admin.saved"))
            return redirect(url_for("admin.users"))
        except UserError as exc:
            db().rollback()
            error = _message(exc)
    return render_template("admin/users.html", users=_users(), roles=ROLES, error=error), 400 if error else 200


@bp.route("/users/<int(max=9223372036854775807):user_id>", methods=["POST"])  # larger ids: 404, not an overflow
@requires("admin")
def update(user_id: int):
    user = db().get(User, user_id)
    if user is None:
        return render_template("admin/users.html", users=_users(), roles=ROLES,
                               error=translate("admin.no_such_user")), 404
    action = request.form.get("action")
    try:
        if action == "password":
            set_password(db(), user, request.form.get("password", ""))  # ends the account's sessions
            if user.id == g.user.id:
                session["generation"] = user.session_generation  # ... except the one that changed it
        elif action in ("enable", "disable"):
            if user.id == g.user.id and action == "disable":
                raise UserError("you cannot disable your own account", "admin.not_yourself_disable")
            set_active(db(), user, action == "enable")  # either way its open sessions end
        elif action == "role" and request.form.get("role") in ROLES:
            if user.id == g.user.id:
                raise UserError("you cannot change your own role", "admin.not_yourself_role")
            set_role(db(), user, request.form["role"])  # its open sessions end: sign in again under the new role
        else:
            raise UserError("unknown action", "admin.unknown_action")
    except UserError as exc:
        db().rollback()
        return render_template("admin/users.html", users=_users(), roles=ROLES, error=_message(exc)), 400
    flash(translate("admin.saved"))
    return redirect(url_for("admin.users"))


@bp.route("/settings")
@requires("admin")
def settings_page():
    """The effective settings, secrets masked (effective_toml), never kept by a browser or proxy cache."""
    settings = state().settings
    response = make_response(render_template("admin/settings.html", sections=settings_sections(settings),
                                             text=effective_toml(settings)))
    response.headers["Cache-Control"] = "no-store"
    return response
