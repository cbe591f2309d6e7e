"""What every door relay driver provides.

A driver switches one relay: ``connect()`` opens its transport, ``set(on)``
closes (True: door open) or opens (False: locked) the relay contact and
returns once the device has taken it (or, for boards that never answer,
once the bytes are written), ``disconnect()`` lets the transport go and
``stop()`` also ends a virtual device the driver started. A driver raises
only :class:`RelayFault`; its ``kind`` is the health counter it increments.
The door worker (``checkpoint.door``) owns the thread, the timing and the
reconnects; drivers hold no thread of their own.
"""

from __future__ import annotations

from typing import Callable, Optional


class RelayFault(Exception):
    """The relay did not take a command: ``kind`` (a health counter) and what happened."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Relay:
    key = ""

    def __init__(self, on_stop: Optional[Callable[[], None]] = None) -> None:
        self._on_stop = on_stop

    @property
    def where(self) -> str:
        """The port, URL or line, for messages."""
        raise NotImplementedError

    def connect(self) -> None:
        raise NotImplementedError

    def set(self, on: bool) -> None:
        raise NotImplementedError

    def disconnect(self) -> None:
        pass

    def stop(self) -> None:
        self.disconnect()
        if self._on_stop is not None:
            self._on_stop()
            self._on_stop = None
