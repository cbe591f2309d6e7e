"""Drive a VirtualScanner from a script of visitors or at random (``checkpoint scanner simulate``).

Script lines (``#`` starts a comment)::

    36.6            a visitor measured 36.6 °C (object temperature)
    36.6 28.1       ... with ambient 28.1 °C
    nan             a failed read
    wait 2.5        pause 2.5 s
    unplug          pull the cable; ``replug`` puts it back
    raw 5a 5a 00    send raw bytes (hex), e.g. garbage

After each visitor line the simulator waits ``interval`` seconds.
"""

from __future__ import annotations

import math
import random
import threading
from typing import Callable, Iterable, Optional

from drivers.thermal.virtual import VirtualScanner


class ScriptError(ValueError):
    pass


def parse_script(lines: Iterable[str]) -> list[tuple[str, tuple]]:
    steps: list[tuple[str, tuple]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        word, *rest = line.split()
        try:
            if word == "wait" and len(rest) == 1:
                steps.append(("wait", (float(rest[0]),)))
            elif word in ("unplug", "replug") and not rest:
                steps.append((word, ()))
            elif word == "raw":
                steps.append(("raw", (bytes.fromhex(" ".join(rest)),)))
            elif len(rest) <= 1:
                obj = float(word)
                ambient = float(rest[0]) if rest else None
                steps.append(("visitor", (None if math.isnan(obj) else obj, ambient)))
            else:
                raise ValueError("too many fields")
        except ValueError as exc:
            raise ScriptError(f"line {number}: {line!r}: {exc}") from None
    return steps


def random_visitor(rng: random.Random) -> tuple[Optional[float], float]:
    """Mostly normal skin readings, some fevers, some mis-aimed or failed reads."""
    ambient = round(rng.uniform(26.0, 31.0), 1)
    roll = rng.random()
    if roll < 0.80:
        return round(rng.gauss(36.5, 0.35), 1), ambient
    if roll < 0.90:
        return round(rng.uniform(37.3, 39.0), 1), ambient
    if roll < 0.97:
        return round(rng.uniform(30.0, 34.0), 1), ambient
    return None, ambient


def run_steps(scanner: VirtualScanner, steps: list[tuple[str, tuple]], interval: float,
              stop: threading.Event, say: Callable[[str], None] = print) -> None:
    for kind, args in steps:
        if stop.is_set():
            return
        if kind == "wait":
            stop.wait(args[0])
        elif kind == "unplug":
            scanner.unplug()
            say("unplugged")
        elif kind == "replug":
            scanner.replug()
            say(f"replugged at {scanner.path}")
        elif kind == "raw":
            scanner.send_raw(args[0])
        else:
            scanner.send_temperature(*args)
            say(f"visitor {'failed read' if args[0] is None else f'{args[0]:.1f} °C'}")
            stop.wait(interval)


def run_random(scanner: VirtualScanner, interval: float, stop: threading.Event, seed: Optional[int] = None,
               say: Callable[[str], None] = print) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        obj, ambient = random_visitor(rng)
        scanner.send_temperature(obj, ambient)
        say(f"visitor {'failed read' if obj is None else f'{obj:.1f} °C'} (ambient {ambient:.1f} °C)")
        stop.wait(interval)
