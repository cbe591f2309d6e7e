"""The gate's own speaker: the visitor's spoken prompt played on the box, for a door without a screen for
the visitor (or one whose browser may not play sound).

A thin adapter around a command-line player (``[visitor] speaker_command``, default ``paplay``, PulseAudio
or PipeWire; ``aplay`` does not play the shipped Ogg files, ``ffplay -nodisp -autoexit -loglevel error`` and
``gst-play-1.0 -q`` do): the file's path is added as its last argument. One prompt plays at a time on its own
thread; a decision never waits for it, and a newer prompt replaces one still waiting (the visitor in front
of the gate now is the one to hear). A player that is missing, fails or hangs is a fault of the ``speaker``
component on the health panel, never of the decision.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import threading
from pathlib import Path
from typing import Callable, Optional

log = logging.getLogger(__name__)
PLAY_TIMEOUT_S = 15.0  # the longest prompt is about 5 s


class Speaker:
    def __init__(self, command: str, files: Callable[[str], list[Path]], reporter, clock: Callable[[], float],
                 timeout_s: float = PLAY_TIMEOUT_S) -> None:
        self.argv = shlex.split(command)
        self.files, self.reporter, self.clock, self.timeout_s = files, reporter, clock, timeout_s
        self._next: Optional[str] = None
        self._cond = threading.Condition()
        self._stop = False
        self._thread: Optional[threading.Thread] = None
        self.played: list[Path] = []  # what went to the player, in order (the tests and the log read it)

    def start(self) -> "Speaker":
        if not self.argv:
            raise ValueError("visitor.speaker_command is empty")
        self.reporter.ok(self.clock(), f"player {self.argv[0]}")
        self._thread = threading.Thread(target=self._run, name="speaker", daemon=True)
        self._thread.start()
        return self

    def say(self, key: str) -> None:
        """Play the prompt ``key`` soon; never blocks (a prompt still waiting is replaced)."""
        with self._cond:
            self._next = key
            self._cond.notify()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._next is None and not self._stop:
                    self._cond.wait()
                key, self._next = self._next, None
                if self._stop or key is None:
                    return
            for path in self.files(key):
                self._play(path)

    def _play(self, path: Path) -> None:
        if not path.is_file():
            self.reporter.degraded(self.clock(), f"no recorded prompt {path.name}")
            return
        try:
            done = subprocess.run([*self.argv, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=self.timeout_s, check=False)
        except FileNotFoundError:
            self.reporter.down(self.clock(), f"player {self.argv[0]!r} not found (install it or set "
                                             f"visitor.speaker_command)")
            return
        except subprocess.TimeoutExpired:
            self.reporter.down(self.clock(), f"player {self.argv[0]!r} did not finish in {self.timeout_s:.0f} s")
            return
        self.played.append(path)
        if done.returncode:
            detail = done.stderr.decode(errors="replace").strip().splitlines()
            self.reporter.down(self.clock(), f"player {self.argv[0]!r} exited {done.returncode}"
                                             + (f": {detail[-1][:160]}" if detail else ""))
        else:
            self.reporter.ok(self.clock(), f"player {self.argv[0]}")
