"""Least privilege on the central PostgreSQL: a gate's login forwards, and can never make an administrator.

Each test makes its own group roles and logins (unique names: roles belong to the whole
server, and other test runs share it) and drops them at the end. The test database is
created by the superuser, who stands for the owner: it runs `checkpoint init-db`.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timezone

import pytest
from alembic import command
from gate_helpers import make_entry, make_exit
from polling import wait_until
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlmodel import Session, SQLModel

import checkpoint.models  # noqa: F401  (every table in the metadata)
from checkpoint.cli import main as cli
from checkpoint.db import alembic_config, head_revision, make_engine, open_database, schema_revision
from checkpoint.forwarder import Forwarder
from checkpoint.health import DOWN, OK, HealthRegistry
from checkpoint.models import Entry, Exit, GateStatus, Override
from checkpoint.recorder import gate_status
from checkpoint.roles import GRANTS

PASSWORD = "gate-login-Pw-7391"  # the server trusts local logins; the password is carried as a real one would be


class Roles:
    def __init__(self, pg_url: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.pg_url = pg_url
        self.gate, self.web = f"ckt_gate_{tag}", f"ckt_web_{tag}"  # the group roles init-db grants to
        self.gate_login, self.web_login = f"ckt_gl_{tag}", f"ckt_wl_{tag}"  # one login per machine
        self.admin = make_engine(pg_url)
        with self.admin.begin() as connection:
            for group in (self.gate, self.web):
                connection.execute(text(f'CREATE ROLE "{group}" NOLOGIN'))
            for login, group in ((self.gate_login, self.gate), (self.web_login, self.web)):
                connection.execute(text(f"CREATE ROLE \"{login}\" LOGIN PASSWORD '{PASSWORD}' IN ROLE \"{group}\""))
        self.engines = []

    def url(self, login: str) -> str:
        return make_url(self.pg_url).set(username=login, password=PASSWORD).render_as_string(hide_password=False)

    def engine(self, login: str):
        engine = make_engine(self.url(login))
        self.engines.append(engine)
        return engine

    def init_db(self, *extra: str) -> int:
        """`checkpoint init-db` as the owner, granting this test's roles."""
        return cli(["init-db", "--database", self.pg_url, "--grant-roles", "--gate-role", self.gate,
                    "--web-role", self.web, *extra])

    def drop(self) -> None:
        for engine in self.engines:
            engine.dispose()
        names = (self.gate_login, self.web_login, self.gate, self.web)
        with self.admin.begin() as connection:
            for name in names:
                connection.execute(text(f'DROP OWNED BY "{name}"'))  # the grants in this database and on it
        with self.admin.begin() as connection:
            for name in names:
                connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        self.admin.dispose()


@pytest.fixture
def roles(pg_url):
    roles = Roles(pg_url)
    yield roles
    roles.drop()


def denied(engine, statement: str, params: dict | None = None) -> str:
    """Run ``statement``; it must fail for lack of a privilege. Returns the server's message."""
    with pytest.raises(ProgrammingError) as caught:
        with engine.begin() as connection:
            connection.execute(text(statement), params or {})
    assert caught.value.orig.sqlstate == "42501", caught.value  # insufficient_privilege
    return str(caught.value.orig)


def test_every_table_has_its_privileges_decided():
    """A new table is given to no role until GRANTS says who may touch it."""
    assert set(GRANTS) == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert "gate" not in GRANTS["app_user"]
    assert all(not privilege.startswith(("UPDATE", "DELETE")) for table in ("entry", "exit", "override")
               for privilege in GRANTS[table].get("gate", ()))


def test_a_gate_login_forwards_entries_exits_heartbeats_and_overrides(tmp_path, roles, capsys):
    assert roles.init_db() == 0
    assert "roles granted" in capsys.readouterr().out
    local = open_database(f"sqlite:///{tmp_path / 'gate.db'}")
    rows = [make_entry("east", n) for n in range(12)] + [make_exit("east"), make_exit("east")]
    with Session(local, expire_on_commit=False) as session:
        session.add_all(rows)
        session.commit()
    registry = HealthRegistry()
    forwarder = Forwarder(local, roles.url(roles.gate_login), registry.reporter("central"), poll_s=0.05,
                          batch=5).start()
    central = roles.engine(roles.gate_login)
    try:
        forwarder.publish_status(gate_status("east", "Pintu Timur", "Asia/Jakarta", registry.snapshot(1.0), 0, 0,
                                             None, 1_795_000_000))
        assert forwarder.flush(20), "the gate login did not deliver its outbox"
        forwarder.publish_status(gate_status("east", "Pintu Timur", "Asia/Jakarta", registry.snapshot(2.0), 3, 0,
                                             None, 1_795_000_001))  # the upsert's UPDATE half
        assert forwarder.flush(20)
        assert registry.get("central").state == OK
        with roles.admin.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Entry)).scalar_one() == 12
            assert connection.execute(select(func.count()).select_from(Exit)).scalar_one() == 2
            assert connection.execute(select(GateStatus.backlog)).scalars().all() == [3]

        # a re-send after a crash between "sent" and "marked sent": ON CONFLICT DO NOTHING as the gate
        with local.begin() as connection:
            connection.execute(update(Entry).values(forwarded_at=None))
        forwarder.kick()
        assert forwarder.flush(20)
        with roles.admin.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Entry)).scalar_one() == 12

        # an override, inserted the way rows are forwarded
        allowed = next(row for row in rows if isinstance(row, Entry) and row.outcome == "allowed")
        override = {"uid": uuid.uuid4().hex, "entry_uid": allowed.uid, "gate_id": "east", "by_user": "guard",
                    "at": datetime.now(timezone.utc), "outcome": "denied", "reason": "sent back"}
        with central.begin() as connection:
            for _ in range(2):
                connection.execute(pg_insert(Override.__table__).on_conflict_do_nothing(index_elements=["uid"]),
                                   [override])

        # occupancy (the building's) is read under the gate's column privileges, the override counted
        day = allowed.local_date
        expected_allowed = sum(1 for row in rows if isinstance(row, Entry) and row.outcome == "allowed") - 1
        assert forwarder.occupancy(day) == expected_allowed - 2
    finally:
        forwarder.stop()
        local.dispose()


def test_a_gate_login_cannot_make_an_administrator_or_read_temperatures(roles):
    assert roles.init_db() == 0
    gate = roles.engine(roles.gate_login)
    hash_ = "scrypt:32768:8:1$salt$" + "0" * 64
    assert "app_user" in denied(gate, "INSERT INTO app_user (username, password_hash, role, active, created_at) "
                                      "VALUES ('mallory', :h, 'admin', true, now())", {"h": hash_})
    with roles.admin.begin() as connection:  # an account the web app made
        connection.execute(text("INSERT INTO app_user (username, password_hash, role, active, created_at) "
                                "VALUES ('guard1', :h, 'guard', true, now())"), {"h": hash_})
    denied(gate, "UPDATE app_user SET role = 'admin', password_hash = :h", {"h": hash_})
    denied(gate, "SELECT password_hash FROM app_user")
    denied(gate, "DELETE FROM app_user")
    # nor change the schema, the log or other people's health data
    denied(gate, "CREATE TABLE mine (x int)")
    denied(gate, "UPDATE entry SET outcome = 'allowed'")
    denied(gate, "DELETE FROM entry")
    denied(gate, "DELETE FROM exit")
    denied(gate, "UPDATE override SET outcome = 'allowed'")
    denied(gate, "SELECT body_c, face_image FROM entry")
    with pytest.raises(ProgrammingError) as caught:  # the owner's business only
        with gate.begin() as connection:
            connection.execute(text("ALTER TABLE app_user ADD COLUMN x int"))
    assert caught.value.orig.sqlstate == "42501"  # must be owner
    with roles.admin.connect() as connection:
        assert connection.execute(text("SELECT username, role FROM app_user")).all() == [("guard1", "guard")]


def test_the_web_login_writes_accounts_overrides_and_exits_but_not_entries(tmp_path, roles):
    from web.users import create_user

    assert roles.init_db() == 0
    web = open_database(roles.url(roles.web_login))  # checks the schema; never migrates
    roles.engines.append(web)
    with Session(web) as session:
        user = create_user(session, "manager1", "a long enough password 1", "manager")
        user.role = "admin"
        session.add(user)
        session.commit()
        session.add(make_exit("east"))
        session.commit()
    with roles.admin.begin() as connection:
        connection.execute(pg_insert(Entry.__table__), [make_entry("east", 1).model_dump(exclude={"id"})])
    with Session(web) as session:
        entry = session.scalars(select(Entry)).one()
        session.add(Override(entry_uid=entry.uid, gate_id="east", at=datetime.now(timezone.utc), by_user="manager1",
                             outcome="denied", reason="test"))
        session.commit()
    denied(web, "UPDATE entry SET outcome = 'allowed'")
    denied(web, "DELETE FROM entry")
    denied(web, "CREATE TABLE mine (x int)")
    with roles.admin.connect() as connection:
        assert connection.execute(text("SELECT role FROM app_user WHERE username = 'manager1'")).scalar() == "admin"
        assert connection.execute(select(func.count()).select_from(Override)).scalar_one() == 1


def test_a_forwarder_never_migrates_the_central_database_and_says_who_must(tmp_path, pg_url, roles, caplog):
    """Even with the superuser's login: the gate only checks, reports, and delivers once init-db ran."""
    caplog.set_level(logging.INFO)
    local = open_database(f"sqlite:///{tmp_path / 'gate.db'}")
    with Session(local) as session:
        session.add_all([make_entry("east", n) for n in range(3)])
        session.commit()
    registry = HealthRegistry()
    forwarder = Forwarder(local, pg_url, registry.reporter("central"), poll_s=0.05, retry_max_s=0.3).start()
    admin = roles.admin
    try:
        wait_until(lambda: registry.get("central").state == DOWN, 15)
        message = registry.get("central").message
        expected = r"central schema is at revision none .*run `checkpoint init-db` as the owner"
        assert re.search(expected, message), message
        assert inspect(admin).get_table_names() == []  # nothing created: not even alembic_version
        assert forwarder.pending() == 3
        assert sum("not ready" in r.getMessage() for r in caplog.records) == 1  # logged once, not every retry

        assert roles.init_db() == 0  # the owner's command; the gate finds the schema at its next attempt
        assert forwarder.flush(20)
        assert registry.get("central").state == OK
    finally:
        forwarder.stop()
        local.dispose()


def test_a_gate_login_on_an_older_schema_waits_for_the_owner(tmp_path, pg_url, roles):
    owner = make_engine(pg_url)
    with owner.begin() as connection:  # the centre as an older release left it
        config = alembic_config(pg_url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    owner.dispose()
    from checkpoint.roles import grant_roles

    grant_roles(roles.admin, roles.gate, roles.web)
    local = open_database(f"sqlite:///{tmp_path / 'gate.db'}")
    with Session(local) as session:
        session.add(make_entry("east", 1))
        session.commit()
    registry = HealthRegistry()
    forwarder = Forwarder(local, roles.url(roles.gate_login), registry.reporter("central"), poll_s=0.05,
                          retry_max_s=0.3).start()
    try:
        wait_until(lambda: registry.get("central").state == DOWN, 15)
        message = registry.get("central").message
        assert f"central schema is at revision 0001, this program needs {head_revision()}" in message
        assert "checkpoint init-db" in message and PASSWORD not in message
        with roles.admin.connect() as connection:
            assert schema_revision(connection) == "0001"  # the gate tried nothing
        assert roles.init_db() == 0
        assert forwarder.flush(20), registry.get("central").message  # a batch of one row: INSERT ... RETURNING id
        assert registry.get("central").state == OK
    finally:
        forwarder.stop()
        local.dispose()


def test_the_web_app_and_the_commands_refuse_an_unmigrated_central_database(tmp_path, pg_url, capsys, monkeypatch):
    from checkpoint.config import Settings
    from checkpoint.db import SchemaNotReady
    from web import create_app

    with_password = make_url(pg_url).set(password=PASSWORD).render_as_string(hide_password=False)
    settings = Settings.model_validate({"data_dir": str(tmp_path), "database": {"url": with_password},
                                        "web": {"secret_key": "test-secret-key"}})
    with pytest.raises(SchemaNotReady, match=r"schema is at revision none .*run `checkpoint init-db` as the owner"):
        create_app(settings, {"TESTING": True})
    monkeypatch.setenv("CHECKPOINT_DATABASE_URL", with_password)
    monkeypatch.setenv("CHECKPOINT_DATA_DIR", str(tmp_path))
    assert cli(["user", "list"]) == 1  # an administrator's command on the web app's login: a clear refusal
    err = capsys.readouterr().err
    assert "schema is at revision none" in err and "checkpoint init-db" in err
    assert PASSWORD not in err and ":***@" in err
    admin = make_engine(pg_url)
    try:
        assert inspect(admin).get_table_names() == []
    finally:
        admin.dispose()


def test_the_documented_setup_with_an_owner_that_is_not_a_superuser(tmp_path, pg_url, roles, capsys):
    """The owner migrates and grants; a missing group role is named with what a superuser must run."""
    owner = f"ckt_owner_{uuid.uuid4().hex[:10]}"
    database = make_url(pg_url).database
    with roles.admin.begin() as connection:
        connection.execute(text(f"CREATE ROLE \"{owner}\" LOGIN PASSWORD '{PASSWORD}'"))
        connection.execute(text(f'ALTER DATABASE "{database}" OWNER TO "{owner}"'))
    owner_url = roles.url(owner)
    try:
        missing = f"ckt_missing_{uuid.uuid4().hex[:8]}"
        assert cli(["init-db", "--database", owner_url, "--grant-roles", "--gate-role", missing,
                    "--web-role", roles.web]) == 1
        err = capsys.readouterr().err
        assert f"role {missing} does not exist" in err and "CREATE ROLE" in err and PASSWORD not in err
        assert cli(["init-db", "--database", owner_url, "--grant-roles", "--gate-role", roles.gate,
                    "--web-role", roles.web]) == 0
        with roles.admin.connect() as connection:
            owners = set(connection.execute(text(
                "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars())
        assert owners == {owner}

        local = open_database(f"sqlite:///{tmp_path / 'gate.db'}")
        with Session(local) as session:
            session.add(make_entry("east", 1))
            session.commit()
        registry = HealthRegistry()
        forwarder = Forwarder(local, roles.url(roles.gate_login), registry.reporter("central"), poll_s=0.05).start()
        try:
            assert forwarder.flush(20), registry.get("central").message
        finally:
            forwarder.stop()
            local.dispose()
    finally:
        with roles.admin.begin() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" OWNER TO CURRENT_USER'))
            connection.execute(text(f'REASSIGN OWNED BY "{owner}" TO CURRENT_USER'))
            connection.execute(text(f'DROP OWNED BY "{owner}"'))
            connection.execute(text(f'DROP ROLE "{owner}"'))
