"""`checkpoint calibrate`: measure the scanner's offset against a reference of known temperature."""

from __future__ import annotations

import getpass
import sys
import threading
from datetime import datetime, timezone

NAME = "calibrate"
HELP = "measure [scanner.calibration] offset_c against a reference of known temperature"
DESCRIPTION = """Measure the scanner's offset against a reference.

  checkpoint calibrate --reference C [--seconds 20] [--by NAME] [-c FILE]

Hold the reference in front of the scanner, where a visitor's forehead goes: a
blackbody at its set temperature, or the forehead of someone just measured
with a clinical thermometer (C is that thermometer's reading). The scanner is
read raw (no calibration) for --seconds; the readings' mean and spread give
the offset, which is printed with the lines to set in the configuration and
appended, with the date and who did it, to <data_dir>/calibration.jsonl.
Too few readings, or readings that spread more than --max-spread, are refused
(exit 1): the reference moved, or the sensor is badly placed. Stop the agent
first: the port is one process's. See docs/hardware.md, Calibration."""


def configure(parser) -> None:
    parser.add_argument("--reference", type=float, required=True, metavar="C",
                        help="the reference's true temperature (°C)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to read (default 20)")
    parser.add_argument("--by", default=None, help="who calibrates (default: the login name)")
    parser.add_argument("--min-readings", type=int, default=10, help="fewest readings to accept (default 10)")
    parser.add_argument("--max-spread", type=float, default=0.3,
                        help="largest standard deviation of the readings, °C (default 0.3)")


def run(args) -> int:
    from checkpoint.calibration import CalibrationError, measure_offset, record
    from checkpoint.cli import settings_from_args
    from checkpoint.clock import LiveClock
    from checkpoint.commands.scanner import read_for
    from checkpoint.health import HealthRegistry
    from drivers.thermal import open_scanner

    settings = settings_from_args(args)
    scanner = settings.scanner
    if scanner.url == "virtual":
        print("checkpoint calibrate: [scanner] url is 'virtual': set the real scanner's port", file=sys.stderr)
        return 2
    raw = scanner.model_copy(update={"calibration": scanner.calibration.model_copy(update={"method": "none"})})
    values: list[float] = []
    lock = threading.Lock()

    def on_reading(reading) -> None:
        if reading.object_c is not None:
            with lock:
                values.append(reading.object_c)

    reader = open_scanner(raw, LiveClock(), HealthRegistry().reporter("scanner"), on_reading)
    print(f"reading {scanner.url} ({scanner.protocol}) for {args.seconds:g} s: hold the reference still",
          flush=True)
    read_for(reader, args.seconds)
    with lock:
        taken = list(values)
    try:
        result = measure_offset(taken, args.reference, args.min_readings, args.max_spread)
    except CalibrationError as exc:
        print(f"checkpoint calibrate: refused: {exc}", file=sys.stderr)
        return 1
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path = record(settings.data_path, result, at, args.by or getpass.getuser(), scanner.sensor_id)
    print(f"{result.readings} readings, mean {result.raw_mean_c:.2f} °C, spread {result.spread_c:.2f} °C; "
          f"reference {result.reference_c:.2f} °C")
    print(f"offset {result.offset_c:+.2f} °C (recorded in {path}); set in the configuration, then restart "
          f"the agent:\n\n[scanner.calibration]\nmethod = \"offset\"\noffset_c = {result.offset_c:.2f}")
    return 0
