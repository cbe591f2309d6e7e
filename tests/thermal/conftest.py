"""Shared helpers for the thermal driver tests: real ptys, sockets and recorded files."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from checkpoint.clock import LiveClock
from checkpoint.config import ScannerConfig
from checkpoint.health import HealthRegistry
from drivers.thermal.reader import ScannerReader
from drivers.thermal.registry import make_protocol
from drivers.thermal.virtual import VirtualScanner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "serial"


class Collector:
    """Readings and health changes, with waits on conditions (no sleep-then-assert)."""

    def __init__(self) -> None:
        self.items: list = []
        self.health: list = []
        self._cond = threading.Condition()

    def __call__(self, item) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def on_health(self, change) -> None:
        with self._cond:
            self.health.append((change.state, change.message))
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
        """Wait until predicate() holds; woken by new items, and every 20 ms for outside state (counters)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.02))
            return True

    def readings_where(self, test: Callable) -> list:
        with self._cond:
            return [r for r in self.items if test(r)]


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def registry(collector) -> HealthRegistry:
    reg = HealthRegistry()
    reg.on_change(collector.on_health)
    return reg


@pytest.fixture
def virtual():
    made: list[VirtualScanner] = []

    def make(protocol: str, options=None, **kwargs) -> VirtualScanner:
        device = VirtualScanner(protocol, options, **kwargs)
        device.start()
        made.append(device)
        return device

    yield make
    for device in made:
        device.stop()


@pytest.fixture
def reader_for(registry, collector):
    readers: list[ScannerReader] = []

    def make(url: str, protocol: str, options=None, **config) -> ScannerReader:
        cfg = ScannerConfig(url=url, protocol=protocol, options=options or {}, **config)
        reader = ScannerReader(cfg, LiveClock(), registry.reporter("scanner"), collector,
                               make_protocol(protocol, options))
        readers.append(reader)
        return reader.start()

    yield make
    for reader in readers:
        reader.stop()


class TcpDevice:
    """A one-client TCP server standing in for a serial-over-IP converter (socket://)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.connected = threading.Event()
        self.conn = None
        self.received = bytearray()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        try:
            self.conn, _ = self.server.accept()
        except OSError:
            return
        self.connected.set()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()
        self._thread.join(2)


@pytest.fixture
def tcp_device():
    device = TcpDevice()
    yield device
    device.close()
