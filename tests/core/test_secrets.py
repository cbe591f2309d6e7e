"""Secrets masked everywhere: `config check`, init-db's errors, the agent's log, health and files.

Each test plants distinctive passwords (database URLs, an RTSP camera login, the session
key) and looks for them, raw, percent-encoded and decoded, in everything the program
printed, logged or wrote. (/admin/settings: tests/web/test_settings_masked.py.)
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from polling import wait_until

from checkpoint.cli import main as cli
from checkpoint.config import Settings, effective_toml
from checkpoint.redact import mask_settings, mask_url, scrub

DB_PASSWORD = "Db-Pw-4471"
CENTRAL_PASSWORD = "Cen@tral/Pw 9"  # '@', '/' and a space: percent-encoded in the URL
CENTRAL_ENCODED = "Cen%40tral%2FPw%209"
CAMERA_PASSWORD = "Cam-Pw-5120"
SECRET_KEY = "session-key-never-shown-8823"
ALL = (DB_PASSWORD, CENTRAL_PASSWORD, CENTRAL_ENCODED, CAMERA_PASSWORD, SECRET_KEY)


def leaked(text: str) -> list[str]:
    return [secret for secret in ALL if secret in text]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("url, masked", [
    ("postgresql+psycopg://gate:s3cret@db.example/checkpoint", "postgresql+psycopg://gate:***@db.example/checkpoint"),
    (f"postgresql+psycopg://gate:{CENTRAL_ENCODED}@db:5433/c?sslmode=require",
     "postgresql+psycopg://gate:***@db:5433/c?sslmode=require"),
    ("postgresql://gate:p@ss@db/c", "postgresql://gate:***@db/c"),  # an unescaped '@': the last one ends the login
    ("postgresql://db/c?user=gate&password=s3cret", "postgresql://db/c?user=gate&password=***"),
    ("host=db user=gate password=s3cret dbname=c", "host=db user=gate password=*** dbname=c"),
    ("rtsp://admin:s3cret@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
    ("postgresql+psycopg://gate@db/c", "postgresql+psycopg://gate@db/c"),  # nothing to hide: unchanged
    ("sqlite:////var/lib/checkpoint/checkpoint.db", "sqlite:////var/lib/checkpoint/checkpoint.db"),
    ("socket://10.0.0.9:4001", "socket://10.0.0.9:4001"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_mask_settings_and_scrub():
    data = {"web": {"secret_key": SECRET_KEY, "port": 5000}, "alerts": {"webhook_secret": "w" * 12, "api_token": ""},
            "database": {"url": f"postgresql://g:{DB_PASSWORD}@h/c"}, "list": [f"rtsp://a:{CAMERA_PASSWORD}@c/s"]}
    masked = mask_settings(data)
    assert masked["web"] == {"secret_key": "********", "port": 5000}
    assert masked["alerts"] == {"webhook_secret": "********", "api_token": ""}  # an empty one stays visibly empty
    assert not leaked(json.dumps(masked)) and data["web"]["secret_key"] == SECRET_KEY  # a copy
    url = f"postgresql+psycopg://gate:{CENTRAL_ENCODED}@db/c"
    message = f"failed for {CENTRAL_PASSWORD!r} ({CENTRAL_ENCODED}) at postgresql://x:{DB_PASSWORD}@h/c"
    assert not leaked(scrub(message, url))


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "gate.toml"
    path.write_text(f"""
data_dir = "{tmp_path}"

[camera]
source = "rtsp://admin:{CAMERA_PASSWORD}@10.0.0.5:554/stream1"

[database]
url = "postgresql+psycopg://gate:{DB_PASSWORD}@127.0.0.1:{closed_port()}/gate"
central_url = "postgresql+psycopg://gate:{CENTRAL_ENCODED}@db.example/checkpoint"
""", encoding="utf-8")
    return path


def test_config_check_masks_every_password(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHECKPOINT_WEB_SECRET_KEY", SECRET_KEY)
    assert cli(["config", "check", str(write_config(tmp_path)), "--simulate"]) == 0  # the virtual scanner
    out, err = capsys.readouterr()
    assert not leaked(out + err)
    assert 'url = "postgresql+psycopg://gate:***@127.0.0.1:' in out
    assert 'central_url = "postgresql+psycopg://gate:***@db.example/checkpoint"' in out
    assert 'source = "rtsp://admin:***@10.0.0.5:554/stream1"' in out
    assert 'secret_key = "********"' in out
    assert "configuration is valid" in err


def test_effective_toml_still_shows_what_is_not_secret(tmp_path):
    settings = Settings.model_validate({"data_dir": str(tmp_path), "gate": {"id": "mpp-east"},
                                        "database": {"url": "sqlite:////var/lib/checkpoint/checkpoint.db"}})
    text = effective_toml(settings)
    assert 'id = "mpp-east"' in text and 'url = "sqlite:////var/lib/checkpoint/checkpoint.db"' in text
    assert 'secret_key = ""' in text  # unset is shown as unset


def test_init_db_errors_mask_the_password(tmp_path, capsys):
    url = f"postgresql+psycopg://owner:{CENTRAL_ENCODED}@127.0.0.1:{closed_port()}/checkpoint"
    assert cli(["init-db", "--database", url]) == 1
    out, err = capsys.readouterr()
    assert "cannot migrate postgresql+psycopg://owner:***@127.0.0.1:" in err
    assert not leaked(out + err)


def run_agent_until_central_down(tmp_path, central_url: str, caplog) -> tuple[str, str]:
    """An agent (no scanner, no camera) whose centre fails; returns its log and its health as JSON."""
    from checkpoint.runtime import AgentRuntime

    caplog.set_level(logging.DEBUG)
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "data"), "gate": {"id": "east", "name": "Pintu Timur"},
        "scanner": {"enabled": False}, "camera": {"enabled": False},
        "database": {"url": f"sqlite:///{tmp_path / 'data' / 'gate.db'}", "central_url": central_url},
    })
    runtime = AgentRuntime(settings, heartbeat_s=0.1).start()
    try:
        wait_until(lambda: runtime.health.get("central").state == "down", 20)
        wait_until(lambda: runtime.health.get("central").counters.get("forward_errors", 0) >= 2, 20)
        health = json.dumps(runtime.health.snapshot(0.0))
    finally:
        runtime.stop()
    return caplog.text, health


def files_text(folder: Path) -> str:
    return "\n".join(path.read_bytes().decode("utf-8", "replace") for path in folder.rglob("*") if path.is_file())


@pytest.mark.slow
def test_the_agents_log_and_health_never_show_the_central_password(tmp_path, caplog):
    url = f"postgresql+psycopg://gate:{CENTRAL_ENCODED}@127.0.0.1:{closed_port()}/checkpoint"
    log_text, health = run_agent_until_central_down(tmp_path, url, caplog)
    assert "central database unreachable" in log_text
    assert not leaked(log_text) and not leaked(health)
    assert not leaked(files_text(tmp_path / "data"))  # the local log's heartbeat row, the journal, status files


@pytest.mark.slow
def test_a_centre_not_migrated_yet_is_reported_without_the_password(tmp_path, pg_url, caplog):
    from sqlalchemy.engine import make_url

    url = make_url(pg_url).set(password=CENTRAL_PASSWORD).render_as_string(hide_password=False)
    log_text, health = run_agent_until_central_down(tmp_path, url, caplog)
    assert "central schema is at revision none" in health and "checkpoint init-db" in health
    assert not leaked(log_text) and not leaked(health)
    assert not leaked(files_text(tmp_path / "data"))
