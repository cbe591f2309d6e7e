"""Sign-in, roles, CSRF, rate limiting, kiosk mode, language choice."""

from __future__ import annotations

import base64

import pytest
from web_helpers import PASSWORD, csrf_from, hours_ago, make_entry, store

from checkpoint.config import Settings


@pytest.mark.parametrize("path", ["/entries", "/entries.csv", "/reports", "/admin/users", "/"])
def test_pages_need_login_and_redirect_to_it(client, users, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.slow
def test_login_then_back_to_the_page_asked_for(client, auth):
    response = client.get("/reports?from=2026-01-01")
    target = response.headers["Location"]
    token = csrf_from(client.get(target).get_data(as_text=True))
    response = client.post("/login", data={"username": "manager", "password": PASSWORD, "csrf_token": token,
                                           "next": "/reports?from=2026-01-01"})
    assert response.status_code == 302 and response.headers["Location"] == "/reports?from=2026-01-01"
    assert client.get("/reports").status_code == 200


@pytest.mark.slow
def test_login_refuses_open_redirects(client, auth):
    token = auth.token()
    response = client.post("/login", data={"username": "guard", "password": PASSWORD, "csrf_token": token,
                                           "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


@pytest.mark.slow
def test_wrong_password_is_refused(client, auth):
    response = auth.login("guard", "wrong-password")
    assert response.status_code == 401
    assert client.get("/").status_code == 302


@pytest.mark.slow
def test_login_rate_limited_per_user_and_address(client, auth):
    for _ in range(5):
        assert auth.login("manager", "nope-nope").status_code == 401
    assert auth.login("manager", PASSWORD).status_code == 429  # even the right password, while blocked
    assert auth.login("guard", PASSWORD).status_code == 302  # another user name is not blocked


def test_post_without_csrf_token_is_refused(client, auth, engine):
    auth.login("guard")
    (entry,) = store(engine, make_entry(outcome="denied", reasons="no_mask"))
    response = client.post("/override", data={"entry": entry.uid, "outcome": "allowed", "reason": "medical mask"})
    assert response.status_code == 400
    response = client.post("/login", data={"username": "guard", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400
    assert client.post("/exit", data={}).status_code == 400


@pytest.mark.slow
def test_roles(client, auth):
    auth.login("guard")
    assert client.get("/").status_code == 200
    assert client.get("/entries").status_code == 403
    assert client.get("/reports").status_code == 403
    assert client.get("/admin/users").status_code == 403
    auth.logout()
    auth.login("manager")
    assert client.get("/entries").status_code == 200
    assert client.get("/entries.csv").status_code == 200
    assert client.get("/admin/users").status_code == 403
    assert "/override" not in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("admin")
    for path in ("/", "/entries", "/reports", "/admin/users", "/admin/settings", "/api/entries"):
        assert client.get(path).status_code == 200, path


def test_logout_ends_the_session(client, auth):
    auth.login("manager")
    assert client.get("/entries").status_code == 200
    auth.logout()
    assert client.get("/entries").status_code == 302


def test_kiosk_screen_opens_without_login_today_only_and_read_only(tmp_path, app_factory, users):
    settings = Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "k", "kiosk": True}})
    app = app_factory(settings)
    engine = app.extensions["checkpoint"].engine
    store(engine, make_entry(hours_ago(30), outcome="denied", reasons="fever", body_c=38.9),
          make_entry(outcome="allowed", body_c=36.4))
    client = app.test_client()
    html = client.get("/").get_data(as_text=True)
    assert "36.4" in html and "38.9" not in html  # yesterday's entry is not shown
    assert "/override" not in html and "Record exit" not in html and "Catat keluar" not in html
    assert client.get("/entries").status_code == 302
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/exit", data={"csrf_token": token}).status_code == 302


@pytest.mark.slow
def test_api_accepts_basic_auth_and_answers_401_without(client, users):
    assert client.get("/api/entries").status_code == 401
    assert client.get("/api/entries").headers["WWW-Authenticate"].startswith("Basic")
    good = base64.b64encode(f"manager:{PASSWORD}".encode()).decode()
    assert client.get("/api/entries", headers={"Authorization": f"Basic {good}"}).status_code == 200
    bad = base64.b64encode(b"manager:wrong").decode()
    assert client.get("/api/entries", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    guard = base64.b64encode(f"guard:{PASSWORD}".encode()).decode()
    assert client.get("/api/entries", headers={"Authorization": f"Basic {guard}"}).status_code == 403


@pytest.mark.slow
def test_language_from_browser_user_and_default(client, auth, engine, app):
    assert "Masuk" in client.get("/login").get_data(as_text=True)  # no Accept-Language: the gate's default (id)
    html = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Sign in" in html
    from sqlmodel import Session

    from web.users import create_user

    with Session(engine) as session:
        create_user(session, "rina", PASSWORD, "guard", language="id")
    auth.login("rina")
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Entri terakhir" in html  # the user's own language wins over the browser's


def test_language_switch_is_remembered_in_the_session(client, auth):
    token = auth.token()
    client.post("/language", data={"language": "en", "csrf_token": token, "next": "/login"})
    assert "Sign in" in client.get("/login").get_data(as_text=True)


def test_password_change_ends_open_sessions(client, auth, app, users):
    from sqlmodel import Session, select

    from checkpoint.models import User
    from web.users import set_password

    auth.login("manager")
    assert client.get("/entries").status_code == 200
    with Session(app.extensions["checkpoint"].engine) as session:
        set_password(session, session.exec(select(User).where(User.username == "manager")).one(), "a-new-pass-42")
    assert client.get("/entries").status_code == 302  # back to the login page


def test_dates_out_of_range_are_a_clear_400(client, auth):
    auth.login("manager")
    for url in ("/api/entries?from=0001-01-01", "/api/entries?to=9999-12-31", "/api/counts?to=0001-01-05"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "between 2000-01-01 and 2099-12-31" in response.get_json()["error"]
    assert client.get("/reports?to=0001-01-05").status_code in (200, 400)
    assert "between 2000-01-01" in client.get("/entries?from=0001-01-01").get_data(as_text=True)
