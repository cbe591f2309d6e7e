"""The Checkpoint web app: live entry screen, visitor log, reports, JSON API, accounts.

It reads the entry log and writes only what people enter (overrides, exits,
users); it never talks to hardware. Every asset is served locally.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Optional

from flask import Flask, jsonify, render_template, request

from checkpoint.config import Settings, load_settings
from checkpoint.db import open_database
from web.events import Broker
from web.limits import LoginLimiter
from web.secret_key import resolve_secret_key
from web.state import AppState, close_session, local_time

log = logging.getLogger(__name__)

DEFAULTS = {
    "SESSION_COOKIE_NAME": "checkpoint_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "GATE": None,  # show one gate only; None shows all
    "EVENTS_POLL_S": 0.2,
    "EVENTS_HEARTBEAT_S": 15.0,
    "EVENTS_QUEUE": 256,
    "SILENT_AFTER_S": 10.0,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_WINDOW_S": 300.0,
    "PAGE_SIZE": 50,
    "LOG_COUNT_CAP": 1000,  # the log counts matching rows up to this, then shows "1000+"
    "API_MAX_LIMIT": 500,
    "REPORT_MAX_DAYS": 366,
}


def create_app(settings: Optional[Settings] = None, test_config: Optional[dict] = None) -> Flask:
    if settings is None:
        settings = load_settings(os.environ.get("CHECKPOINT_CONFIG") or None)
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config["SESSION_COOKIE_SECURE"] = settings.web.secure_cookies
    app.config["DATABASE_URL"] = settings.database_url
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = resolve_secret_key(settings)

    engine = open_database(app.config["DATABASE_URL"])
    broker = Broker(engine, app.config["EVENTS_POLL_S"], app.config["EVENTS_QUEUE"], app.config["SILENT_AFTER_S"])
    limiter = LoginLimiter(app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_WINDOW_S"])
    app.extensions["checkpoint"] = AppState(settings, engine, broker, limiter, app.config["GATE"])

    from web import admin, api, auth, csrf, entries, health, i18n, reports, screen

    app.teardown_appcontext(close_session)
    csrf.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    for blueprint in (screen.bp, entries.bp, reports.bp, api.bp, admin.bp, health.bp):
        app.register_blueprint(blueprint)
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.globals["settings"] = settings
    app.after_request(_security_headers)
    _error_pages(app)
    auth.first_run_hint(app)
    return app


def close_app(app: Flask) -> None:
    """Stop the event poller and release the database (tests, shutdown)."""
    app.extensions["checkpoint"].close()


def _security_headers(response):
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _error_pages(app: Flask) -> None:
    def handler(error):
        code = getattr(error, "code", 500)
        if request.path.startswith("/api/"):
            return jsonify({"error": getattr(error, "description", str(error))}), code
        return render_template("error.html", error=error, code=code), code

    for code in (400, 403, 404, 405, 429):
        app.register_error_handler(code, handler)
