"""Door and turnstile relays: LCUS USB serial boards, Modbus RTU modules, HTTP relays, Linux GPIO.

``open_relay(config, open_s)`` builds the driver for ``config.driver`` (the
``[door.relay]`` section). A serial relay whose ``url`` is ``virtual`` starts
the built-in :class:`~drivers.door.virtual.VirtualRelay` on a pseudo-terminal
and talks to it through the real driver. The core (``checkpoint.door``) sees
only :class:`~drivers.door.base.Relay` and :class:`RelayFault`.
"""

from __future__ import annotations

from drivers.door.base import Relay, RelayFault

__all__ = ["open_relay", "Relay", "RelayFault", "DRIVERS"]

DRIVERS = ("lcus", "modbus-rtu", "http", "gpio")


def open_relay(config, open_s: float = 3.0) -> Relay:
    """Build (not connect) the relay the configuration names. Raises ValueError for a bad URL template."""
    options = config.model_dump(exclude={"driver"})
    if config.driver in ("lcus", "modbus-rtu"):
        from drivers.door.serial_relay import LcusRelay, ModbusRelay

        cls = LcusRelay if config.driver == "lcus" else ModbusRelay
        if config.url == "virtual":
            from drivers.door.virtual import VirtualRelay

            device = VirtualRelay(config.driver, slave=options.get("slave", 1))
            options["url"] = device.start()
            return cls(**options, on_stop=device.stop)
        return cls(**options)
    if config.driver == "http":
        from drivers.door.http_relay import HttpRelay

        return HttpRelay(**options, open_s=open_s)
    if config.driver == "gpio":
        from drivers.door.gpio import GpioRelay

        return GpioRelay(**options)
    raise ValueError(f"unknown door relay driver {config.driver!r}; known: {', '.join(DRIVERS)}")
