"""PostgreSQL roles for the central database: who may do what (least privilege).

Three kinds of login share one central database:

- the **owner** (``checkpoint_owner`` in the docs) owns the database and
  every table. Only an administrator holds its password, and only to run
  ``checkpoint init-db`` (migrations, then ``--grant-roles``). No gate and no
  web app holds it.
- the **gate** group role (``checkpoint_gate``): every gate's forwarder logs
  in as a member. It may INSERT entries, exits and overrides (``ON CONFLICT
  DO NOTHING`` needs nothing more), INSERT and UPDATE its heartbeat in
  ``gate_status``, and SELECT only the columns the occupancy count reads (no
  temperatures, reasons or face images of other gates). Nothing on
  ``app_user``: a gate box at a public door cannot create a login.
- the **web** group role (``checkpoint_web``): the central web app. It reads
  everything, writes accounts (``app_user``), overrides and exits, and never
  changes or deletes an entry.

``GRANTS`` is the one table of privileges; every table of the schema must be
in it (a test checks), so a new table is given to no one until it is decided
here. ``grant_statements`` turns it into SQL (``checkpoint init-db
--print-grants``), ``grant_roles`` applies it as the owner (``checkpoint
init-db --grant-roles``): it first revokes everything the two roles hold in
the schema, so the result is exactly this table, whatever was granted before.
"""

from __future__ import annotations

import re
from typing import Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

GATE_ROLE = "checkpoint_gate"
WEB_ROLE = "checkpoint_web"
OWNER_ROLE = "checkpoint_owner"  # the name the docs use; init-db runs as whichever role owns the database

# table -> {"gate"|"web": privileges}. Column lists restrict SELECT to what a gate's queries read:
# counts.occupancy / override_delta (local_date, outcome, gate_id, uid; override id, entry_uid, outcome),
# and id, which a one-row INSERT returns (SQLAlchemy adds RETURNING id when it is not an executemany).
GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "alembic_version": {"gate": ("SELECT",), "web": ("SELECT",)},  # the schema check
    "entry": {"gate": ("INSERT", "SELECT (id, uid, gate_id, local_date, outcome)"), "web": ("SELECT",)},
    "exit": {"gate": ("INSERT", "SELECT (id, uid, gate_id, local_date)"), "web": ("SELECT", "INSERT")},
    "override": {"gate": ("INSERT", "SELECT (id, uid, entry_uid, gate_id, outcome)"), "web": ("SELECT", "INSERT")},
    "gate_status": {"gate": ("SELECT", "INSERT", "UPDATE"), "web": ("SELECT",)},  # the heartbeat upsert
    "app_user": {"web": ("SELECT", "INSERT", "UPDATE")},  # accounts: the web app only, never a gate
    "event_cursor": {},  # events out (checkpoint/events_out): a gate's own log only, never the central one
    "daily_count": {"web": ("SELECT",)},  # counts of purged days (checkpoint/retention.py): the reports read them
}
_NAME = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")


class RoleError(RuntimeError):
    """A role is missing or misnamed, or this login may not grant."""


def _quote(name: str) -> str:
    """A role name, validated (lower-case letters, digits, _ : no quoting surprises in pg_hba or psql)."""
    if not _NAME.match(name):
        raise RoleError(f"not a plain PostgreSQL role name: {name!r} (lower-case letters, digits, _)")
    return f'"{name}"'


def _ident(name: str) -> str:
    """Any identifier (a database, schema, table or sequence name), quoted."""
    return '"' + name.replace('"', '""') + '"'


def _sequences(tables: dict[str, Optional[str]], kind: str) -> list[str]:
    """The id sequences a role's INSERTs draw from (tables it inserts into that have one)."""
    return [sequence for table, sequence in tables.items()
            if sequence and any(p.startswith("INSERT") for p in GRANTS.get(table, {}).get(kind, ()))]


def grant_statements(gate_role: str = GATE_ROLE, web_role: str = WEB_ROLE, *, database: str = "checkpoint",
                     schema: str = "public", sequences: Optional[dict[str, Optional[str]]] = None,
                     tables: Optional[set[str]] = None) -> list[str]:
    """The SQL that leaves ``gate_role`` and ``web_role`` with exactly the privileges in ``GRANTS``.

    ``sequences`` maps each table to its id sequence (None: none); by default
    the serial columns' usual names (``<table>_id_seq``). ``tables``: only
    these exist yet (an older schema: the grants are run again after each
    upgrade); None grants on every table in ``GRANTS``."""
    gate, web, db, sch = _quote(gate_role), _quote(web_role), _ident(database), _ident(schema)
    if sequences is None:
        sequences = {table: (None if table in ("alembic_version", "gate_status") else f"{table}_id_seq")
                     for table in GRANTS}
    statements = [
        f"REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {db} TO {gate}, {web}",
        f"REVOKE CREATE ON SCHEMA {sch} FROM PUBLIC",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {sch} FROM {gate}, {web}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {sch} FROM {gate}, {web}",
        f"GRANT USAGE ON SCHEMA {sch} TO {gate}, {web}",
    ]
    for table, kinds in GRANTS.items():
        if tables is not None and table not in tables:
            continue
        for kind, role in (("gate", gate), ("web", web)):
            if kinds.get(kind):
                statements.append(f"GRANT {', '.join(kinds[kind])} ON TABLE {sch}.{_ident(table)} TO {role}")
    for kind, role in (("gate", gate), ("web", web)):
        for sequence in _sequences(sequences, kind):
            statements.append(f"GRANT USAGE ON SEQUENCE {sch}.{_ident(sequence)} TO {role}")
    return statements


def roles_script(gate_role: str = GATE_ROLE, web_role: str = WEB_ROLE, owner_role: str = OWNER_ROLE,
                 database: str = "checkpoint") -> str:
    """A psql script for the server's administrator: the roles, the database, then the grants."""
    gate, web, owner, db = _quote(gate_role), _quote(web_role), _quote(owner_role), _ident(database)
    lines = [
        "-- Checkpoint central database: roles and grants (docs/multi-gate.md).",
        "-- 1. As a PostgreSQL superuser, once per server (psql -U postgres):",
        f"CREATE ROLE {owner} LOGIN;              -- \\password {owner_role}: the administrator's, for init-db only",
        f"CREATE ROLE {gate} NOLOGIN;             -- the group every gate's login belongs to",
        f"CREATE ROLE {web} NOLOGIN;              -- the group of the central web app's login",
        f"CREATE DATABASE {db} OWNER {owner};",
        "-- one login per machine, so one gate can be locked out alone (\\password each):",
        f"CREATE ROLE gate_mpp_east LOGIN IN ROLE {gate};",
        f"CREATE ROLE web_central LOGIN IN ROLE {web};",
        "",
        f"-- 2. As {owner_role}: checkpoint init-db --grant-roles "
        f"--database postgresql+psycopg://{owner_role}@DBHOST/{database}",
        "--    migrates the schema, then runs (again after every upgrade):",
    ]
    lines += [f"{statement};" for statement in grant_statements(gate_role, web_role, database=database)]
    return "\n".join(lines) + "\n"


def _role_exists(connection: Connection, name: str) -> bool:
    return connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": name}).first() is not None


def grant_roles(engine: Engine, gate_role: str = GATE_ROLE, web_role: str = WEB_ROLE) -> list[str]:
    """Apply the grants on ``engine``'s database as its owner, in one transaction; returns the statements.

    A missing group role is created (NOLOGIN) when this login may create
    roles; otherwise ``RoleError`` says what a superuser must run."""
    if engine.dialect.name != "postgresql":
        raise RoleError("roles and grants are for a PostgreSQL database (a SQLite file is protected by its file mode)")
    with engine.begin() as connection:
        database, schema, may_create = connection.execute(text(
            "SELECT current_database(), current_schema(), "
            "(SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user)")).one()
        for role in (gate_role, web_role):
            if not _role_exists(connection, role):
                if not may_create:
                    raise RoleError(f"role {role} does not exist: a superuser creates it with "
                                    f"CREATE ROLE {_quote(role)} NOLOGIN (see `checkpoint init-db --print-grants`)")
                connection.execute(text(f"CREATE ROLE {_quote(role)} NOLOGIN"))
        existing = set(connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                                          {"s": schema}).scalars())
        sequences = {table: _id_sequence(connection, schema, table) for table in GRANTS if table in existing}
        statements = grant_statements(gate_role, web_role, database=database, schema=schema, sequences=sequences,
                                      tables=existing)
        for statement in statements:
            connection.execute(text(statement))
    return statements


def _id_sequence(connection: Connection, schema: str, table: str) -> Optional[str]:
    """The name of the sequence behind ``table.id`` (serial or identity), None when it has none."""
    return connection.execute(text(
        "SELECT s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
        "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
        "WHERE n.nspname = :s AND t.relname = :t AND a.attname = 'id' AND d.deptype IN ('a', 'i')"),
        {"s": schema, "t": table}).scalar()
