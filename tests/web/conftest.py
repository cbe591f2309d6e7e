"""Fixtures for the web app: settings on a temporary SQLite file, app, client, users, sign-in, live server, browser."""

from __future__ import annotations

import os

import pytest
from sqlmodel import Session
from web_helpers import CHROMIUM, PASSWORD, LiveServer, csrf_from

from checkpoint.config import Settings
from web import close_app, create_app
from web.users import create_user


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "test-secret-key"}})


@pytest.fixture
def app_factory(tmp_path):
    apps = []

    def build(settings: Settings, **config):
        app = create_app(settings, {"TESTING": True, **config})
        apps.append(app)
        return app

    yield build
    for app in apps:
        close_app(app)


@pytest.fixture
def app(app_factory, settings):
    return app_factory(settings)


@pytest.fixture
def engine(app):
    return app.extensions["checkpoint"].engine


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def users(engine):
    with Session(engine) as session:
        for name, role in (("guard", "guard"), ("manager", "manager"), ("admin", "admin")):
            create_user(session, name, PASSWORD, role)
    return {"guard": "guard", "manager": "manager", "admin": "admin"}


class AuthActions:
    def __init__(self, client) -> None:
        self._client = client

    def token(self) -> str:
        return csrf_from(self._client.get("/login").get_data(as_text=True))

    def login(self, username: str = "guard", password: str = PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password,
                                                 "csrf_token": self.token()})

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": self.token()})


@pytest.fixture
def auth(client, users) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def live_server(app):
    server = LiveServer(app)
    server.thread.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}")
    playwright_api = pytest.importorskip("playwright.sync_api",
                                         reason="browser tests need playwright (pip install playwright)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()
