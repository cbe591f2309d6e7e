"""CSRF protection: one random token per session, required on every state-changing request.

Forms carry it in a hidden ``csrf_token`` field, scripts in an
``X-CSRF-Token`` header; a missing or wrong token is refused with 400.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    token = session.get(FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[FIELD] = token
    return token


def rotate() -> str:
    session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


def check_csrf() -> None:
    if request.method not in UNSAFE:
        return
    expected = session.get(FIELD)
    sent = request.form.get(FIELD) or request.headers.get(HEADER)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        abort(400, description="The form's security token is missing or out of date. Reload the page and try again.")


def init_app(app) -> None:
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
