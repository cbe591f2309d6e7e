"""Protocol registry: scanner families by the key the configuration names."""

from __future__ import annotations

import importlib
from typing import Union

from drivers.thermal.base import CommonOptions, ScannerProtocol

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


def options_models() -> dict[str, type[CommonOptions]]:
    """Every protocol's own options model, by protocol key (the configuration's scanner union)."""
    _load()
    return {key: _PROTOCOLS[key].Options for key in sorted(_PROTOCOLS)}


def make_protocol(key: str, options: Union[dict, CommonOptions, None] = None) -> ScannerProtocol:
    """Build the protocol ``key`` with its options validated (OptionsError names bad keys).

    ``options`` is a dict of raw options, or the protocol's own options model as the configuration
    validated it (``[scanner.options]``), used as it is.
    """
    cls = protocol_class(key)
    if type(options) is cls.Options:
        return cls(options)
    return cls.from_options(options)
