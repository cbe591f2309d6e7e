"""``ascii``: line sensors such as an Arduino + MLX90614.

Built-in patterns (option ``pattern``):

* ``adafruit`` — the Adafruit MLX90614 example at 9600 baud:
  ``Ambient = 24.51*C\\tObject = 36.63*C`` (the ``*F`` line, empty lines and
  banner lines carry no reading and are ignored);
* ``colon`` — ``Object:36.60C, Ambient:28.10C`` (115200 baud);
* ``number`` — a bare number per line;
* ``auto`` (default) — any of the three, but a bare number only where it can be
  a temperature line: once a labelled line (``adafruit``, ``colon``) has been
  seen, bare numbers are noise and ignored (a stray ``37`` never becomes a
  reading), and before that a bare number needs a decimal point (``36.60``, as
  ``Serial.println(float)`` prints it; ``3`` or ``37`` are ignored). Set
  ``pattern = "number"`` for a sensor that prints whole degrees;
* anything else is a regular expression with a named group ``object`` and
  optional groups ``ambient`` and ``reference`` (a second sensor watching a
  blackbody), searched in each line.

``nan``, ``inf`` and ``ovf`` in a value are failed reads, not crashes.
"""

from __future__ import annotations

import math
import re
from typing import Literal, Optional

from pydantic import Field, field_validator

from drivers.thermal.base import CommonOptions, Fault, Result, Sample, ScannerProtocol
from drivers.thermal.framing import LineFramer
from drivers.thermal.registry import register

NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)|nan|NaN|NAN|-?inf|-?INF|ovf|OVF"
BUILT_IN = {
    "adafruit": rf"Ambient\s*=\s*(?P<ambient>{NUM})\s*\*C\s+Object\s*=\s*(?P<object>{NUM})\s*\*C",
    "colon": rf"Object\s*:\s*(?P<object>{NUM})\s*C\s*,\s*Ambient\s*:\s*(?P<ambient>{NUM})\s*C",
    "number": rf"^\s*(?P<object>{NUM})\s*$",
}
FAILED = {"nan", "inf", "-inf", "ovf"}
DECIMAL = re.compile(r"\.\d")  # "36.60": a float as firmware prints it; "37" or "3" alone is not


class AsciiOptions(CommonOptions):
    pattern: str = Field("auto", description="auto, adafruit, colon, number, or a regex with group 'object'.")
    unit: Literal["C", "F"] = Field("C", description="Unit of the values matched by a custom pattern or 'number'.")
    max_line: int = Field(512, ge=16, le=65536, description="Longer lines are dropped as garbage.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        if value in BUILT_IN or value == "auto":
            return value
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if "object" not in compiled.groupindex:
            raise ValueError("a custom pattern needs a named group 'object', e.g. (?P<object>[-0-9.]+)")
        return value


def _value(text: Optional[str], unit: str) -> Optional[float]:
    if text is None:
        return None
    if text.lower() in FAILED:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return math.nan
    if not math.isfinite(value):
        return math.nan
    return (value - 32.0) * 5.0 / 9.0 if unit == "F" else value


def format_value(value: Optional[float]) -> str:
    return "nan" if value is None or not math.isfinite(value) else f"{value:.2f}"


def _fahrenheit(celsius: Optional[float]) -> Optional[float]:
    return None if celsius is None or not math.isfinite(celsius) else celsius * 9 / 5 + 32


@register
class AsciiProtocol(ScannerProtocol):
    key = "ascii"
    Options = AsciiOptions
    options: AsciiOptions

    def __init__(self, options: AsciiOptions) -> None:
        super().__init__(options)
        name = options.pattern
        names = list(BUILT_IN) if name == "auto" else [name] if name in BUILT_IN else []
        # labelled formats state Celsius on the line; `unit` applies to bare numbers and custom patterns
        self._patterns = [(re.compile(BUILT_IN[n]), "C" if n in ("adafruit", "colon") else options.unit, n)
                          for n in names] or [(re.compile(name), options.unit, "custom")]
        self._auto = name == "auto"
        self._labelled = False  # auto: a labelled line was seen, so bare numbers are noise from now on

    def framer(self, baudrate: int = 9600) -> LineFramer:
        return LineFramer(self.options.max_line)

    def parse(self, message: bytes) -> Result:
        if any(b < 0x20 and b != 0x09 for b in message) or any(b > 0x7E for b in message):
            return Fault("garbage_lines", f"non-printable bytes in line {message[:40]!r}")
        line = message.decode("ascii")
        found = self._search(line)
        if found is None:
            return None  # banner, *F line, empty line: no reading
        match, unit, kind = found
        groups = match.groupdict()
        if self._auto:
            if kind != "number":
                self._labelled = True
            elif not self._plausible_bare(groups["object"]):
                return None  # noise that happens to be a number: not a temperature line of this stream
        obj = _value(groups.get("object"), unit)
        if obj is None or math.isnan(obj):
            return Fault("failed_reads", f"sensor reported a failed read: {line.strip()[:60]!r}")
        ambient = _value(groups.get("ambient"), unit)
        reference = _value(groups.get("reference"), unit)
        return Sample(
            object_c=obj,
            ambient_c=None if ambient is None or math.isnan(ambient) else ambient,
            reference_c=None if reference is None or math.isnan(reference) else reference,
        )

    def _search(self, line: str) -> Optional[tuple[re.Match[str], str, str]]:
        """The first pattern that matches the line: (match, unit of bare values, pattern name)."""
        for pattern, unit, kind in self._patterns:
            match = pattern.search(line)
            if match:
                return match, unit, kind
        return None

    def _plausible_bare(self, text: str) -> bool:
        """Under ``auto``: a bare number is a reading only in a bare-number stream and with a decimal point."""
        if self._labelled:
            return False
        return text.lower() in FAILED or DECIMAL.search(text) is not None

    # device side -----------------------------------------------------------
    def banner(self) -> bytes:
        if self.options.pattern == "number":
            return b""
        return b"Adafruit MLX90614 test\r\n"

    def encode(self, object_c: Optional[float], ambient_c: Optional[float] = None) -> bytes:
        amb = 25.0 if ambient_c is None else ambient_c
        style = self.options.pattern
        if style == "colon":
            return f"Object:{format_value(object_c)}C, Ambient:{format_value(amb)}C\r\n".encode()
        if style not in ("auto", "adafruit"):
            return f"{format_value(object_c)}\r\n".encode()
        c_line = f"Ambient = {format_value(amb)}*C\tObject = {format_value(object_c)}*C\r\n"
        f_line = f"Ambient = {format_value(_fahrenheit(amb))}*F\tObject = {format_value(_fahrenheit(object_c))}*F\r\n"
        return (c_line + f_line + "\r\n").encode()
