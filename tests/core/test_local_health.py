"""Health that does not travel through the database it reports on: the agent's own
view (status file beside the journal) reaches /healthz and the screens while the
log is locked or the disk is full."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone

import pytest
from polling import wait_until
from test_db_faults import fill

from checkpoint.config import Settings
from checkpoint.db import make_engine, open_database
from checkpoint.health import StatusFile, read_status_files, status_document
from checkpoint.models import Entry
from checkpoint.runtime import AgentRuntime
from web import close_app, create_app


def make_entry(name: str) -> Entry:
    return Entry(gate_id="gate-1", decided_at=datetime.now(timezone.utc), local_date="2026-11-24", local_hour=9,
                 outcome="allowed", body_c=36.6, sensor_id=name)


def test_the_status_file_is_rewritten_in_place_on_a_full_disk(small_disk):
    path = small_disk / "status-g.json"
    status = StatusFile(path, refresh_s=0)
    document = status_document("g", "Gate", "Asia/Jakarta", {"database": {"state": "ok"}}, 0, 0, "gate",
                               "sqlite:///x", time.time())
    assert status.write(document)
    fill(small_disk)
    full = dict(document, backlog=86, components={"database": {"state": "down", "message": "disk full"}})
    assert status.write(full)
    assert read_status_files(small_disk)[0]["backlog"] == 86


@pytest.mark.slow
def test_health_shows_the_agents_own_view_while_the_log_is_locked(tmp_path):
    settings = Settings.model_validate({
        "data_dir": str(tmp_path), "gate": {"id": "gate-1", "name": "Pintu Utama"},
        "scanner": {"enabled": False}, "camera": {"enabled": False}, "web": {"secret_key": "k"}})
    engine = make_engine(settings.database_url, busy_timeout_s=0.2)
    open_database(settings.database_url).dispose()
    runtime = AgentRuntime(settings, engine=engine, heartbeat_s=0.1).start()
    app = create_app(settings, {"TESTING": True, "SILENT_AFTER_S": 2.0})
    client = app.test_client()
    blocker = sqlite3.connect(tmp_path / "checkpoint.db", timeout=5)  # waits for the agent's own writes
    try:
        assert wait_until(lambda: client.get("/healthz").get_json()["gates"] != [], timeout=5)
        blocker.execute("BEGIN EXCLUSIVE")  # a 30 s lock, say
        for i in range(86):
            runtime.recorder.submit(make_entry(f"waiting-{i}"))
        time.sleep(2.5)  # longer than the silent limit: the heartbeat row is stale by now

        def locked_view():
            document = client.get("/healthz")
            return document.status_code == 503 and document.get_json()["gates"][0]["backlog"] >= 86

        assert wait_until(locked_view, timeout=5)
        document = client.get("/healthz").get_json()
        assert document["database"]["state"] == "down"
        assert "gate gate-1 cannot write to it" in document["database"]["message"]
        assert "database is locked" in document["database"]["message"]
        gate = document["gates"][0]
        assert gate["silent"] is False and gate["components"]["database"]["state"] == "down"
    finally:
        blocker.rollback()
        blocker.close()
    assert runtime.recorder.flush(timeout=10)
    assert wait_until(lambda: client.get("/healthz").status_code == 200, timeout=5)
    assert client.get("/healthz").get_json()["gates"][0]["backlog"] == 0
    runtime.stop()
    close_app(app)
    engine.dispose()
