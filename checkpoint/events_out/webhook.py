"""Webhooks: each event POSTed as JSON, signed with HMAC-SHA256, in order, retried until taken.

Headers of every request (docs/events.md shows a receiver's check):

- ``X-Checkpoint-Signature: sha256=<hex>``: HMAC-SHA256 of the raw body with
  the shared secret (``webhooks.secret``);
- ``X-Checkpoint-Event``: the kind (entry, override, exit, door, health);
- ``X-Checkpoint-Delivery``: the event's uid (the same on every retry: drop
  repeats by it);
- ``X-Checkpoint-Gate``: the gate id.

A 2xx answer is delivery. No answer, a connection refused, a timeout, a 5xx,
408 or 429 is the receiver being unavailable: the same event is sent again
after a backoff (or the Retry-After asked, up to ``retry_max_s``), forever,
and the events behind it wait in the local log. Any other answer (a 4xx: the
receiver refuses this event) is tried ``max_attempts`` times, then the event
is set aside as a dead letter in ``<data_dir>/webhook-dead-<gate>.jsonl``
(mode 0600; the event, the status and the start of the answer), counted on
the health panel (``dead_letters``), and the next event goes. Redirects are
not followed (a 3xx is a refusal).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import ssl
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from checkpoint import __version__
from checkpoint.events_out.payloads import Event, iso
from checkpoint.events_out.sink import Sink, Unavailable
from checkpoint.health import short_error
from checkpoint.redact import mask_url, scrub

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Checkpoint-Signature"
RETRY_STATUSES = frozenset({408, 425, 429})


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: Optional[str]) -> bool:
    """A receiver's check: the header is the body's signature (compared in constant time)."""
    if not header:
        return False
    return hmac.compare_digest(sign(body, secret), header.strip())


def dead_letter_path(data_dir: Path, gate_id: str) -> Path:
    return Path(data_dir) / f"webhook-dead-{gate_id}.jsonl"


class WebhookSink(Sink):
    name = "webhook"

    def __init__(self, outbox, reporter, config, gate_id: str, dead_letters: Path, **kwargs) -> None:
        super().__init__(outbox, reporter, retry_max_s=config.retry_max_s, **kwargs)
        self.config, self.gate_id = config, gate_id
        self.url = config.url
        parts = urlsplit(config.url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._auth = None
        if parts.username is not None:  # https://user:password@host/...: HTTP basic authentication
            import base64
            from urllib.parse import unquote

            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode("utf-8")
            self._auth = "Basic " + base64.b64encode(pair).decode("ascii")
        self._context: Optional[ssl.SSLContext] = None  # made on first use: a bad ca_file is a health fault
        self.dead_letters_path = Path(dead_letters)
        self.dead_letters = _count_lines(self.dead_letters_path)
        if self.dead_letters:
            reporter.count("dead_letters", self.dead_letters)
        self._attempts: dict[str, int] = {}  # uid -> refusals so far

    def _send(self, events: list[Event]) -> int:
        for index, event in enumerate(events):
            try:
                status, retry_after, answer = self._post(event)
            except (OSError, http.client.HTTPException) as exc:
                raise Unavailable(f"webhook receiver {mask_url(self.url)} unreachable: "
                                  f"{scrub(short_error(exc), self.url, secrets=[self.config.secret])}", index) from None
            if 200 <= status < 300:
                self._attempts.pop(event.uid, None)
                continue
            if status >= 500 or status in RETRY_STATUSES:
                raise Unavailable(f"webhook receiver {mask_url(self.url)} answered HTTP {status}", index,
                                  min(retry_after, self.retry_max_s) if retry_after is not None else None)
            attempts = self._attempts.get(event.uid, 0) + 1
            if attempts < self.config.max_attempts:
                self._attempts[event.uid] = attempts
                raise Unavailable(f"webhook receiver {mask_url(self.url)} refused {event.kind} {event.uid[:8]} with "
                                  f"HTTP {status} (attempt {attempts} of {self.config.max_attempts})", index)
            self._attempts.pop(event.uid, None)
            self._dead_letter(event, status, answer)
        return len(events)

    def _post(self, event: Event) -> tuple[int, Optional[float], str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"checkpoint/{__version__}",
            SIGNATURE_HEADER: sign(event.body, self.config.secret),
            "X-Checkpoint-Event": event.kind,
            "X-Checkpoint-Delivery": event.uid,
            "X-Checkpoint-Gate": self.gate_id,
        }
        if self._auth:
            headers["Authorization"] = self._auth
        timeout = self.config.timeout_s
        connection: http.client.HTTPConnection
        if self._https:
            if self._context is None:
                self._context = ssl.create_default_context(cafile=self.config.ca_file or None)
            connection = http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._context)
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            connection.request("POST", self._path, body=event.body, headers=headers)
            response = connection.getresponse()
            answer = response.read(1024).decode("utf-8", "replace")
            retry_after = _seconds(response.getheader("Retry-After"))
            return response.status, retry_after, answer
        finally:
            connection.close()

    def _dead_letter(self, event: Event, status: int, answer: str) -> None:
        self.dead_letters += 1
        self.reporter.count("dead_letters")
        log.error("webhook: %s %s refused with HTTP %d %d times: set aside in %s (%s)", event.kind, event.uid[:8],
                  status, self.config.max_attempts, self.dead_letters_path, answer[:200])
        line = json.dumps({"at": iso(self.clock()), "status": status, "answer": answer[:500],
                           "event": event.payload}, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            fd = os.open(self.dead_letters_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:  # the row itself is still in the log
            log.error("webhook: dead letter not written to %s: %s", self.dead_letters_path, short_error(exc))

    def _ok_message(self) -> str:
        if self.dead_letters:
            return f"{self.dead_letters} dead letters in {self.dead_letters_path}"
        return ""


def _seconds(value: Optional[str]) -> Optional[float]:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0
