"""Password rules (issue 13, Low): 8 to 128 characters, and no blank, repeated, run, common or user-name password;
refused with a message in the user's language on the admin page, in English on the command line."""

from __future__ import annotations

import io
import sys

import pytest
from sqlmodel import Session, select
from web_helpers import csrf_from

from checkpoint import cli
from checkpoint.models import User
from web.passwords import MAX_LENGTH, problem
from web.users import UserError, create_user, set_password

WEAK = {
    "aaaaaaaa": "password.repeated",
    "        ": "password.blank",
    "\t \t \t \t ": "password.blank",
    "abababab": "password.repeated",
    "123123123": "password.repeated",
    "12345678": "password.sequence",
    "abcdefghij": "password.sequence",
    "87654321": "password.sequence",
    "password": "password.common",
    "Password123": "password.common",
    "PASSWORD2024!": "password.common",
    "qwertyuiop": "password.common",
    "bismillah": "password.common",
    "indonesia123": "password.common",
    "iloveyou": "password.common",
    "kartika99": "password.username",
    "KARTIKA99": "password.username",
    "short": "password.too_short",
    "x" * 7: "password.too_short",
    "ab-" * 43: "password.too_long",  # 129 characters
}


@pytest.mark.parametrize("password,key", WEAK.items())
def test_weak_passwords_are_refused_with_their_reason(password, key):
    found = problem(password, "kartika99")
    assert found is not None and found.key == key, (password, found)


@pytest.mark.parametrize("password", ["correct-horse-1", "a long enough password 1", "Gerbang Timur 2026",
                                      "mpp-east-kiosk", "Sélamat pagi 9", "k9#Lm2$pQ" * 14 + "xy"])
def test_reasonable_passwords_are_accepted(password):
    assert len(password) <= MAX_LENGTH
    assert problem(password, "kartika99") is None


def test_the_rules_apply_to_new_accounts_and_new_passwords(engine):
    with Session(engine) as session:
        with pytest.raises(UserError, match="commonest"):
            create_user(session, "dewi", "password1", "guard")
        user = create_user(session, "dewi", "a fine passphrase", "guard")
        with pytest.raises(UserError, match="at most 128"):
            set_password(session, user, "y" * 100 + "z" * 29)
        with pytest.raises(UserError, match="user name"):
            set_password(session, user, "dewi2026")


def _admin_page_error(client, password, language):
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    response = client.post("/admin/users", data={"username": "rudi", "password": password, "role": "guard",
                                                  "csrf_token": token}, headers={"Accept-Language": language})
    assert response.status_code == 400
    return response.get_data(as_text=True)


def test_the_admin_page_says_why_in_both_languages(client, auth, engine):
    auth.login("admin")
    assert "paling umum" in _admin_page_error(client, "password", "id")
    assert "one of the commonest" in _admin_page_error(client, "password", "en")
    assert "hanya berisi spasi" in _admin_page_error(client, " " * 10, "id")
    assert "only spaces" in _admin_page_error(client, " " * 10, "en")
    assert "diulang" in _admin_page_error(client, "aaaaaaaa", "id")
    assert "sedikitnya 8 karakter" in _admin_page_error(client, "short", "id")
    assert "at most 128 characters" in _admin_page_error(client, "z" * 200, "en")
    assert "nama pengguna" in _admin_page_error(client, "rudi1234", "id")
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == "rudi")).first() is None
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    user_id = session_user_id(engine, "guard")
    response = client.post(f"/admin/users/{user_id}", data={"action": "password", "password": "12345678",
                                                             "csrf_token": token}, headers={"Accept-Language": "en"})
    assert response.status_code == 400 and "12345678 or abcdefgh" in response.get_data(as_text=True)


def session_user_id(engine, name):
    with Session(engine) as session:
        return session.exec(select(User).where(User.username == name)).one().id


def test_the_command_line_refuses_weak_passwords_in_english(tmp_path, monkeypatch, capsys):
    config = tmp_path / "checkpoint.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    for password, words in (("password", "commonest"), ("        ", "only spaces"), ("aaaaaaaa", "repeated")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
        assert cli.main(["user", "add", "budi", "--role", "guard", "--password-stdin", "-c", str(config)]) == 1
        assert words in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("budi's own gate key\n"))
    assert cli.main(["user", "add", "budi", "--role", "guard", "--password-stdin", "-c", str(config)]) == 0
