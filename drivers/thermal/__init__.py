"""Thermal scanners over serial ports.

``open_scanner(config, clock, reporter, on_reading)`` builds the reader for
``config.protocol`` (a key registered by a module in ``protocols/``) on the
port ``config.url`` (anything ``serial.serial_for_url`` opens; ``virtual``
starts the built-in :class:`~drivers.thermal.virtual.VirtualScanner`). The
core never imports this package's serial code; it receives
``ThermalReading`` dataclasses through ``on_reading``.
"""

from __future__ import annotations

from typing import Callable

from checkpoint.config import ScannerConfig
from checkpoint.health import ComponentReporter
from checkpoint.messages import ThermalReading
from drivers.thermal.base import Fault, OptionsError, Sample, ScannerProtocol
from drivers.thermal.reader import ScannerReader
from drivers.thermal.registry import make_protocol, protocol_keys

__all__ = ["open_scanner", "ScannerReader", "make_protocol", "protocol_keys", "OptionsError",
           "Sample", "Fault", "ScannerProtocol"]


def open_scanner(config: ScannerConfig, clock, reporter: ComponentReporter,
                 on_reading: Callable[[ThermalReading], None]) -> ScannerReader:
    """Build (not start) the reader. Raises ``ValueError``/``OptionsError`` for a bad protocol or options."""
    protocol = make_protocol(config.protocol, config.options)
    if config.url == "virtual":
        from drivers.thermal.virtual import VirtualScanner

        device = VirtualScanner(config.protocol, config.options)
        path = device.start()
        return ScannerReader(config, clock, reporter, on_reading, protocol, url=path, on_stop=device.stop)
    return ScannerReader(config, clock, reporter, on_reading, protocol)
