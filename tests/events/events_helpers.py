"""A gate's writing half for the events tests: the real recorder on a SQLite log and EventsOut on it."""

from __future__ import annotations

from checkpoint.config import Settings
from checkpoint.db import open_database
from checkpoint.events_out import EventsOut
from checkpoint.health import HealthRegistry
from checkpoint.recorder import Recorder
from gate_helpers import make_entry

GATE = "east"


def gate_settings(tmp_path, **sections) -> Settings:
    return Settings.model_validate({"data_dir": str(tmp_path), "gate": {"id": GATE},
                                    "database": {"url": f"sqlite:///{tmp_path / 'gate.db'}"}, **sections})


class Gate:
    """Recorder + EventsOut on one log, wired as the runtime wires them; ``restart()`` is a new process."""

    def __init__(self, settings: Settings, occupancy=None) -> None:
        self.settings = settings
        self.occupancy = occupancy
        self.submitted: list[str] = []
        self.start()

    def start(self) -> "Gate":
        self.engine = open_database(self.settings.database_url)
        self.health = HealthRegistry()
        self.recorder = Recorder(self.engine, self.health.reporter("database")).start()
        self.events = EventsOut(self.settings, self.engine, self.health, occupancy=self.occupancy,
                                poll_s=0.2, retry_initial_s=0.1)
        self.recorder.on_committed(self.events.kick)
        self.health.on_change(self.events.health_changed)
        self.events.start()
        return self

    def entry(self, n: int) -> str:
        row = make_entry(GATE, n)
        self.submitted.append(row.uid)
        self.recorder.submit(row)
        return row.uid

    def stop(self, flush_timeout: float = 2.0) -> bool:
        self.recorder.stop()
        flushed = self.events.stop(flush_timeout)
        self.engine.dispose()
        return flushed

    def restart(self, flush_timeout: float = 2.0) -> "Gate":
        self.stop(flush_timeout)
        return self.start()
