"""bench_web's data set: a year's log of a busy building (2025-11-01 to 2026-10-31), two gates, opening hours
07-16, 8 % denied, 2 % re-measure, 0.2 % of the entries overridden and exits for a tenth of them; built once into a
SQLite file or, by COPY, into a PostgreSQL database ``checkpoint_bench_<rows>``, and reused afterwards."""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert
from sqlmodel import Session, select

from checkpoint.db import open_database
from checkpoint.models import Entry, Exit, Override, new_uid

ZONE = ZoneInfo("Asia/Jakarta")
LAST_DAY = date(2026, 10, 31)
FIRST_DAY = LAST_DAY - timedelta(days=364)
REASONS = [("fever", 0.3), ("no_mask", 0.35), ("mask_incorrect", 0.15), ("fever_retest", 0.1), ("no_face", 0.1)]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
COLUMNS = ("uid", "gate_id", "decided_at", "local_date", "local_hour", "outcome", "flagged", "reasons",
           "primary_reason", "body_c", "object_c", "ambient_c", "calibration", "offset_c", "sensor_id", "readings",
           "mask_class", "mask_confidence", "face_seen", "rules")


def entries(rows: int, start: int = 0):
    """The entries ``start`` to ``rows`` of a year's log, as tuples of COLUMNS (the same for any database)."""
    rng = random.Random(7 + start)
    first = datetime.combine(FIRST_DAY, datetime.min.time(), ZONE)
    span_s = 365 * 86400
    for i in range(start, rows):
        local = first + timedelta(seconds=span_s * i / rows + rng.random())
        local = local.replace(hour=7 + local.hour % 10)  # opening hours 07-16
        roll = rng.random()
        if roll < 0.08:
            outcome = "denied"
            reasons = rng.choices([r for r, _ in REASONS], [w for _, w in REASONS])[0]
            if rng.random() < 0.2:
                reasons += ",no_mask" if reasons.startswith("fever") else ",fever"
        elif roll < 0.1:
            outcome, reasons = "remeasure", "implausible_temperature"
        else:
            outcome, reasons = "allowed", ""
        body = None if outcome == "remeasure" else round(rng.gauss(36.6, 0.45), 1)
        yield (new_uid(), "gate-1" if i % 3 else "gate-2", local.astimezone(timezone.utc), local.date().isoformat(),
               local.hour, outcome, False, reasons, reasons.split(",")[0], body, body, 27.0, "offset", 0.4, "scanner",
               1, "mask" if "mask" not in reasons else "no_mask", 0.9, True, "{}")


def overrides_and_exits(engine, rows: int) -> None:
    """0.2 % of the entries overridden (a tenth of them twice), and exits for a ninth of the allowed entries."""
    rng = random.Random(11)
    with Session(engine) as session:
        connection = session.connection()
        top = connection.execute(select(func.max(Entry.id))).scalar() or 0
        picked = sorted(rng.sample(range(1, top + 1), max(rows // 500, 1)))
        overrides = []
        for start in range(0, len(picked), 5000):
            found = connection.execute(select(Entry.uid, Entry.gate_id, Entry.decided_at, Entry.outcome)
                                       .where(Entry.id.in_(picked[start:start + 5000]))).all()
            for n, (uid, gate, at, outcome) in enumerate(found):
                to = {"allowed": "denied", "denied": "allowed", "remeasure": "allowed"}[outcome]
                overrides.append(dict(uid=new_uid(), entry_uid=uid, gate_id=gate, at=at + timedelta(minutes=2),
                                      by_user="guard", outcome=to, reason="re-checked"))
                if n % 10 == 0:
                    overrides.append(dict(uid=new_uid(), entry_uid=uid, gate_id=gate, at=at + timedelta(minutes=4),
                                          by_user="admin", outcome=outcome, reason="back to the gate's decision"))
        connection.execute(insert(Override.__table__), overrides)
        exits = []
        allowed = connection.execute(select(Entry.gate_id, Entry.decided_at)
                                     .where(Entry.outcome == "allowed", Entry.id % 9 == 0))
        for gate, at in allowed:
            left = at + timedelta(minutes=40)
            exits.append(dict(uid=new_uid(), gate_id=gate, at=left, local_date=left.astimezone(ZONE).date().isoformat(),
                              source="sensor"))
        for start in range(0, len(exits), 50_000):
            connection.execute(insert(Exit.__table__), exits[start:start + 50_000])
        session.commit()


def build_sqlite(url: str, rows: int) -> float:
    engine = open_database(url)
    try:
        with Session(engine) as session:
            have = session.exec(select(func.count()).select_from(Entry)).one()
        if have >= rows:
            return 0.0
        started = time.perf_counter()
        with engine.begin() as connection:
            batch = []
            for values in entries(rows, have):
                batch.append(dict(zip(COLUMNS, values)))
                if len(batch) == 50_000:
                    connection.execute(insert(Entry.__table__), batch)
                    batch = []
            if batch:
                connection.execute(insert(Entry.__table__), batch)
        overrides_and_exits(engine, rows)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def pg_database(admin_url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(admin_url)
    return f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:" \
           f"{params.get('port', '5432')}/{name}"


def build_postgres(admin_url: str, rows: int, deadline_s: float) -> tuple[str, float]:
    """The database checkpoint_bench_<rows>, built by COPY unless it is there with its rows (reused)."""
    import psycopg

    name = f"checkpoint_bench_{rows}"
    url = pg_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        engine = open_database(url, migrate_schema=True)
        with Session(engine) as session:
            have = session.exec(select(func.count()).select_from(Entry)).one()
            overrides = session.exec(select(func.count()).select_from(Override)).one()
        engine.dispose()
        if have >= rows and overrides:
            return url, 0.0
    started = time.perf_counter()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    open_database(url, migrate_schema=True).dispose()
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as connection:
        with connection.cursor().copy(f"COPY entry ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for n, values in enumerate(entries(rows)):
                copy.write_row(values)
                if n % 1_000_000 == 0 and time.perf_counter() - started > deadline_s:
                    raise TimeoutError(f"{n:,} rows after {time.perf_counter() - started:.0f} s")
        connection.commit()
    engine = open_database(url)
    overrides_and_exits(engine, rows)
    engine.dispose()
    with psycopg.connect(raw, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load: statistics, visibility map
    return url, time.perf_counter() - started
