"""bench_streams' loopback clients: event streams held by one selector thread (10 per source address), one-off
GETs timed, /healthz sampled, and failed sign-ins in a loop (CPU-bound scrypt hashing beside the streams)."""

from __future__ import annotations

import http.client
import re
import selectors
import socket
import threading
import time
from urllib.parse import urlencode

PER_ADDRESS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def source_address(index: int) -> str:
    group = index // PER_ADDRESS
    return f"127.1.{group // 250}.{group % 250 + 1}"


class Streams:
    """N event streams held by one selector thread; records when each entry uid reaches each stream."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.status: dict[int, int] = {}
        self.tails: dict[int, bytes] = {}
        self.arrivals: dict[str, dict[int, float]] = {}
        self.watch: list[str] = []
        self.closed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streams", daemon=True)
        self._socks: list[socket.socket] = []

    def open(self, count: int, timeout_s: float = 60.0) -> float:
        started = time.monotonic()
        self._thread.start()
        for index in range(count):
            sock = socket.socket()
            sock.bind((source_address(index), 0))
            sock.settimeout(10)
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: text/event-stream\r\n\r\n"
                         .encode())
            sock.setblocking(False)
            self._socks.append(sock)
            with self._lock:
                self.selector.register(sock, selectors.EVENT_READ, index)
        deadline = started + timeout_s
        while time.monotonic() < deadline and len(self.status) < count:
            time.sleep(0.05)
        return time.monotonic() - started

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                ready = self.selector.select(timeout=0) if self.selector.get_map() else []
            if not ready:
                time.sleep(0.005)
                continue
            now = time.time()
            for key, _ in ready:
                index = key.data
                try:
                    data = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    with self._lock:
                        self.selector.unregister(key.fileobj)
                    self.closed += 1
                    continue
                if index not in self.status and data.startswith(b"HTTP/1."):
                    self.status[index] = int(data.split(b" ", 2)[1])
                text = self.tails.get(index, b"") + data
                for uid in self.watch:
                    if uid.encode() in text:
                        self.arrivals[uid].setdefault(index, now)
                self.tails[index] = text[-64:]

    def expect(self, uid: str) -> None:
        self.arrivals[uid] = {}
        self.watch.append(uid)

    @property
    def open_ok(self) -> int:
        return sum(1 for code in self.status.values() if code == 200)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self._socks:
            sock.close()
        self.selector.close()


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, float, dict]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started, dict(response.getheaders())
    except OSError:
        return 0, time.perf_counter() - started, {}
    finally:
        conn.close()


class SignIns:
    """Failed sign-ins in a loop (each one a scrypt hash, ~70 ms of CPU), from changing addresses and names."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.attempts = 0
        self.statuses: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sign-ins", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            source = f"127.2.{self.attempts // 250 % 250}.{self.attempts % 250 + 1}"
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(source, 0))
            try:
                conn.request("GET", "/login")
                page = conn.getresponse()
                html = page.read().decode()
                cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
                token = re.search(r'name="csrf_token" value="([^"]+)"', html)
                body = urlencode({"username": f"nobody-{self.attempts}", "password": "wrong-password",
                                  "csrf_token": token.group(1) if token else ""})
                conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded",
                                                      "Cookie": cookie})
                reply = conn.getresponse()
                reply.read()
                self.statuses[reply.status] = self.statuses.get(reply.status, 0) + 1
            except OSError:
                self.statuses[0] = self.statuses.get(0, 0) + 1
            finally:
                conn.close()
            self.attempts += 1

    def start(self) -> "SignIns":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=15)
        return self.attempts / (time.monotonic() - self._started)


def sample_healthz(port: int, samples: int) -> list[float]:
    latencies = []
    for _ in range(samples):
        status, seconds, _ = get(port, "/healthz")
        if status != 200:
            break
        latencies.append(seconds)
        time.sleep(0.02)
    return latencies
