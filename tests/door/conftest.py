"""Door tests: a virtual relay on a real pseudo-terminal, the real drivers, a health registry."""

from __future__ import annotations

import pytest

from drivers.door.virtual import VirtualRelay


@pytest.fixture
def virtual_relay():
    made: list[VirtualRelay] = []

    def make(protocol: str = "lcus", **kwargs) -> VirtualRelay:
        device = VirtualRelay(protocol, **kwargs)
        device.start()
        made.append(device)
        return device

    yield make
    for device in made:
        device.stop()
