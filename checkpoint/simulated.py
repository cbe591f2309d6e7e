"""Which devices of a configuration are software stand-ins, and the rule that
a gate runs on them only when asked (``checkpoint run --simulate``).

A configuration's defaults are the demo's: the virtual scanner, the simulated
camera, the virtual relay. A gate that starts on them screens nobody while
its screens look like a working gate's, so ``checkpoint run`` and
``checkpoint agent`` refuse them unless ``--simulate`` is given, and
``config check`` says so first. A gate that runs simulated marks those
components in its health, and every screen shows a SIMULATED banner.
"""

from __future__ import annotations

from checkpoint.config import Settings

SCANNER, CAMERA, DOOR = "scanner", "camera", "door"  # the health components' names


def simulated_devices(settings: Settings) -> dict[str, str]:
    """Component name -> the setting that makes it simulated, for each device in use that is simulated."""
    found = {}
    if settings.scanner.enabled and settings.scanner.url == "virtual":
        found[SCANNER] = '[scanner] url = "virtual"'
    if settings.camera.enabled and settings.camera.source.strip() == "simulated":
        found[CAMERA] = '[camera] source = "simulated"'
    relay = settings.door.relay
    if settings.door.mode != "off" and getattr(relay, "url", None) == "virtual":
        found[DOOR] = '[door.relay] url = "virtual"'
    return found


def refusal(settings: Settings) -> str:
    """Why a gate will not start on this configuration without --simulate ('' when it will)."""
    devices = simulated_devices(settings)
    if not devices:
        return ""
    lines = "\n".join(f"  {name}: {setting}" for name, setting in devices.items())
    return (f"these devices are simulated, not real:\n{lines}\n"
            f"A gate on them screens nobody. Set the real devices (docs/hardware.md), or add --simulate "
            f"to run on them on purpose (every screen then shows a SIMULATED banner).")
