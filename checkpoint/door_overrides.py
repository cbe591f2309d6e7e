"""Overrides entered on a screen reach the door: a poller for new override rows of this gate.

A guard overrides on the web app, which writes an ``override`` row to the
log it reads: this gate's own database (one gate, ``checkpoint run``), or
the central one (``database.central_url``). The watcher reads both, every
``poll_s``, in its own thread (a slow central database holds up nothing),
only the columns the gate role may read there (checkpoint/roles.py: id,
entry_uid, gate_id, outcome), starting after the newest row at start, and
hands each new one to ``on_override(entry_uid, outcome)``. Whether it opens
the door is the door worker's call (an entry it decided, recently enough).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional, Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from checkpoint.health import short_error
from checkpoint.models import Override

log = logging.getLogger(__name__)


class OverrideWatcher:
    def __init__(self, engines: list[Engine], gate_id: str, on_override: Callable[[str, str], None],
                 poll_s: float = 0.5) -> None:
        self.engines = engines
        self._gate_id = gate_id
        self._on_override = on_override
        self.poll_s = poll_s
        self._last: list[Optional[int]] = [None] * len(engines)  # None: the starting point is not read yet
        self._failing = [False] * len(engines)
        self._stop = threading.Event()
        self.ready = threading.Event()  # set once the starting point was read (or tried)
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "OverrideWatcher":
        self._thread = threading.Thread(target=self._run, name="door-overrides", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        for index in range(len(self.engines)):
            self._poll(index)  # the starting point: overrides from before this run never open the door
        self.ready.set()
        while not self._stop.wait(self.poll_s):
            for index in range(len(self.engines)):
                self._poll(index)

    def _poll(self, index: int) -> None:
        engine = self.engines[index]
        try:
            with Session(engine) as session:
                last = self._last[index]
                if last is None:
                    self._last[index] = session.exec(select(func.max(Override.id))).one() or 0
                    rows: Sequence[tuple[Optional[int], str, str]] = []
                else:
                    rows = session.exec(select(col(Override.id), col(Override.entry_uid), col(Override.outcome))
                                        .where(col(Override.id) > last, col(Override.gate_id) == self._gate_id)
                                        .order_by(col(Override.id)).limit(100)).all()
        except Exception as exc:  # the door still follows decisions; overrides wait for the log
            if not self._failing[index]:
                log.warning("door: cannot read overrides from %s: %s",
                            engine.url.render_as_string(hide_password=True), short_error(exc))
                self._failing[index] = True
            return
        if self._failing[index]:
            log.info("door: overrides are read again from %s", engine.url.render_as_string(hide_password=True))
            self._failing[index] = False
        for override_id, entry_uid, outcome in rows:
            self._last[index] = override_id
            try:
                self._on_override(entry_uid, outcome)
            except Exception:
                log.exception("door: override handler failed")
