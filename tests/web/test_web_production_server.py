"""The documented production server (gunicorn -c python:web.gunicorn_config): streams never take the pages' threads."""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from web import gunicorn_config
from web.events import Broker

ROOT = Path(__file__).resolve().parents[2]


def fake_worker(kind: str, threads: int, connections: int, broker) -> object:
    worker_type = type(kind, (), {})
    worker = worker_type()
    worker.cfg = SimpleNamespace(threads=threads, worker_connections=connections)
    worker.wsgi = SimpleNamespace(extensions={"checkpoint": SimpleNamespace(broker=broker)})
    worker.log = logging.getLogger("test.gunicorn")
    return worker


def test_the_configuration_gives_every_admitted_stream_a_thread_and_keeps_threads_for_pages():
    assert gunicorn_config.workers == 1 and gunicorn_config.worker_class == "gthread"
    assert gunicorn_config.threads == 500 + gunicorn_config.PAGE_THREADS
    assert gunicorn_config.worker_connections > gunicorn_config.threads
    assert gunicorn_config.stream_room("ThreadWorker", gunicorn_config.threads, 0) == 500


@pytest.mark.parametrize("kind, threads, connections, room", [
    ("ThreadWorker", 16, 1000, 8),  # the old documented --threads 16
    ("ThreadWorker", 1024, 1100, 960),
    ("GeventWorker", 1, 1000, 936),
    ("SyncWorker", 1, 1000, 0),  # one request at a time: no streams at all
])
def test_command_line_options_lower_the_stream_cap_to_what_leaves_room_for_pages(engine, caplog, kind, threads,
                                                                                 connections, room):
    broker = Broker(engine, max_streams=500)
    gunicorn_config.post_worker_init(fake_worker(kind, threads, connections, broker))
    assert broker.max_streams == min(500, room)
    assert ("event streams capped" in caplog.text) == (room < 500)
    broker.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, source: str = "127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    conn.request("GET", path)
    return conn, conn.getresponse()


@pytest.mark.slow
def test_gunicorn_with_16_threads_keeps_answering_under_40_streams(tmp_path):
    pytest.importorskip("gunicorn", reason="the production server needs the prod extra (pip install '.[prod]')")
    port = free_port()
    config = tmp_path / "web.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[web]\nkiosk = true\nsecret_key = "k"\nport = {port}\n')
    env = dict(os.environ, CHECKPOINT_CONFIG=str(config), PYTHONPATH=str(ROOT))
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    server = subprocess.Popen([gunicorn, "-c", "python:web.gunicorn_config", "--threads", "16", "-b",
                               f"127.0.0.1:{port}", "web.wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    streams = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn, response = get(port, "/healthz")
                response.read()
                conn.close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        statuses = []
        for i in range(40):  # 2 per address: under the per-address cap, over what 16 threads can hold
            conn, response = get(port, "/events", f"127.3.0.{i // 2 + 1}")
            statuses.append(response.status)
            if response.status == 200:
                streams.append(conn)
            else:
                assert response.getheader("Retry-After") == "30"
                response.read()
                conn.close()
        assert statuses.count(200) == 8 and statuses.count(503) == 32
        for path in ("/healthz", "/login", "/"):
            started = time.monotonic()
            conn, response = get(port, path)
            response.read()
            conn.close()
            assert response.status == 200 and time.monotonic() - started < 1.0, path
    finally:
        for conn in streams:
            conn.close()
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server.stderr.close()
