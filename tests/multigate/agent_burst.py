"""A gate agent reduced to its storage path, for the kill test: recorder + forwarder, entries in a loop.

    python agent_burst.py --local sqlite:///gate.db --central postgresql+psycopg://... [--gate g] [--forward-only]

Burst mode submits an entry every ``--interval`` seconds and prints each uid
on its own line once the local log has committed it (flushed at once), so the
parent knows exactly what was committed when it kills the process. With
``--forward-only`` it submits nothing: it delivers the outbox, prints
``delivered`` and exits 0 (1 if the outbox did not empty within --timeout).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from checkpoint.db import open_database
from checkpoint.entries import local_date_hour
from checkpoint.forwarder import Forwarder
from checkpoint.health import HealthRegistry
from checkpoint.models import Entry
from checkpoint.recorder import Recorder

JAKARTA = ZoneInfo("Asia/Jakarta")


def entry(gate: str, n: int) -> Entry:
    t = time.time()
    day, hour = local_date_hour(t, JAKARTA)
    return Entry(gate_id=gate, decided_at=datetime.fromtimestamp(t, tz=timezone.utc), local_date=day,
                 local_hour=hour, outcome="allowed", body_c=36.6, sensor_id=f"burst-{n}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--local", required=True)
    parser.add_argument("--central", required=True)
    parser.add_argument("--gate", default="burst")
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.002)
    parser.add_argument("--forward-only", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    engine = open_database(args.local)
    health = HealthRegistry()
    forwarder = Forwarder(engine, args.central, health.reporter("central"), batch=args.batch, poll_s=0.05).start()
    if args.forward_only:
        delivered = forwarder.flush(args.timeout)
        forwarder.stop()
        engine.dispose()
        print("delivered" if delivered else f"not delivered: {forwarder.pending()} rows wait", flush=True)
        return 0 if delivered else 1

    out = threading.Lock()

    def committed(rows) -> None:
        with out:
            sys.stdout.write("".join(f"{row.uid}\n" for row in rows))
            sys.stdout.flush()
        forwarder.kick()

    recorder = Recorder(engine, health.reporter("database"), batch_size=3).start()
    recorder.on_committed(committed)
    n = 0
    while True:  # until killed
        recorder.submit(entry(args.gate, n))
        n += 1
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
