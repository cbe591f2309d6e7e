"""Sessions end for good (issue 13, Medium-6): a cookie copied before sign-out, disable + enable, a new password
or role, and `checkpoint user unlock` all refuse every copy of the account's earlier sessions."""

from __future__ import annotations

import base64

import pytest
from sqlmodel import Session, select
from web_helpers import PASSWORD, csrf_from

from checkpoint import cli
from checkpoint.models import User
from web.users import set_active, set_role

COOKIE = "checkpoint_session"


def copy_of(client, app):
    """A second browser holding a copy of ``client``'s session cookie, as an eavesdropper would."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def account(engine, name: str) -> User:
    with Session(engine) as session:
        return session.exec(select(User).where(User.username == name)).one()


def change(engine, name: str, how) -> None:
    with Session(engine) as session:
        how(session, session.exec(select(User).where(User.username == name)).one())


def test_a_cookie_copied_before_sign_out_is_refused_after_it(client, auth, app):
    auth.login("manager")
    thief = copy_of(client, app)
    assert thief.get("/entries").status_code == 200 and thief.get("/api/entries").status_code == 200
    auth.logout()
    assert thief.get("/entries").status_code == 302  # to the login page
    assert thief.get("/api/entries").status_code == 401
    assert client.get("/entries").status_code == 302


@pytest.mark.slow
def test_sign_out_ends_the_accounts_sessions_in_every_browser(client, auth, app):
    auth.login("manager")
    second = app.test_client()
    token = csrf_from(second.get("/login").get_data(as_text=True))
    signed_in = second.post("/login", data={"username": "manager", "password": PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302
    auth.logout()
    assert second.get("/entries").status_code == 302
    auth.login("manager")  # and signing in again works
    assert client.get("/entries").status_code == 200


@pytest.mark.slow
def test_disable_then_enable_brings_no_old_session_back(client, auth, app, engine):
    auth.login("manager")
    thief = copy_of(client, app)
    change(engine, "manager", lambda s, u: set_active(s, u, False))
    change(engine, "manager", lambda s, u: set_active(s, u, True))
    assert thief.get("/entries").status_code == 302
    assert client.get("/entries").status_code == 302
    assert auth.login("manager").status_code == 302  # the account itself works again
    assert client.get("/entries").status_code == 200


@pytest.mark.slow
def test_disable_then_enable_on_the_admin_page(client, auth, app, engine):
    manager = app.test_client()
    token = csrf_from(manager.get("/login").get_data(as_text=True))
    manager.post("/login", data={"username": "manager", "password": PASSWORD, "csrf_token": token})
    assert manager.get("/entries").status_code == 200
    auth.login("admin")
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    user_id = account(engine, "manager").id
    for action in ("disable", "enable"):
        assert client.post(f"/admin/users/{user_id}", data={"action": action, "csrf_token": token}).status_code == 302
    assert manager.get("/entries").status_code == 302


@pytest.mark.slow
def test_a_role_change_ends_the_session(client, auth, app, engine):
    auth.login("manager")
    thief = copy_of(client, app)
    change(engine, "manager", lambda s, u: set_role(s, u, "guard"))
    assert thief.get("/").status_code == 302
    auth.login("manager")
    assert client.get("/entries").status_code == 403  # signed in again, now as a guard


@pytest.mark.slow
def test_own_password_change_keeps_this_session_and_ends_the_others(client, auth, app, engine):
    auth.login("admin")
    copy = copy_of(client, app)
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    user_id = account(engine, "admin").id
    response = client.post(f"/admin/users/{user_id}", data={"action": "password", "password": "a-fresh-secret-7",
                                                             "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/admin/users").status_code == 200
    assert copy.get("/admin/users").status_code == 302


def test_a_session_from_before_the_upgrade_is_refused(client, auth, app, engine):
    """Cookies of the earlier scheme (a password mark, no generation) must sign in again."""
    user_id = account(engine, "manager").id
    with client.session_transaction() as session:
        session["user_id"] = user_id
        session["password"] = "0123456789abcdef"
    assert client.get("/entries").status_code == 302


def test_unlock_from_the_console_ends_sessions(client, auth, app, engine, tmp_path, capsys):
    auth.login("manager")
    config = tmp_path / "checkpoint.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    assert cli.main(["user", "unlock", "manager", "-c", str(config)]) == 0
    assert "unlock done" in capsys.readouterr().out
    assert client.get("/entries").status_code == 302
    assert cli.main(["user", "unlock", "nobody", "-c", str(config)]) == 1


def test_basic_auth_is_unaffected_by_generations(client, users):
    good = base64.b64encode(f"manager:{PASSWORD}".encode()).decode()
    assert client.get("/api/entries", headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert client.get("/api/entries", headers={"Authorization": f"Basic {good}"}).status_code == 200
