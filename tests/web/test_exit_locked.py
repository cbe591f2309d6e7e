"""POST /exit while the log is locked: a clear 503 "not recorded, try again", never a 500 and never a success
for an exit that is not stored; a lock that ends within the wait still records it, once (issue 13, Low)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlmodel import Session, select
from web_helpers import csrf_from

from checkpoint.models import Exit


@pytest.fixture
def locked(engine):
    """Hold the SQLite log's write lock from another connection, as another writer would."""
    holder = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release():
        if not released.is_set():
            holder.execute("ROLLBACK")
            released.set()

    yield release
    release()
    holder.close()


def exits(engine) -> list[Exit]:
    with Session(engine) as session:
        return list(session.exec(select(Exit)))


def token(client) -> str:
    return csrf_from(client.get("/").get_data(as_text=True))


@pytest.mark.slow
def test_a_locked_log_answers_503_within_the_wait_and_stores_nothing(app, client, auth, engine, locked):
    app.config["EXIT_WAIT_S"] = 1.0
    auth.login("guard")
    csrf = token(client)
    started = time.monotonic()
    response = client.post("/exit", data={"csrf_token": csrf, "gate": ""}, headers={"Accept-Language": "en"})
    took = time.monotonic() - started
    assert response.status_code == 503
    assert 0.9 <= took < 3.0
    assert response.headers["Retry-After"] == "2"
    assert "Exit NOT recorded" in response.get_data(as_text=True) and "try again" in response.get_data(as_text=True)
    locked()
    assert exits(engine) == []  # nothing claimed, nothing stored
    again = client.post("/exit", data={"csrf_token": csrf, "gate": ""})
    assert again.status_code == 302
    assert len(exits(engine)) == 1


@pytest.mark.slow
def test_json_clients_get_a_json_503(app, client, auth, engine, locked):
    app.config["EXIT_WAIT_S"] = 0.5
    auth.login("guard")
    response = client.post("/exit", data={"csrf_token": token(client), "gate": ""},
                           headers={"Accept": "application/json", "Accept-Language": "en"})
    assert response.status_code == 503 and response.is_json
    body = response.get_json()
    assert body["recorded"] is False and "try again" in body["error"] and body["retry_after_s"] == 2
    locked()
    ok = client.post("/exit", data={"csrf_token": token(client), "gate": ""}, headers={"Accept": "application/json"})
    assert ok.status_code == 201 and ok.get_json()["recorded"] is True
    assert [e.uid for e in exits(engine)] == [ok.get_json()["uid"]]


@pytest.mark.slow
def test_a_lock_released_within_the_wait_records_the_exit_once(app, client, auth, engine, locked):
    app.config["EXIT_WAIT_S"] = 5.0
    auth.login("guard")
    csrf = token(client)
    threading.Timer(0.6, locked).start()
    response = client.post("/exit", data={"csrf_token": csrf, "gate": ""})
    assert response.status_code == 302
    rows = exits(engine)
    assert len(rows) == 1 and rows[0].by_user == "guard"


@pytest.mark.slow
def test_a_locked_exit_table_on_postgresql_answers_503(app_factory, tmp_path, pg_url):
    """The central web app on PostgreSQL: a table lock ends each try within the wait (lock_timeout)."""
    import psycopg
    from sqlalchemy.engine import make_url
    from web_helpers import PASSWORD

    from checkpoint.config import Settings
    from checkpoint.db import open_database
    from web.users import create_user

    open_database(pg_url, migrate_schema=True).dispose()  # as the owner would (checkpoint init-db)
    settings = Settings.model_validate({"data_dir": str(tmp_path), "database": {"url": pg_url},
                                        "web": {"secret_key": "test-secret-key"}})
    app = app_factory(settings, EXIT_WAIT_S=1.0)
    engine = app.extensions["checkpoint"].engine
    with Session(engine) as session:
        create_user(session, "guard", PASSWORD, "guard")
    client = app.test_client()
    client.post("/login", data={"username": "guard", "password": PASSWORD,
                                "csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    plain = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as holder:
        holder.execute("SET idle_in_transaction_session_timeout = '8s'")  # without the fix: no hang, a failure
        holder.execute("LOCK TABLE exit IN EXCLUSIVE MODE")  # readers go on, writers wait
        started = time.monotonic()
        response = client.post("/exit", data={"csrf_token": token(client), "gate": ""},
                               headers={"Accept": "application/json", "Accept-Language": "en"})
        assert response.status_code == 503 and time.monotonic() - started < 3.0
        assert response.get_json()["recorded"] is False
        holder.rollback()
    assert exits(engine) == []
    ok = client.post("/exit", data={"csrf_token": token(client), "gate": ""}, headers={"Accept": "application/json"})
    assert ok.status_code == 201 and len(exits(engine)) == 1
