"""Transport: open a port by URL (``serial.serial_for_url``), close it, tell a missing device."""

from __future__ import annotations

import os
import sys
from typing import Optional

import serial

READ_TIMEOUT_S = 0.05


def is_device_path(url: str) -> bool:
    """A local device path (``/dev/ttyUSB0``, a pty or its symlink), not a ``scheme://`` URL."""
    return "://" not in url


def device_missing(url: str) -> bool:
    return is_device_path(url) and not os.path.exists(url)


def open_port(url: str, baudrate: int, dtr: Optional[bool] = None) -> serial.SerialBase:
    """Open ``url`` 8N1 with a short read timeout. Raises ``serial.SerialException`` or ``ValueError``."""
    port = serial.serial_for_url(url, baudrate=baudrate, timeout=READ_TIMEOUT_S, write_timeout=1.0,
                                 do_not_open=True)
    if dtr is not None:
        port.dtr = dtr  # applied by open(); ignored by ports without modem lines (pty, loop://)
    try:
        port.open()
    except BaseException:
        close_port(port)
        raise
    return port


def close_port(port: serial.SerialBase) -> None:
    """Close a port, and the log file a ``spy://...?file=`` port opened (pyserial 3.5 leaves it open)."""
    try:
        port.close()
    finally:
        output = getattr(getattr(port, "formatter", None), "output", None)
        if output is not None and output not in (sys.stderr, sys.stdout) and not output.closed:
            output.close()
