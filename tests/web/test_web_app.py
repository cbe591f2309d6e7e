"""The app factory, secret key, health endpoint, security headers, local assets, commands."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select
from web_helpers import store

from checkpoint import cli
from checkpoint.config import Settings
from checkpoint.models import User
from checkpoint.recorder import gate_status


def test_secret_key_generated_once_with_mode_0600(tmp_path, app_factory, monkeypatch):
    monkeypatch.delenv("CHECKPOINT_WEB_SECRET_KEY", raising=False)
    settings = Settings(data_dir=str(tmp_path / "data"))
    first = app_factory(settings)
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == key_file.read_text().strip()
    assert app_factory(settings).config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_secret_key_from_environment(tmp_path, app_factory, monkeypatch):
    monkeypatch.setenv("CHECKPOINT_WEB_SECRET_KEY", "from-the-environment")
    app = app_factory(Settings(data_dir=str(tmp_path)))
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_healthz_reports_database_and_gate_components_without_login(client, engine):
    now = time.time()
    components = {"scanner": {"name": "scanner", "state": "ok", "message": "", "last_ok_age_s": 0.4, "counters": {}},
                  "camera": {"name": "camera", "state": "down", "message": "no frames", "last_ok_age_s": 12.0,
                             "counters": {"stalls": 3}}}
    store(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", components, 0, 50, None, now))
    response = client.get("/healthz")
    assert response.status_code == 200
    document = response.get_json()
    assert document["database"]["state"] == "ok"
    gate = document["gates"][0]
    assert gate["gate_id"] == "gate-1" and gate["silent"] is False
    assert gate["components"]["camera"] == {"state": "down", "message": "no frames", "counters": {"stalls": 3},
                                            "last_ok_age_s": gate["components"]["camera"]["last_ok_age_s"],
                                            "simulated": False}
    assert gate["simulated"] == []
    assert gate["components"]["camera"]["last_ok_age_s"] >= 12.0
    assert document["status"] == "degraded"


@pytest.mark.slow
def test_a_gate_on_simulated_devices_shows_a_banner_on_every_page(client, engine, auth):
    page = client.get("/visitor").get_data(as_text=True)
    assert "simulated-banner" not in page and "SIMULATED" not in page  # a real gate: no banner
    components = {"scanner": {"state": "ok", "simulated": True}, "camera": {"state": "ok", "simulated": True},
                  "database": {"state": "ok"}}
    store(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", components, 0, 50, None, time.time()))
    assert client.get("/healthz").get_json()["gates"][0]["simulated"] == ["camera", "scanner"]
    visitor = client.get("/visitor").get_data(as_text=True)
    assert 'class="simulated-banner"' in visitor and "SIMULASI" in visitor and "not a real screening" in visitor
    assert "Pintu Utama:" not in visitor and "Sensor suhu" not in visitor  # the visitor is told no device names
    auth.login("manager")
    for path in ("/", "/entries", "/reports"):
        page = client.get(path).get_data(as_text=True)
        assert 'data-simulated="camera,scanner"' in page, path
        assert "Pintu Utama:" in page and "SIMULASI" in page and "SIMULATED" in page, path
    # a gate that stopped reporting is "gate closed", not simulated
    with Session(engine) as session:
        session.merge(gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", components, 0, 50, None, time.time() - 60))
        session.commit()
    assert "simulated-banner" not in client.get("/entries").get_data(as_text=True)


def test_healthz_marks_a_gate_silent_after_ten_seconds(client, engine):
    store(engine, gate_status("gate-2", "Samping", "Asia/Jakarta", {}, 3, 0, None, time.time() - 30))
    gate = client.get("/healthz").get_json()["gates"][0]
    assert gate["silent"] is True and gate["state"] == "down" and gate["backlog"] == 3


def test_security_headers_and_cookie_flags(client, auth):
    response = auth.login("guard")
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    session = cookies["checkpoint_session"]
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Secure" not in session
    device = cookies["checkpoint_device"]  # the sign-in limits' known-browser cookie: sent to /login only
    assert "HttpOnly" in device and "SameSite=Strict" in device and "Path=/login" in device
    page = client.get("/")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_secure_cookies_when_configured(tmp_path, app_factory):
    settings = Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "k", "secure_cookies": True}})
    app = app_factory(settings)
    client = app.test_client()
    client.get("/login")
    cookie = client.get_cookie("checkpoint_session")
    assert cookie is not None and cookie.secure and cookie.http_only and cookie.same_site == "Lax"


@pytest.mark.slow
def test_pages_load_no_external_assets(client, auth):
    auth.login("admin")
    for path in ("/", "/entries", "/reports", "/admin/users", "/login"):
        html = client.get(path).get_data(as_text=True)
        references = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert references and all(not re.match(r"^(https?:)?//", ref) for ref in references), (path, references)
    for asset in ("/static/screen.js", "/static/style.css"):
        with client.get(asset) as response:
            assert response.status_code == 200 and response.data


def test_first_run_hint_on_login_page_and_log(tmp_path, app_factory, caplog):
    with caplog.at_level("WARNING"):
        app = app_factory(Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "k"}}))
    assert any("checkpoint user add" in record.getMessage() for record in caplog.records)
    html = app.test_client().get("/login").get_data(as_text=True)
    assert "checkpoint user add admin --role admin" in html


def test_user_command_adds_user_with_password_from_stdin(tmp_path, monkeypatch, capsys):
    config = tmp_path / "checkpoint.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-good-password\n"))
    assert cli.main(["user", "add", "siti", "--role", "manager", "--language", "id", "--password-stdin",
                     "-c", str(config)]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["user", "add", "budi", "--role", "guard", "--password-stdin", "-c", str(config)]) == 1
    assert cli.main(["user", "list", "-c", str(config)]) == 0
    out = capsys.readouterr()
    assert "siti\tmanager\tid\tactive" in out.out and "at least 8 characters" in out.err
    from checkpoint.db import open_database

    engine = open_database(f"sqlite:///{tmp_path / 'checkpoint.db'}")
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.username == "siti")).one()
            assert user.password_hash.startswith(("scrypt:", "pbkdf2:")) and "a-good-password" not in user.password_hash
    finally:
        engine.dispose()


@pytest.mark.slow
def test_web_command_serves_the_app(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "checkpoint.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[web]\nport = {port}\nsecret_key = "k"\n')
    process = subprocess.Popen([sys.executable, "-m", "checkpoint", "web", "-c", str(config), "--log-level", "warning"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert json.load(response)["database"]["state"] == "ok"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_wsgi_module_reads_checkpoint_config(tmp_path, monkeypatch):
    config = tmp_path / "checkpoint.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[gate]\nname = "Pintu Wsgi"\n[web]\nsecret_key = "k"\n')
    monkeypatch.setenv("CHECKPOINT_CONFIG", str(config))
    import importlib

    import web.wsgi

    module = importlib.reload(web.wsgi)
    try:
        assert module.app.extensions["checkpoint"].settings.gate.name == "Pintu Wsgi"
        assert "Pintu Wsgi" in module.app.test_client().get("/login").get_data(as_text=True)
    finally:
        module.app.extensions["checkpoint"].close()


@pytest.mark.slow
def test_gate_status_in_past_day_is_irrelevant_to_counts(client, auth, engine):
    yesterday = datetime.now(timezone.utc) - timedelta(days=1, hours=1)
    from web_helpers import make_entry

    store(engine, make_entry(yesterday, outcome="denied", reasons="fever", body_c=38.2))
    auth.login("guard")
    html = client.get("/screen/live").get_data(as_text=True)
    assert 'id="count-denied">0<' in html
