"""`checkpoint scanner`: the virtual scanner, recorded-serial replay, and the protocol list."""

from __future__ import annotations

import sys

NAME = "scanner"
HELP = "serve a virtual thermal scanner or a serial recording on a pseudo-terminal"
DESCRIPTION = """Thermal scanner tools.

  checkpoint scanner simulate --protocol P [--script FILE | --random] [--interval S]
      serve protocol P on a pseudo-terminal and print its (stable) device path;
      visitors come from a script (see drivers/thermal/simulate.py) or at random.
  checkpoint scanner replay FILE [--speed X] [--loop] [--no-wait-open]
      serve a serial recording on a pseudo-terminal at real speed (or X times);
      it starts playing when a reader opens the port, so nothing is lost.
  checkpoint scanner protocols
      list the protocol keys the configuration may name."""


def configure(parser) -> None:
    parser.add_argument("action", choices=["simulate", "replay", "protocols"])
    parser.add_argument("file", nargs="?", help="replay: the recording")
    parser.add_argument("--protocol", default=None, help="simulate: protocol key (default: from --config)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="protocol option (repeatable; values are parsed as JSON when they can be)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--script", metavar="FILE", help="simulate: visitors from this script")
    group.add_argument("--random", action="store_true", help="simulate: random visitors (the default)")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between visitors (default 3)")
    parser.add_argument("--idle", type=float, default=26.0,
                        help="temperature reported with nobody in front (push protocols stream it every 0.5 s)")
    parser.add_argument("--no-idle", action="store_true", help="push protocols: send only visitor readings")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--speed", type=float, default=1.0, help="replay: speed factor")
    parser.add_argument("--loop", action="store_true", help="replay: start again at the end")
    parser.add_argument("--no-wait-open", dest="wait_open", action="store_false",
                        help="replay: play at once instead of waiting for a reader to open the port "
                             "(what is played before it opens is lost)")


def read_for(reader, seconds: float) -> None:
    """Run a scanner reader for ``seconds`` (Ctrl-C ends it early), then stop it: record and calibrate."""
    import threading

    reader.start()
    try:
        threading.Event().wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()


def parse_options(pairs: list[str]) -> dict:
    import json

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"checkpoint: --option needs KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def run(args) -> int:
    import threading

    from drivers.thermal.registry import protocol_keys

    if args.action == "protocols":
        print("\n".join(protocol_keys()))
        return 0
    stop = threading.Event()
    if args.action == "replay":
        from drivers.thermal.replay import ReplayDevice

        if not args.file:
            print("checkpoint: scanner replay needs a recording FILE", file=sys.stderr)
            return 2
        device = ReplayDevice(args.file, speed=args.speed, loop=args.loop, wait_open=args.wait_open)
        print(device.start(), flush=True)
        if args.wait_open:
            print("waiting for a reader to open the port", file=sys.stderr, flush=True)
        try:
            while not device.done.wait(0.5):
                pass
        finally:
            device.stop()
        return 0
    return _simulate(args, stop)


def _simulate(args, stop) -> int:
    from checkpoint.cli import settings_from_args
    from drivers.thermal.base import OptionsError
    from drivers.thermal.simulate import ScriptError, parse_script, run_random, run_steps
    from drivers.thermal.virtual import VirtualScanner

    protocol, options = args.protocol, parse_options(args.option)
    if protocol is None:
        scanner = settings_from_args(args).scanner
        protocol, options = scanner.protocol, {**scanner.options, **options}
    steps = None
    if args.script:
        try:
            with open(args.script, encoding="utf-8") as handle:
                steps = parse_script(handle)
        except (OSError, ScriptError) as exc:
            print(f"checkpoint: {args.script}: {exc}", file=sys.stderr)
            return 2
    try:
        device = VirtualScanner(protocol, options, idle_c=None if args.no_idle else args.idle)
    except (ValueError, OptionsError) as exc:
        print(f"checkpoint: {exc}", file=sys.stderr)
        return 2
    print(device.start(), flush=True)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if steps is not None:
            run_steps(device, steps, args.interval, stop, say)
        else:
            run_random(device, args.interval, stop, args.seed, say)
    except KeyboardInterrupt:
        pass
    finally:
        device.stop()
    return 0
