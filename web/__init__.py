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
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

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
    "EVENTS_RETRY_AFTER_S": 30,  # Retry-After on a stream refused over a cap (web.max_event_streams*)
    "SILENT_AFTER_S": 10.0,
    "PAGE_SIZE": 50,
    "LOG_COUNT_CAP": 1000,  # the log counts matching rows up to this, then shows "1000+"
    "API_MAX_LIMIT": 500,
    "REPORT_MAX_DAYS": 366,
    # request size: every form here is a few fields of text (no uploads); anything larger is refused with 413
    # before it is read, so an anonymous 200 MB POST cannot take the process's memory
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 64 * 1024,  # one text field
    "MAX_FORM_PARTS": 100,
}


def create_app(settings: Optional[Settings] = None, test_config: Optional[dict] = None) -> Flask:
    if settings is None:
        settings = load_settings(os.environ.get("CHECKPOINT_CONFIG") or None)
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config["SESSION_COOKIE_SECURE"] = settings.web.secure_cookies
    app.config["DATABASE_URL"] = settings.database_url
    app.config["EVENTS_MAX_STREAMS"] = settings.web.max_event_streams
    app.config["EVENTS_MAX_PER_ADDRESS"] = settings.web.max_event_streams_per_address
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = resolve_secret_key(settings)

    engine = open_database(app.config["DATABASE_URL"])
    broker = Broker(engine, app.config["EVENTS_POLL_S"], app.config["EVENTS_QUEUE"], app.config["SILENT_AFTER_S"],
                    max_streams=app.config["EVENTS_MAX_STREAMS"], max_per_address=app.config["EVENTS_MAX_PER_ADDRESS"],
                    retry_after_s=app.config["EVENTS_RETRY_AFTER_S"])
    limiter = LoginLimiter.from_settings(settings.web)  # sign-in limits per address and account ([web] login_*)
    if settings.web.trusted_proxies:  # the client's address from X-Forwarded-For only behind trusted proxies
        # Flask's documented way to add WSGI middleware; its types declare wsgi_app a method
        app.wsgi_app = ProxyFix(app.wsgi_app,  # type: ignore[method-assign]
                                x_for=settings.web.trusted_proxies, x_proto=settings.web.trusted_proxies)
    app.extensions["checkpoint"] = AppState(settings, engine, broker, limiter, app.config["GATE"])

    from web import admin, api, auth, csrf, entries, health, i18n, metrics, reports, screen, visitor

    app.teardown_appcontext(close_session)
    csrf.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    for blueprint in (screen.bp, entries.bp, reports.bp, api.bp, admin.bp, health.bp, visitor.bp, metrics.bp):
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
    if request.endpoint != "static":  # pages, the API, the stream and errors carry health data: never cached
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_pages(app: Flask) -> None:
    """Every HTTP error as a page, or as ``{"error": ...}`` JSON under /api/; an unhandled exception is a 500
    with a generic text (the traceback goes to the log, never to the client)."""

    def handler(error: HTTPException):
        code = error.code or 500
        if code == 413:
            limit_kb = (app.config.get("MAX_CONTENT_LENGTH") or 0) // 1024
            error = RequestEntityTooLarge(description=f"The request is too large: this server accepts at most "
                                                      f"{limit_kb} KB in one request, and no more than a few "
                                                      f"short form fields.")
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        if request.path.startswith("/api/"):
            return jsonify({"error": error.description or error.name}), code, headers
        try:
            return render_template("error.html", error=error, code=code), code, headers
        except Exception:  # the page itself failed (e.g. the database is gone): plain text still answers
            log.exception("error page %s failed", code)
            return f"{code} {error.name}\n", code, [("Content-Type", "text/plain; charset=utf-8")]

    def internal_error(error: InternalServerError):
        return handler(InternalServerError(description="Something went wrong on the server; it has been logged."))

    app.register_error_handler(HTTPException, handler)
    app.register_error_handler(InternalServerError, internal_error)
