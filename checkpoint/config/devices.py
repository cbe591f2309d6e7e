"""The devices' sections, both unions: ``[scanner]`` keyed by ``protocol`` (each protocol's own options model
from drivers.thermal.registry) and ``[door.relay]`` keyed by ``driver``."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, TypeAdapter, create_model, model_validator

from checkpoint.config.sections import Section

DEFAULT_PROTOCOL = "ascii"


class CalibrationConfig(Section):
    method: Literal["none", "offset", "blackbody"] = Field(
        "offset", description="none: raw readings; offset: add offset_c; blackbody: also add reference_c "
                              "minus the blackbody's measured temperature.")
    offset_c: float = Field(0.0, ge=-10, le=10, description="Added to every raw reading.")
    reference_c: Optional[float] = Field(None, description="Blackbody temperature (°C).")
    reference_region: Optional[tuple[int, int, int, int]] = Field(
        None, description="Array frames: x, y, w, h of the blackbody in sensor pixels."
    )
    reference_tolerance_c: float = Field(
        2.0, gt=0, le=10,
        description="Blackbody method: a blackbody measured further than this from reference_c (moved, covered, "
                    "cooling down) is 'reference lost': no reading is taken with it, and after three such frames "
                    "the scanner is down and the gate closed, instead of screening with a wrong correction.")

    @model_validator(mode="after")
    def _blackbody_needs_reference(self) -> "CalibrationConfig":
        if self.method == "blackbody" and self.reference_c is None:
            raise ValueError("calibration method 'blackbody' needs reference_c")
        return self


PROTOCOL_HELP = "Scanner family key: ascii, mlx90640-text, gy-mcu90640, modbus-rtu or optris."


class ScannerConfig(Section):
    """The settings every scanner protocol shares.

    A configuration's ``[scanner]`` is validated as the variant of its protocol (:func:`scanner_variants`):
    ``protocol`` is the tag and ``options`` that protocol's own options model, so an unknown protocol or a
    bad option is a configuration error, not the agent's after it started. Built directly in code, a plain
    ScannerConfig keeps ``options`` as given (a dict), validated when the protocol is made.
    """

    enabled: bool = Field(True, description="Read a thermal scanner; false decides without temperatures.")
    url: str = Field("virtual", description="Serial URL for serial_for_url(); 'virtual' starts the built-in virtual "
                                            "scanner.")
    protocol: str = Field(DEFAULT_PROTOCOL, description=PROTOCOL_HELP)
    baudrate: int = Field(9600, gt=0, description="Serial speed (8N1).")
    sensor_id: str = Field("scanner", min_length=1, max_length=64, description="Id of the sensor, logged with "
                                                                                "every reading it gives.")
    timeout_s: float = Field(2.0, gt=0, le=60, description="Silence after which the scanner is reported stale "
                                                           "(MLX90614 sketches send every 0.5 s).")
    reconnect_max_s: float = Field(5.0, gt=0, le=300, description="Longest wait between reconnection attempts.")
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig, description="From the sensor's raw "
                                                                                          "value to body temperature.")
    options: dict[str, Any] = Field(default_factory=dict, description="Protocol-specific options.")


@functools.cache
def scanner_variants() -> dict[str, type[ScannerConfig]]:
    """``[scanner]`` per protocol key: ScannerConfig with ``protocol`` fixed to the key and ``options`` that
    protocol's own model (drivers.thermal.registry.options_models). Built on first use, as the drivers
    import this module and not the reverse."""
    from drivers.thermal.registry import options_models

    def variant(key: str, options: type) -> type[ScannerConfig]:
        tag: Any = Literal[key]  # a type made at run time, which no static annotation names
        return create_model(f"ScannerConfig[{key}]", __base__=ScannerConfig, __module__=__name__,
                            protocol=(tag, Field(key, description=PROTOCOL_HELP)),
                            options=(options, Field(default_factory=options,
                                                    description=f"Options of the {key} protocol (docs/hardware.md).")))

    return {key: variant(key, options) for key, options in options_models().items()}


@functools.cache
def _scanner_union() -> TypeAdapter:
    variants = tuple(scanner_variants().values())
    union: Any = Annotated[Union[variants], Field(discriminator="protocol")]  # made at run time, as the variants
    return TypeAdapter(union)


def _default_scanner() -> ScannerConfig:
    return scanner_variants()[DEFAULT_PROTOCOL]()


class LcusRelay(Section):
    """CH340 "LCUS" USB serial relay boards: ``A0 <channel> <state> <sum>``, no reply."""

    driver: Literal["lcus"] = Field("lcus", description="CH340 USB serial relay board (LCUS-1/2/4/8).")
    url: str = Field("virtual", description="Serial URL for serial_for_url() (/dev/ttyUSB0, socket://..., a pty); "
                                            "'virtual' starts the built-in virtual relay.")
    baudrate: int = Field(9600, gt=0, description="The boards listen at 9600 baud, 8N1.")
    channel: int = Field(1, ge=1, le=8, description="Relay number as printed on the board (1 for a one-relay board).")


class ModbusRelay(Section):
    """Modbus RTU relay modules on RS-485: write single coil (0x05), the echo checked."""

    driver: Literal["modbus-rtu"] = Field("modbus-rtu", description="Modbus RTU relay module (RS-485).")
    url: str = Field("virtual", description="Serial URL of the RS-485 adapter; 'virtual' starts the virtual relay.")
    baudrate: int = Field(9600, gt=0, description="The module's baud rate (8N1).")
    slave: int = Field(1, ge=1, le=247, description="The module's Modbus address.")
    channel: int = Field(0, ge=0, le=0xFFFF, description="Coil address of the door's relay (0 is relay 1 on most "
                                                        "modules).")
    reply_timeout_s: float = Field(0.5, gt=0, le=10, description="Wait this long for the echo of a write.")
    retries: int = Field(1, ge=0, le=5, description="Writes repeated after a timeout or a bad reply before it "
                                                    "counts as a fault.")


class HttpRelay(Section):
    """A relay with an HTTP API (Shelly, Tasmota, ESPHome ...): one GET or POST per change."""

    driver: Literal["http"] = Field("http", description="Relay switched by an HTTP request.")
    url: str = Field(
        "http://192.168.33.1/rpc/Switch.Set?id={channel}&on={on}",
        description="URL template; {channel}, {on} (true/false), {state} (1/0) and {open_s} are filled in. "
                    "Shelly Gen2+: http://HOST/rpc/Switch.Set?id={channel}&on={on}")
    method: Literal["GET", "POST"] = Field("GET", description="HTTP method.")
    channel: int = Field(0, ge=0, le=255, description="Filled into {channel} (a Shelly's switch id: 0 is the first).")
    username: str = Field("", description="Login for HTTP basic or digest authentication (empty: none).")
    password: str = Field("", description="Password for that login.", repr=False)
    timeout_s: float = Field(2.0, gt=0, le=30, description="A request not answered in this time is a fault.")


class GpioRelay(Section):
    """A relay (or opto-isolated driver) on a Linux GPIO line, through libgpiod (``pip install gpiod``)."""

    driver: Literal["gpio"] = Field("gpio", description="Linux GPIO line through libgpiod (Raspberry Pi).")
    chip: str = Field("/dev/gpiochip0", description="GPIO chip device (a Raspberry Pi 5's header is gpiochip4 on "
                                                   "older kernels, gpiochip0 on newer).")
    channel: int = Field(17, ge=0, le=1023, description="Line offset on the chip (BCM number on a Raspberry Pi).")
    active_low: bool = Field(False, description="The relay board closes its contact when the line is low.")


RelayConfig = Annotated[Union[LcusRelay, ModbusRelay, HttpRelay, GpioRelay], Field(discriminator="driver")]


class DoorConfig(Section):
    mode: Literal["off", "pulse", "hold"] = Field(
        "off", description="off: the door is not driven; pulse: 'allowed' opens it for open_s, then it locks; "
                           "hold: 'allowed' opens it until a decision that is not 'allowed' or a fault.")
    open_s: float = Field(3.0, gt=0, le=120, description="How long a pulse holds the door open.")
    override_within_s: float = Field(
        600.0, ge=0, le=86400, description="A guard's override to 'allowed' opens the door when the entry was "
                                           "decided at most this long before (0: overrides never open it).")
    check_s: float = Field(5.0, ge=0.05, le=300, description="An idle relay is told 'locked' again this often: "
                                                            "a relay that does not answer shows on the health panel.")
    reconnect_max_s: float = Field(5.0, gt=0, le=300, description="Longest wait between reconnection attempts.")
    relay: RelayConfig = Field(default_factory=LcusRelay, description="The relay driver and its settings "
                                                                      "(driver = lcus, modbus-rtu, http or gpio).")
