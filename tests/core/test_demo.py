"""`checkpoint demo` end to end: virtual scanner, simulated visitors, agent, recorder, web, on a free port."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_demo_serves_the_dashboard_and_logs_decisions(tmp_path):
    port = free_port()
    config = tmp_path / "demo.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n[web]\nport = {port}\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPOINT_")}
    process = subprocess.Popen([sys.executable, "-m", "checkpoint", "demo", "-c", str(config), "--interval", "1",
                                "--seed", "7", "--log-level", "warning"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        def health():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return json.loads(response.read())
            except OSError:
                return None

        status = wait_for(health, 60, "/healthz")
        assert status["database"]["state"] == "ok"

        def decisions():
            db = tmp_path / "var" / "checkpoint.db"
            if not db.exists():
                return 0
            with sqlite3.connect(db) as conn:
                return conn.execute("select count(*) from entry").fetchone()[0]

        wait_for(lambda: decisions() >= 3, 60, "three decisions in the log")
        gate = wait_for(lambda: (health() or {}).get("gates"), 10, "the gate's heartbeat")[0]
        assert gate["components"]["scanner"]["state"] in ("ok", "degraded")
        assert gate["components"]["door"]["state"] == "ok"  # the virtual relay answers

        def doors():
            with sqlite3.connect(tmp_path / "var" / "checkpoint.db") as conn:
                return dict(conn.execute("select outcome, group_concat(distinct door) from entry group by outcome"))

        wait_for(lambda: doors().get("allowed"), 60, "an allowed entry")
        assert doors()["allowed"] == "open" and doors().get("denied", "locked") == "locked"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/visitor", timeout=5) as response:
            assert response.status == 200  # the visitor's screen, no login
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200  # kiosk screen without login
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in out
    assert "Demo administrator created" in out
    assert "door OPEN (virtual relay, channel 1)" in out and "door locked" in out
