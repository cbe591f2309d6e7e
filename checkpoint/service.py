"""Running the product as a process: agent, web app, or both, until a signal."""

from __future__ import annotations

import logging
import secrets
import signal
import threading
from typing import Optional

from sqlmodel import Session

from checkpoint.config import Settings
from checkpoint.db import open_database

log = logging.getLogger(__name__)


class WebServer:
    """The Flask app on werkzeug's threaded server (web.server: no version banner), in a background thread."""

    def __init__(self, settings: Settings, engine=None) -> None:
        from web import create_app
        from web.server import make_web_server

        self.app = create_app(settings)
        self._server = make_web_server(settings.web.host, settings.web.port, self.app)
        self.url = f"http://{settings.web.host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)

    def start(self) -> "WebServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def run_until_signal(settings: Settings, with_agent: bool, with_web: bool,
                     extra_start=None, extra_stop=None, simulated: Optional[dict[str, str]] = None) -> int:
    """``simulated``: the devices that are software stand-ins (None: as the configuration names them)."""
    from checkpoint.runtime import AgentRuntime

    engine = open_database(settings.database_url)
    runtime = AgentRuntime(settings, engine=engine, simulated=simulated).start() if with_agent else None
    web = WebServer(settings).start() if with_web else None
    if web:
        print(f"Checkpoint screen: {web.url}/", flush=True)
    if extra_start:
        extra_start(runtime)
    try:
        _wait_for_signal()
    finally:
        if web:
            web.stop()
        if runtime:
            runtime.stop()
        if extra_stop:
            extra_stop()
        engine.dispose()
    return 0


def ensure_demo_admin(settings: Settings) -> Optional[str]:
    """Create the demo administrator on the first run; returns its one-time password."""
    from web.users import create_user, user_count

    engine = open_database(settings.database_url)
    try:
        with Session(engine) as session:
            if user_count(session):
                return None
            password = secrets.token_urlsafe(12)
            create_user(session, "demo", password, "admin")
            return password
    finally:
        engine.dispose()


def run_demo(settings: Settings, interval_s: float = 6.0, seed: Optional[int] = None) -> int:
    from checkpoint.simulated import CAMERA, DOOR, SCANNER
    from checkpoint.simulator import VisitorSimulator
    from drivers.thermal.virtual import VirtualScanner

    scanner = VirtualScanner(settings.scanner.protocol, settings.scanner.options)
    path = scanner.start()
    settings.scanner.url = path
    password = ensure_demo_admin(settings)
    simulator: list[VisitorSimulator] = []

    def start_simulator(runtime) -> None:
        simulator.append(VisitorSimulator(scanner, runtime.put, runtime.clock, fps=settings.camera.fps,
                                          interval_s=interval_s, seed=seed).start())

    def stop_simulator() -> None:
        for sim in simulator:
            sim.stop()
        scanner.stop()

    print(f"Virtual {settings.scanner.protocol} scanner on {path}", flush=True)
    if password:
        print(f"Demo administrator created: user 'demo', password '{password}' (shown once)", flush=True)
    print(f"Data directory: {settings.data_path.resolve()}", flush=True)
    simulated = {SCANNER: "the demo's virtual scanner", CAMERA: "the demo's simulated visitors"}
    if settings.door.mode != "off":
        simulated[DOOR] = "the demo's virtual relay"
    return run_until_signal(settings, with_agent=True, with_web=True,
                            extra_start=start_simulator, extra_stop=stop_simulator, simulated=simulated)
