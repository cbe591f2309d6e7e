"""Sign-in limits: per client address, and a growing delay per account that an outsider cannot turn into a lock.

Three counts of failed sign-ins (form and HTTP basic auth alike):

- **per address**: more than ``address_failures`` failures from one address
  within ``window_s``, whatever the user names, and that address is refused
  (429, Retry-After: when its oldest failure leaves the window). This is what
  stops one client from trying many names or many passwords.
- **per account**, from every address together: the first ``free_failures``
  cost nothing; after that each attempt must wait ``delay_s``, doubled with
  each further failure, at most ``max_delay_s``, after the last failure. An
  attempt inside the wait is refused before the password is hashed. It is a
  delay, never a lock: the right password is taken as soon as the wait is
  over. The count is forgotten after ``window_s`` without a failure, at a
  successful sign-in, and when the account's session generation changes (a
  new password, or ``checkpoint user unlock NAME`` from the console).
- **per device**: a browser that has signed in to an account before carries a
  signed device cookie for it (web.auth) and skips that account's delay, so an
  outsider's failures never keep the account's own people out (OWASP "device
  cookies"). The device loses that privilege for ``window_s`` after
  ``free_failures`` failures of its own.

A user name that has no account is counted exactly like one that has, so the
answers do not tell which names exist; only real accounts are kept without
bound (there are few), the rest as at most ``max_keys`` entries each.

The state lives in the web process. That is sound for the documented
deployment, one process (``checkpoint web``/``run``, or gunicorn with one
worker, web/gunicorn_config.py): every request sees the same counts. A restart
forgets them, which only ever shortens a wait. Several worker processes would
each count on their own, multiplying every limit by their number.

Why not Flask-Limiter (4.1.1 installs here and runs under ``filterwarnings =
error``): it applies fixed-rate limits to routes, while the part that matters
here is a per-account delay that grows, is skipped by a known device and is
reset by the account's generation, and one failure budget per address must
cover the sign-in form and basic auth on every API route, counting failures
only and answering on the login form in the user's language. The library would
replace only the per-address window below (a few lines) and add five packages;
its memory storage is per process just the same.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass
class _Account:
    generation: int
    failures: int
    last: float


class LoginLimiter:
    def __init__(self, free_failures: int = 5, delay_s: float = 1.0, max_delay_s: float = 300.0,
                 address_failures: int = 20, window_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 10000) -> None:
        self.free_failures = free_failures
        self.delay_s = delay_s
        self.max_delay_s = max_delay_s
        self.address_failures = address_failures
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._addresses: OrderedDict[str, deque[float]] = OrderedDict()
        self._devices: OrderedDict[str, deque[float]] = OrderedDict()
        self._accounts: dict[str, _Account] = {}  # names that have an account
        self._unknown: OrderedDict[str, _Account] = OrderedDict()  # names that have none
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, web) -> "LoginLimiter":
        """From ``[web]`` (checkpoint.config.WebConfig)."""
        return cls(web.login_free_failures, web.login_delay_s, web.login_max_delay_s,
                   web.login_address_failures, web.login_window_s)

    # -- the three counts -------------------------------------------------------------------------------------

    def _window(self, table: OrderedDict, key: str) -> deque[float]:
        times = table.get(key)
        if times is None:
            return deque()
        horizon = self.clock() - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del table[key]
        return times

    def _add(self, table: OrderedDict, key: str) -> None:
        times = self._window(table, key)
        table[key] = times
        table.move_to_end(key)
        times.append(self.clock())
        while len(table) > self.max_keys:  # bound memory under a spray of addresses or names
            table.popitem(last=False)

    def _account(self, name: str, generation: int, known: bool) -> Optional[_Account]:
        table = self._accounts if known else self._unknown
        record = table.get(name)
        if record is None:
            return None
        if record.generation != generation or self.clock() - record.last >= max(self.window_s, self._delay(record)):
            del table[name]  # a new generation starts over; a quiet spell forgets
            return None
        return record

    def _delay(self, record: _Account) -> float:
        extra = record.failures - self.free_failures
        if extra < 0:
            return 0.0
        return min(self.delay_s * 2 ** min(extra, 60), self.max_delay_s)

    # -- questions ----------------------------------------------------------------------------------------------

    def address_wait(self, address: str) -> float:
        """Seconds before ``address`` may try again (0: now)."""
        with self._lock:
            times = self._window(self._addresses, address)
            if len(times) < self.address_failures:
                return 0.0
            return max(times[-self.address_failures] + self.window_s - self.clock(), 0.0)

    def account_wait(self, username: str, generation: int = 0, known: bool = True) -> float:
        """Seconds before the account may be tried again by a client it does not know (0: now)."""
        with self._lock:
            record = self._account(username.lower(), generation, known)
            if record is None:
                return 0.0
            return max(record.last + self._delay(record) - self.clock(), 0.0)

    def device_trusted(self, device: Optional[str]) -> bool:
        """A device that signed in to the account before, and has not failed ``free_failures`` times since."""
        if not device:
            return False
        with self._lock:
            return len(self._window(self._devices, device)) < self.free_failures

    def wait(self, username: str, address: str, generation: int = 0, known: bool = True,
             device: Optional[str] = None) -> float:
        """Seconds this attempt must wait (0: check the password now): the address's, else the account's
        unless the device is trusted."""
        waiting = self.address_wait(address)
        if waiting or self.device_trusted(device):
            return waiting
        return self.account_wait(username, generation, known)

    # -- outcomes -----------------------------------------------------------------------------------------------

    def failed(self, username: str, address: str, generation: int = 0, known: bool = True,
               device: Optional[str] = None) -> None:
        name, now = username.lower(), self.clock()
        with self._lock:
            self._add(self._addresses, address)
            if device:
                self._add(self._devices, device)
            table = self._accounts if known else self._unknown
            record = self._account(name, generation, known)
            if record is None:
                record = table[name] = _Account(generation, 0, now)
            record.failures += 1
            record.last = now
            if not known:
                self._unknown.move_to_end(name)
                while len(self._unknown) > self.max_keys:
                    self._unknown.popitem(last=False)

    def succeeded(self, username: str, device: Optional[str] = None) -> None:
        """The account's count ends (its own person is in); the address keeps its failures."""
        with self._lock:
            self._accounts.pop(username.lower(), None)
            self._unknown.pop(username.lower(), None)
            if device:
                self._devices.pop(device, None)


def retry_after(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
