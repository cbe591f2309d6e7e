"""Protocol registry: scanner families by the key the configuration names."""

from __future__ import annotations

import importlib
from typing import Optional

from drivers.thermal.base import ScannerProtocol

_PROTOCOLS: dict[str, type[ScannerProtocol]] = {}
_MODULES = ("ascii", "mlx90640_text", "gy_mcu90640", "modbus_rtu", "optris")


def register(cls: type[ScannerProtocol]) -> type[ScannerProtocol]:
    _PROTOCOLS[cls.key] = cls
    return cls


def _load() -> None:
    for name in _MODULES:
        importlib.import_module(f"drivers.thermal.protocols.{name}")


def protocol_keys() -> list[str]:
    _load()
    return sorted(_PROTOCOLS)


def protocol_class(key: str) -> type[ScannerProtocol]:
    _load()
    try:
        return _PROTOCOLS[key]
    except KeyError:
        raise ValueError(f"unknown scanner protocol {key!r}; known: {', '.join(sorted(_PROTOCOLS))}") from None


def make_protocol(key: str, options: Optional[dict] = None) -> ScannerProtocol:
    """Build the protocol ``key`` with its options validated (OptionsError names bad keys)."""
    return protocol_class(key).from_options(options)
