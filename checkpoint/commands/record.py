"""`checkpoint record`: capture a serial port (and the polls it needs) into a recording file."""

from __future__ import annotations

import sys

NAME = "record"
HELP = "record every byte of a serial port, with its time, into a readable text file"
DESCRIPTION = """Record a serial port for replay and tests.

  checkpoint record --port URL --seconds N [--baudrate B] [--protocol P] OUT

Every byte received ('<') and sent ('>') is written with its time, plus
events ('!' unplugged / replugged). With --protocol the port is driven by that
protocol's driver: polled scanners (modbus-rtu, optris) are polled, and
readings are printed as they arrive. Without it the port is only listened to.
See drivers/thermal/recording.py for the file format."""


def configure(parser) -> None:
    parser.add_argument("out", metavar="OUT", help="recording file to write")
    parser.add_argument("--port", default=None, help="serial URL (default: scanner.url from --config)")
    parser.add_argument("--seconds", type=float, required=True, help="how long to record")
    parser.add_argument("--baudrate", type=int, default=None, help="default: scanner.baudrate from --config")
    parser.add_argument("--protocol", default=None, help="drive the port with this protocol's driver")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="protocol option")


def run(args) -> int:
    from checkpoint.cli import settings_from_args
    from checkpoint.clock import LiveClock
    from checkpoint.commands.scanner import parse_options, read_for
    from checkpoint.health import HealthRegistry
    from drivers.thermal.base import OptionsError
    from drivers.thermal.reader import ScannerReader
    from drivers.thermal.recording import Header, RecordingWriter
    from drivers.thermal.registry import make_protocol

    settings = settings_from_args(args).scanner
    url = args.port or settings.url
    if url == "virtual":
        print("checkpoint: record needs a real port (--port URL)", file=sys.stderr)
        return 2
    options = parse_options(args.option)
    if args.protocol and args.protocol == settings.protocol:
        options = {**settings.options, **options}
    try:
        protocol = make_protocol(args.protocol, options) if args.protocol else None
    except (ValueError, OptionsError) as exc:
        print(f"checkpoint: {exc}", file=sys.stderr)
        return 2
    config = settings.model_copy(update={"url": url, "baudrate": args.baudrate or settings.baudrate,
                                         "protocol": args.protocol or settings.protocol, "options": options})
    clock = LiveClock()
    header = Header(port=url, baudrate=config.baudrate, protocol=args.protocol or "", options=options)
    writer = RecordingWriter(args.out, header, clock.now())
    readings = []

    def show(reading) -> None:
        readings.append(reading)
        print(f"{reading.t - writer._t0:8.3f}  object {reading.object_c:6.2f} °C  body {reading.body_c:6.2f} °C",
              flush=True)

    reader = ScannerReader(config, clock, HealthRegistry().reporter("scanner"), show, protocol, tap=writer.tap)
    try:
        read_for(reader, args.seconds)
    finally:
        writer.close()
    print(f"recorded {writer.events} events, {len(readings)} readings into {args.out}", file=sys.stderr)
    return 0
