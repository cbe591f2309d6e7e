"""Face images: never stored by default; stored with retention when enabled, then purged."""

from datetime import date

from sqlmodel import Session, select

from checkpoint.agent import Agent
from checkpoint.config import load_settings
from checkpoint.db import open_database
from checkpoint.faces import FaceStore
from checkpoint.messages import Box, MaskObservation, ThermalReading
from checkpoint.models import Entry
from checkpoint.recorder import Recorder

T0 = 1_795_000_000.0  # 2026-11-18 in Jakarta
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"


def visit(agent, t):
    for i in range(6):
        agent.handle(MaskObservation(t + i / 10, Box(0, 0, 120, 120), {"mask": 0.9, "no_mask": 0.1}, face_jpeg=JPEG))
    return agent.handle(ThermalReading(t + 0.7, 36.5, 36.5))


def run(tmp_path, store: bool):
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path), "privacy": {"store_face_images": store}})
    engine = open_database(settings.database_url)
    recorder = Recorder(engine).start()
    agent = Agent(settings, recorder, face_store=FaceStore(settings.data_path))
    [entry] = visit(agent, T0)
    recorder.stop()
    return settings, engine, entry


def test_no_face_images_unless_configured(tmp_path):
    _, engine, entry = run(tmp_path, store=False)
    assert entry.face_image is None
    assert not (tmp_path / "faces").exists()
    engine.dispose()


def test_images_are_kept_then_purged_after_retention(tmp_path):
    settings, engine, entry = run(tmp_path, store=True)
    path = tmp_path / entry.face_image
    assert path.read_bytes() == JPEG
    assert (path.stat().st_mode & 0o777) == 0o600
    store = FaceStore(settings.data_path)
    day = date.fromisoformat(entry.local_date)
    assert store.purge(engine, retention_days=30, today=day) == 0 and path.exists()
    assert store.purge(engine, retention_days=30, today=date.fromordinal(day.toordinal() + 31)) == 1
    assert not path.exists()
    with Session(engine) as session:
        assert session.exec(select(Entry.face_image)).all() == [None]
    engine.dispose()
