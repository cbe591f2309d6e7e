"""``gpio``: a relay board on a Linux GPIO line, through libgpiod's Python bindings (v2).

``gpiod`` (PyPI, ``pip install 'checkpoint-gate[gpio]'``) is imported only when
this driver connects, so no other gate needs it; where it is missing, or too
old, the door's health says so and what to install. The line is requested as
an output, driven inactive (locked) at once; ``active_low`` inverts it for
boards that close their contact on a low line. When the process ends the
kernel releases the line, and it keeps its last level on most chips: see
docs/hardware.md for what that means for the lock.
"""

from __future__ import annotations

from typing import Any

from drivers.door.base import Relay, RelayFault

CONSUMER = "checkpoint-door"


def load_gpiod() -> Any:
    try:
        import gpiod
        from gpiod.line import Direction, Value  # noqa: F401  (v2 API)
    except ImportError as exc:
        raise RelayFault("missing", "the gpio door relay needs libgpiod's Python bindings v2: "
                                    "pip install 'checkpoint-gate[gpio]' (gpiod>=2.1); "
                                    f"they cannot be imported here ({exc})") from exc
    return gpiod


class GpioRelay(Relay):
    key = "gpio"

    def __init__(self, chip: str = "/dev/gpiochip0", channel: int = 17, active_low: bool = False, **kwargs) -> None:
        super().__init__(kwargs.pop("on_stop", None))
        self.chip, self.line, self.active_low = chip, channel, active_low
        self._request: Any = None  # a gpiod LineRequest while connected (gpiod has no type information here)

    @property
    def where(self) -> str:
        return f"{self.chip} line {self.line}"

    def connect(self) -> None:
        if self._request is not None:
            return
        gpiod = load_gpiod()
        from gpiod.line import Direction, Value

        settings = gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE,
                                      active_low=self.active_low)
        try:
            self._request = gpiod.request_lines(self.chip, consumer=CONSUMER, config={self.line: settings})
        except (OSError, ValueError) as exc:
            raise RelayFault("open_failures", f"cannot request {self.where}: {exc}") from exc

    def set(self, on: bool) -> None:
        self.connect()
        from gpiod.line import Value

        try:
            self._request.set_value(self.line, Value.ACTIVE if on else Value.INACTIVE)
        except (OSError, ValueError) as exc:
            self.disconnect()
            raise RelayFault("disconnects", f"{self.where}: {exc}") from exc

    def disconnect(self) -> None:
        request, self._request = self._request, None
        if request is not None:
            try:
                request.release()
            except (OSError, ValueError):
                pass
