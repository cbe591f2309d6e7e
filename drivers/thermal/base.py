"""What every scanner family module provides, and the values they pass on.

A family module (``drivers.thermal.protocols.<name>``) keeps three jobs apart:

* a **framer** turns the byte stream into messages (lines, fixed frames),
* a **parser** turns one message into a :class:`Sample` (raw values) or a
  :class:`Fault`, or ``None`` for messages that carry no reading (banners),
* an **encoder** (used by the virtual scanner and fixtures) does the reverse.

Transport (opening ports, reconnecting, polling) lives in ``reader.py``;
calibration and hot-spot selection in ``calibrate.py``. Framers and parsers
never raise on bad input: they return faults that the reader counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError


@dataclass(frozen=True)
class Sample:
    """Raw values of one message, before calibration."""

    object_c: Optional[float] = None  # single-point sensors
    ambient_c: Optional[float] = None
    frame: Any = None  # numpy array (rows x cols, °C) for array sensors
    reference_c: Optional[float] = None  # a second sensor watching the blackbody


@dataclass(frozen=True)
class Fault:
    """Bad data: ``kind`` is the health counter it increments (e.g. ``crc_errors``).

    ``reply`` marks a polled device's answer that came but was damaged (a bad
    CRC, a reply too long): the request was answered, so it is not also a timeout.
    """

    kind: str
    detail: str = ""
    reply: bool = False


Message = Union[bytes, Fault]
Result = Union[Sample, Fault, None]


class CommonOptions(BaseModel):
    """Options every protocol accepts (``[scanner.options]``).

    Each protocol declares its own subclass (``ScannerProtocol.Options``); the configuration validates
    ``[scanner.options]`` against the one of its ``protocol`` (checkpoint.config.scanner_variants), every
    field with a description. ``dict(options)`` and ``{**options}`` give the options set explicitly, by
    their names in the file, so a configuration's options can be laid over a recording's.
    """

    model_config = ConfigDict(extra="forbid")

    def keys(self) -> list[str]:
        return [self.__class__.model_fields[name].alias or name for name in self.model_fields_set]

    def __getitem__(self, key: str) -> Any:
        for name, field in self.__class__.model_fields.items():
            if key in (name, field.alias) and name in self.model_fields_set:
                return getattr(self, name)
        raise KeyError(key)

    min_c: float = Field(-40.0, description="Raw values below this are sensor errors (physical range).")
    max_c: float = Field(380.0, description="Raw values above this are sensor errors (physical range).")
    report_min_c: Optional[float] = Field(
        None, description="Readings whose raw value is below this are treated as 'nobody there' and not reported.")


class Framer:
    """Bytes in, messages (or faults) out. ``t`` is the arrival time of ``data``."""

    def feed(self, data: bytes, t: float = 0.0) -> list[Message]:
        raise NotImplementedError

    def start_transaction(self) -> list[Fault]:
        """A request was just sent (polled protocols): drop what is pending."""
        return []

    def window_end(self) -> Optional[float]:
        """Framers that end a message by silence: when the silence completes the pending message (None: none)."""
        return None

    def close_window(self, t: float) -> list[Message]:
        """No more bytes belong to the pending message (its silence, the reply timeout, the next request)."""
        return []

    def reset(self) -> None:
        """Forget any partial message (after a reconnect)."""


class ScannerProtocol:
    """One scanner family. Subclasses set ``key`` and ``Options`` and build framers."""

    key: ClassVar[str] = ""
    Options: ClassVar[type[CommonOptions]] = CommonOptions
    polled: ClassVar[bool] = False
    is_array: ClassVar[bool] = False

    def __init__(self, options: CommonOptions) -> None:
        self.options = options

    @classmethod
    def from_options(cls, raw: Union[dict, CommonOptions, None]) -> "ScannerProtocol":
        return cls(validate_options(cls, raw))

    # receiving side -------------------------------------------------------
    def framer(self, baudrate: int = 9600) -> Framer:
        raise NotImplementedError

    def parse(self, message: bytes) -> Result:
        raise NotImplementedError

    def startup_bytes(self) -> bytes:
        """Sent once after the port opens (e.g. a command that starts auto-push)."""
        return b""

    def poll_request(self) -> bytes:
        """Polled protocols: the request that asks for one reading."""
        return b""

    def poll_interval_s(self) -> float:
        return float(getattr(self.options, "poll_interval_s", 0.5))

    def reply_timeout_s(self) -> float:
        return float(getattr(self.options, "reply_timeout_s", 0.3))

    def wants_dtr(self) -> Optional[bool]:
        return None

    # device side (virtual scanner, fixtures) -------------------------------
    def encode(self, object_c: Optional[float], ambient_c: Optional[float] = None) -> bytes:
        """Push protocols: the bytes a device sends for one reading (None = failed read)."""
        raise NotImplementedError

    def banner(self) -> bytes:
        return b""

    def answer(self, request: bytes, object_c: Optional[float],
               ambient_c: Optional[float] = None) -> tuple[bytes, bytes]:
        """Polled protocols: (reply, unconsumed bytes) for the request bytes received so far."""
        return b"", b""


class OptionsError(ValueError):
    """Bad ``[scanner.options]``; the message names each key."""


def validate_options(protocol: type[ScannerProtocol], raw: Union[dict, CommonOptions, None]) -> CommonOptions:
    try:
        return protocol.Options.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"]) or "options"
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown key 'scanner.options.{key}' for protocol {protocol.key!r}")
            else:
                problems.append(f"'scanner.options.{key}': {error['msg']}")
        raise OptionsError("; ".join(problems)) from None


def decode(protocol: ScannerProtocol, framer: Framer, data: bytes, t: float = 0.0) -> Iterable[Result]:
    """Frame ``data`` received at ``t`` and parse every complete message.

    The silence before ``t`` comes first: it may end a message framed by time
    (``decode(p, framer, b"", later)`` gives just that).
    """
    end = framer.window_end()
    messages = framer.close_window(end) if end is not None and end <= t else []
    for message in messages + framer.feed(data, t):
        if isinstance(message, Fault):
            yield message
        else:
            yield protocol.parse(message)
