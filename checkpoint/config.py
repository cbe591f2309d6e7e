"""Configuration: one TOML file, strict, with environment overrides.

Every section is a small pydantic model that forbids unknown keys, so a
misspelt key is an error that names the key (and its line in the file), and
every field has a description. ``[scanner]`` is a union keyed by ``protocol``:
each protocol declares its own options model (``[scanner.options]``), so one
validation covers the protocol and its options, as ``[door.relay]`` does by
``driver``.

Environment variables override the file: ``CHECKPOINT_`` and the key's path
with its dots as underscores, upper case: ``CHECKPOINT_DATABASE_URL``,
``CHECKPOINT_WEB_PORT``, ``CHECKPOINT_RULES_FEVER_THRESHOLD_C``,
``CHECKPOINT_SCANNER_OPTIONS_SLAVE``. A name is read against the schema (keys
contain underscores too); no two keys give the same name (a test checks the
whole schema), and a name under a section that is no key is an error.
"""

from __future__ import annotations

import functools
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (BaseModel, ConfigDict, Field, SerializeAsAny, TypeAdapter, ValidationError, create_model,
                      field_validator, model_validator)

from checkpoint.mask_verdict import DEFAULT_MASK_THRESHOLD, DEFAULT_REFUSE_THRESHOLD

Mode = Literal["deny", "flag", "off"]
ENV_PREFIX = "CHECKPOINT_"
DEFAULT_PROTOCOL = "ascii"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GateConfig(Section):
    id: str = Field("gate-1", description="Stable id of this entrance, unique in a shared log.")
    name: str = Field("Pintu Utama", description="Name shown on the screen.")
    timezone: str = Field("Asia/Jakarta", description="IANA time zone for display and daily grouping.")
    language: Literal["id", "en"] = Field("id", description="Default screen language.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("id")
    @classmethod
    def _id_chars(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
            raise ValueError("gate id must be 1-64 letters, digits, '.', '_' or '-'")
        return value


class CalibrationConfig(Section):
    method: Literal["none", "offset", "blackbody"] = Field(
        "offset", description="none: raw readings; offset: add offset_c; blackbody: also add reference_c "
                              "minus the blackbody's measured temperature.")
    offset_c: float = Field(0.0, ge=-10, le=10, description="Added to every raw reading.")
    reference_c: Optional[float] = Field(None, description="Blackbody temperature (°C).")
    reference_region: Optional[tuple[int, int, int, int]] = Field(
        None, description="Array frames: x, y, w, h of the blackbody in sensor pixels."
    )

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
    url: str = Field("virtual", description="Serial URL for serial_for_url(); 'virtual' starts the built-in virtual scanner.")
    protocol: str = Field(DEFAULT_PROTOCOL, description=PROTOCOL_HELP)
    baudrate: int = Field(9600, gt=0, description="Serial speed (8N1).")
    sensor_id: str = Field("scanner", min_length=1, max_length=64, description="Id of the sensor, logged with "
                                                                                "every reading it gives.")
    timeout_s: float = Field(2.0, gt=0, le=60, description="Silence after which the scanner is reported stale (MLX90614 sketches send every 0.5 s).")
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
        return create_model(f"ScannerConfig[{key}]", __base__=ScannerConfig, __module__=__name__,
                            protocol=(Literal[key], Field(key, description=PROTOCOL_HELP)),  # type: ignore[valid-type]
                            options=(options, Field(default_factory=options,
                                                    description=f"Options of the {key} protocol (docs/hardware.md).")))

    return {key: variant(key, options) for key, options in options_models().items()}


@functools.cache
def _scanner_union() -> TypeAdapter:
    variants = tuple(scanner_variants().values())
    return TypeAdapter(Annotated[Union[variants], Field(discriminator="protocol")])  # type: ignore[valid-type]


def _default_scanner() -> ScannerConfig:
    return scanner_variants()[DEFAULT_PROTOCOL]()


class CameraConfig(Section):
    enabled: bool = Field(True, description="Watch a camera; false decides without the face and mask rules.")
    source: str = Field("simulated", description="Device index ('0'), stream URL, video file, or 'simulated'.")
    width: int = Field(640, gt=0, description="Frame width asked of a camera device (pixels).")
    height: int = Field(480, gt=0, description="Frame height asked of a camera device (pixels).")
    fps: float = Field(10.0, gt=0, le=120, description="Frames analysed per second.")
    stall_s: float = Field(3.0, gt=0, description="No frame for this long means the camera is stalled.")
    roi: Optional[tuple[float, float, float, float]] = Field(
        None, description="Region of interest as fractions x, y, w, h of the frame: where the visitor stands at "
        "the scanner. Only this part is searched for faces, at the detector's full input resolution, so a smaller "
        "region finds smaller (farther) faces at the same cost."
    )


class MaskConfig(Section):
    model: str = Field("", description="Mask classifier file; empty uses the model shipped in the package.")
    face_score: float = Field(0.5, gt=0, lt=1, description="Score threshold of the face detector's first pass on "
                              "camera frames (still photos use at most 0.3: a photo is known to show someone).")
    smoothing_frames: int = Field(5, ge=1, le=60, description="Frames of one visitor averaged before deciding.")
    min_face_px: int = Field(40, ge=8, description="Faces whose shorter side is smaller (frame pixels) are never "
                             "the visitor: too far away to judge the mask.")
    detector_side: int = Field(128, ge=64, le=640, multiple_of=16, description="Input side of the face detector's "
                               "first pass (the frame's, or the region of interest's, longer side is scaled to it).")
    reach_side: int = Field(384, ge=0, le=1280, multiple_of=16, description="Input side of the reach pass for small "
                            "faces, run unless the first pass finds a visitor filling a third of the frame; 0 turns "
                            "it off (faster, but faces under about 100 px of a 640x480 frame are missed).")
    reach_score: float = Field(0.4, gt=0, lt=1, description="Face detector score threshold of the reach pass.")
    face_check: float = Field(0.3, gt=0, le=1, description="A detection the mask classifier judges to be no face "
                              "with at least this probability is dropped (signs, ears, hands); 1 keeps every one.")


class FeverRule(Section):
    mode: Mode = Field("deny", description="The temperature rule (a high, missing or implausible reading): deny "
                                           "applies it (deny, or measure again); flag lets the visitor in, "
                                           "flagged; off ignores it.")
    threshold_c: float = Field(37.3, ge=35.0, le=40.0, description="Readings at or above this are high.")
    retest: bool = Field(True, description="A first high reading asks for a re-measure after a rest.")
    rest_s: float = Field(300.0, ge=0, description="Rest before the re-test.")
    retest_window_s: float = Field(1800.0, gt=0, description="How long a first high reading waits for its re-test.")

    @field_validator("threshold_c")
    @classmethod
    def _tenth_steps(cls, value: float) -> float:
        if round(value, 1) != value:
            raise ValueError(f"the threshold is set in steps of 0.1 °C: {value!r} has more precision "
                             f"({math.floor(value * 10) / 10} or {math.ceil(value * 10) / 10})")
        return value


class PlausibleRule(Section):
    min_c: float = Field(34.0, ge=20, le=40, description="Body temperatures below this are a bad measurement: "
                                                         "measure again, never a fever.")
    max_c: float = Field(43.0, ge=38, le=50, description="Body temperatures above this are a bad measurement: "
                                                         "measure again.")


class MaskRule(Section):
    """The mask verdict (checkpoint.mask_verdict) on the visitor's smoothed class probabilities."""

    mode: Mode = Field("deny", description="No mask or a mask worn incorrectly: deny; mask unclear: measure again.")
    mask_threshold: float = Field(
        DEFAULT_MASK_THRESHOLD, ge=0.5, le=1.0,
        description="p(mask) needed to count as masked; below it, and short of the refusal, the mask is unclear.")
    refuse_threshold: float = Field(
        DEFAULT_REFUSE_THRESHOLD, gt=0.0, le=1.0,
        description="p(no_mask) + p(mask_incorrect) needed to refuse; between the two thresholds: measure again.")
    incorrect_is_no_mask: bool = Field(
        True, description="A mask leaving the nose or mouth bare is refused (mask_incorrect); "
                          "false lets the visitor in as masked, flagged mask_incorrect.")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        renamed = {"min_confidence": "refuse_threshold (and mask_threshold)",
                   "below_nose_is_no_mask": "incorrect_is_no_mask"}
        if isinstance(data, dict):
            old = [key for key in renamed if key in data]
            if old:
                raise ValueError("; ".join(f"'{key}' was replaced by {renamed[key]}" for key in old))
        return data


class FaceRule(Section):
    mode: Mode = Field("deny", description="No face seen, or seen only turned away: ask the visitor to face the camera.")
    max_yaw_deg: float = Field(
        45.0, gt=0.0, le=90.0,
        description="A visitor seen only turned further than this (degrees left or right) is asked to face the "
                    "camera instead of having the mask judged; frames without a head pose count as frontal.")


class CapacityRule(Section):
    mode: Mode = Field("off", description="The building or gate full (limit reached): deny refuses the visitor; "
                                          "flag lets them in, flagged; off never checks.")
    limit: int = Field(0, ge=0, description="People allowed inside at once; 0 means no limit.")
    scope: Literal["gate", "building"] = Field(
        "gate", description="gate: count who came in through this gate; building: through every gate that logs "
                            "to the same database, or to the central one (database.central_url).")


class FaultRule(Section):
    mode: Mode = Field("deny", description="Scanner or camera fault during the visit.")


class RulesConfig(Section):
    fever: FeverRule = Field(default_factory=FeverRule, description="High temperatures and their re-test.")
    plausible: PlausibleRule = Field(default_factory=PlausibleRule, description="Body temperatures a person can "
                                                                                "have.")
    mask: MaskRule = Field(default_factory=MaskRule, description="The mask verdict.")
    face: FaceRule = Field(default_factory=FaceRule, description="A face the camera can judge.")
    capacity: CapacityRule = Field(default_factory=CapacityRule, description="People inside at once.")
    fault: FaultRule = Field(default_factory=FaultRule, description="A scanner or camera fault.")


class VisitConfig(Section):
    presence_c: float = Field(30.0, ge=0, le=40, description="Readings below this are the background: nobody at the scanner.")
    episode_gap_s: float = Field(1.5, gt=0, description="Scanner silence this long ends one measurement.")
    settle_readings: int = Field(1, ge=1, le=20, description="Plausible readings to collect before deciding (the highest counts).")
    reading_wait_s: float = Field(8.0, gt=0, description="A face with no reading for this long: ask to measure.")
    face_wait_s: float = Field(2.0, ge=0, description="After a reading, how long to wait for the face.")
    face_lookback_s: float = Field(3.0, ge=0, description="Frames this long before the reading belong to the visitor.")
    gap_s: float = Field(3.0, gt=0, description="No face for this long: the person has left.")
    remeasure_s: float = Field(2.0, ge=0, description="After 're-measure', readings count as a new measurement after this.")


class DatabaseConfig(Section):
    url: str = Field("", description="SQLAlchemy URL; empty means a SQLite file in the data directory.")
    central_url: str = Field("", description="Central database to forward entries to (store-and-forward).")
    forward_batch: int = Field(200, ge=1, le=10000, description="Entries sent to the central database in one "
                                                                "transaction.")
    central_connect_timeout_s: int = Field(
        3, ge=1, le=60,
        description="Seconds to open a connection to the central database (PostgreSQL connect_timeout). A server or "
                    "a proxy that accepts and never answers makes 'central: down' after this, never a hang.")
    central_statement_timeout_s: float = Field(
        10.0, ge=0.1, le=3600,
        description="Longest a statement on the central database may run, waiting for a lock included (PostgreSQL "
                    "statement_timeout, sent as a connection option). A table lock or a stalled server then ends in "
                    "an error, 'central: down', and a retry, while the rows wait in the outbox. A statement with no "
                    "answer at all (a network that swallows it) is given up by the gate itself this long plus "
                    "central_connect_timeout_s after it was sent. Through PgBouncer, set it on the role instead "
                    "(ALTER ROLE ... SET statement_timeout) if the pooler refuses connection options.")
    central_slow_s: float = Field(
        3.0, gt=0, le=3600,
        description="A central write or read with no answer for this long shows 'central: slow' (degraded) on the "
                    "health panel, with the rows waiting in the outbox, until it answers or fails.")


class PrivacyConfig(Section):
    store_face_images: bool = Field(False, description="Keep a photo of each visitor's face in the data directory.")
    retention_days: int = Field(30, ge=1, le=3650, description="Stored face images older than this many days are "
                                                               "deleted (checkpoint purge, and daily by the agent).")
    entry_retention_days: int = Field(
        0, ge=0, le=36500, description="Entries (with their overrides) and exits of local days more than this many "
        "days before today, in the gate's time zone, are deleted daily by the agent's recorder and by checkpoint "
        "purge; each deleted day's counts are kept (daily_count), so the reports still show it. 0 keeps them forever.")
    store_temperatures: bool = Field(
        True, description="false: outcome only. New entries store no temperature (body, object, ambient) and no mask "
        "probability; the outcome, its reasons and the mask class are kept.")


class WebConfig(Section):
    host: str = Field("127.0.0.1", description="Address the web app listens on (0.0.0.0: every interface).")
    port: int = Field(5000, ge=0, lt=65536, description="0 picks a free port (printed at start).")
    secret_key: str = Field("", description="From the environment; generated into the data directory when empty.", repr=False)
    kiosk: bool = Field(False, description="Open the entry screen without login (today only).")
    secure_cookies: bool = Field(False, description="Send session cookies over HTTPS only.")
    max_event_streams: int = Field(
        500, ge=1, le=100000,
        description="Live-screen event streams open at once; more are refused with 503 and Retry-After. "
                    "gunicorn with web.gunicorn_config gets a thread per stream plus threads for the pages.")
    max_event_streams_per_address: int = Field(
        20, ge=1, le=100000,
        description="Event streams from one client address; more are refused with 429 and Retry-After. "
                    "Behind a reverse proxy every client shares its address unless the proxy is trusted.")
    trusted_proxies: int = Field(
        0, ge=0, le=5,
        description="Reverse proxies in front of the web app whose X-Forwarded-For and X-Forwarded-Proto are "
                    "believed (werkzeug ProxyFix). 0: none, the peer address is the client's. Set it to the "
                    "number of proxies only when no client can reach the app except through them (docs/security.md).")
    login_free_failures: int = Field(
        5, ge=1, le=100,
        description="Failed sign-ins an account may have before each further attempt must wait (from any address).")
    login_delay_s: float = Field(
        1.0, gt=0, le=60,
        description="The first wait after login_free_failures; it doubles with each further failure.")
    login_max_delay_s: float = Field(
        300.0, gt=0, le=3600,
        description="The longest wait between an account's attempts: a delay, never a lock. A browser that has "
                    "signed in to the account before skips it; `checkpoint user unlock NAME` clears it.")
    login_address_failures: int = Field(
        20, ge=1, le=100000,
        description="Failed sign-ins from one client address (any user names) within login_window_s; "
                    "more are refused with 429 and Retry-After.")
    login_window_s: float = Field(
        900.0, gt=0, le=86400,
        description="How long a failed sign-in counts against its address; an account's failures are forgotten "
                    "after this long without one.")


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


class VisitorConfig(Section):
    show_s: float = Field(8.0, gt=0, le=300, description="The visitor screen shows a decision this long, then "
                                                         "returns to waiting.")
    voice: bool = Field(True, description="The visitor screen speaks its prompts (recorded audio, no network).")
    voice_language: Literal["id", "en", "both"] = Field(
        "id", description="Spoken language: Bahasa Indonesia, English, or Indonesian then English.")


class MqttConfig(Section):
    """Events out over MQTT (checkpoint/events_out, docs/events.md)."""

    enabled: bool = Field(False, description="Publish every entry, override, exit, door actuation and health change "
                                             "to an MQTT broker, from the local log (store-and-forward).")
    host: str = Field("127.0.0.1", description="The broker's host name or address.")
    port: int = Field(1883, ge=1, lt=65536, description="The broker's port (1883; 8883 with TLS, usually).")
    username: str = Field("", description="Login at the broker (empty: none).")
    password: str = Field("", description="Password for that login.", repr=False)
    tls: bool = Field(False, description="Connect with TLS, the broker's certificate checked.")
    ca_file: str = Field("", description="CA certificate file (PEM) for TLS; empty: the system's.")
    client_id: str = Field("", max_length=64, description="MQTT client id, unique at the broker; empty: "
                                                          "checkpoint-<gate id>.")
    topic_prefix: str = Field("checkpoint", description="Topics are <topic_prefix>/<gate id>/<kind> (entry, override, "
                                                        "exit, door, health, state, availability).")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive: a broker silent for 1.5 times this "
                                                            "is gone, and the last will ('offline') is sent by it.")
    connect_timeout_s: float = Field(5.0, gt=0, le=60, description="Longest wait to connect to the broker.")
    ack_timeout_s: float = Field(10.0, gt=0, le=300, description="A message the broker has not acknowledged "
                                                                 "(QoS 1 PUBACK) in this time ends the connection; "
                                                                 "it is sent again on the next one.")
    retry_max_s: float = Field(30.0, gt=0, le=3600, description="Longest wait between connection attempts.")
    batch: int = Field(100, ge=1, le=10000, description="Rows read from the local log and sent in one go.")
    state_s: float = Field(60.0, ge=1, le=3600, description="The retained gate state is published when it changes, "
                                                            "and at least this often.")
    discovery: bool = Field(True, description="Publish Home Assistant MQTT discovery for the gate's sensors "
                                              "(visitors today, occupancy, last temperature, health, door).")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix.")

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _topic_chars(cls, value: str) -> str:
        if not value or any(c in value for c in "+#\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError("a topic prefix is not empty, has no '+', '#' or NUL and no '/' at either end")
        return value


class WebhooksConfig(Section):
    """Events out as signed HTTP POSTs (checkpoint/events_out, docs/events.md)."""

    enabled: bool = Field(False, description="POST every entry, override, exit, door actuation and health change "
                                             "as JSON to url, from the local log (store-and-forward).")
    url: str = Field("", description="The receiver: an http:// or https:// URL.")
    secret: str = Field("", description="Shared secret of the X-Checkpoint-Signature header (HMAC-SHA256 of the "
                                        "body); at least 16 characters.", repr=False)
    timeout_s: float = Field(5.0, gt=0, le=120, description="A request not answered in this time is retried.")
    retry_max_s: float = Field(60.0, gt=0, le=3600, description="Longest wait between retries (the receiver down, "
                                                                "a 5xx, 408 or 429; Retry-After is honoured up to it).")
    max_attempts: int = Field(5, ge=1, le=100, description="An event the receiver refuses (any other 4xx) is tried "
                                                           "this many times, then set aside as a dead letter "
                                                           "(<data_dir>/webhook-dead-<gate>.jsonl) so the next can go.")
    ca_file: str = Field("", description="CA certificate file (PEM) for an https:// receiver; empty: the system's.")

    @model_validator(mode="after")
    def _complete(self) -> "WebhooksConfig":
        if self.enabled:
            if not re.match(r"^https?://[^/?#\s]+", self.url):
                raise ValueError("webhooks need an http:// or https:// url when enabled")
            if len(self.secret) < 16:
                raise ValueError("webhooks need a secret of at least 16 characters when enabled "
                                 "(CHECKPOINT_WEBHOOKS_SECRET)")
        return self


class Settings(Section):
    data_dir: str = Field("var", description="Where the database, secrets and images live.")
    gate: GateConfig = Field(default_factory=GateConfig, description="This entrance.")
    scanner: SerializeAsAny[ScannerConfig] = Field(
        default_factory=_default_scanner, description="The thermal scanner: its port, protocol (the tag of the "
                                                      "union) and that protocol's options.")
    camera: CameraConfig = Field(default_factory=CameraConfig, description="The camera watching the visitor.")
    mask: MaskConfig = Field(default_factory=MaskConfig, description="Face detection and the mask classifier.")
    rules: RulesConfig = Field(default_factory=RulesConfig, description="What decides an entry.")
    visits: VisitConfig = Field(default_factory=VisitConfig, description="When a visit begins, is measured and "
                                                                         "ends.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="The entry log and the central "
                                                                                 "database.")
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig,
                                   description="Face images, how long entries are kept, outcome-only logging.")
    web: WebConfig = Field(default_factory=WebConfig, description="The web app.")
    door: DoorConfig = Field(default_factory=DoorConfig, description="The door relay.")
    visitor: VisitorConfig = Field(default_factory=VisitorConfig, description="The visitor screen.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="Events out over MQTT, with Home Assistant "
                                                                     "discovery.")
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig, description="Events out as signed HTTP POSTs.")

    @field_validator("scanner", mode="wrap")
    @classmethod
    def _scanner_by_protocol(cls, value: Any, handler: Any) -> ScannerConfig:
        """The scanner union: a table (or a plain ScannerConfig) is validated as its protocol's variant."""
        if type(value) is ScannerConfig:
            value = value.model_dump(exclude_unset=True)
        if isinstance(value, dict):
            return _scanner_union().validate_python({"protocol": DEFAULT_PROTOCOL, **value})
        return handler(value)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_path / 'checkpoint.db').resolve()}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.gate.timezone)


class ConfigError(Exception):
    """A configuration problem, with every message naming its key."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__("\n".join(f"{where}{p}" for p in problems))


def _toml_key(key: str) -> str:
    return ".".join(part.strip().strip('"').strip("'") for part in key.split("."))


def _line_of(text: str, dotted: str) -> Optional[int]:
    """Best-effort line number of a dotted key in TOML text: its own line, else the line of the (inline)
    table that holds it (a key missing from its table, or set in ``options = { ... }``)."""
    lines: dict[str, int] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = _toml_key(header.group(1))
            lines.setdefault(current, number)
            continue
        key = re.match(r"""^([A-Za-z0-9_\-."' ]+?)\s*=""", stripped)
        if key:
            lines.setdefault(".".join(filter(None, [current, _toml_key(key.group(1))])), number)
    parts = dotted.split(".")
    while parts:
        if ".".join(parts) in lines:
            return lines[".".join(parts)]
        parts.pop()
    return None


# Tagged unions put the chosen tag in an error's path (door.relay.http.url, scanner.modbus-rtu.options.slave):
# dropped, so the key is the file's.
_TAGS = {"relay": lambda: {"lcus", "modbus-rtu", "http", "gpio"}, "scanner": lambda: set(scanner_variants())}


def _problems(exc: ValidationError, text: str, origins: Optional[dict[str, str]] = None) -> list[str]:
    """One line per error: the key as the file spells it, and its line (or the environment variable that set it)."""
    problems = []
    for error in exc.errors():
        parts = [str(part) for part in error["loc"]]
        dotted = ".".join(p for i, p in enumerate(parts)
                          if not (i and parts[i - 1] in _TAGS and p in _TAGS[parts[i - 1]]()))
        message = error["msg"]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):  # the tag itself: name its key
            union, tag = dotted, error["ctx"]["discriminator"].strip("'")
            dotted = f"{union}.{tag}"
            message = (f"{error['ctx']['tag']!r} is no {tag} of '{union}'; one of {error['ctx']['expected_tags']}"
                       if error["type"] == "union_tag_invalid" else f"'{union}' needs a {tag}")
        if origins and dotted in origins:
            at = f" (from {origins[dotted]})"
        else:
            line = _line_of(text, dotted) if text else None
            at = f" (line {line})" if line else ""
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key '{dotted}'{at}")
        else:
            problems.append(f"'{dotted}'{at}: {message}")
    return problems


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The models a field holds: its own, a union's members; the scanner's are its per-protocol variants."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(scanner_variants().values()) if annotation is ScannerConfig else [annotation]
    return [model for arg in get_args(annotation) for model in _models_of(arg)]


def env_keys(name: str) -> dict[tuple[str, ...], Any]:
    """The keys (paths, with their types) an environment variable's name can mean: ``CHECKPOINT_`` and the
    path's parts joined by ``_``. Keys contain ``_`` too, so the name is read against the schema."""
    def paths(models: list[type[BaseModel]], rest: str) -> dict[tuple[str, ...], Any]:
        found: dict[tuple[str, ...], Any] = {}
        for model in models:
            for name, field in model.model_fields.items():
                key, inner = field.alias or name, _models_of(field.annotation)
                if inner and rest.startswith(key + "_"):
                    found.update({(key, *path): kind for path, kind in paths(inner, rest[len(key) + 1:]).items()})
                elif not inner and rest == key:
                    found[(key,)] = field.annotation
        return found

    return paths([Settings], name[len(ENV_PREFIX):].lower()) if name.startswith(ENV_PREFIX) else {}


def _env_value(value: str, kind: Any) -> Any:
    """A variable's text as its key wants it: pydantic reads numbers and booleans from text; arrays are
    written as in TOML (``[0.1, 0.2, 0.6, 0.6]``), and numbered choices (modbus ``function``) as numbers."""
    kinds = [kind, *get_args(kind)]
    if value.lstrip().startswith("[") and any(get_origin(k) in (tuple, list) for k in kinds):
        try:
            return tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            return value
    choices = get_args(kind) if get_origin(kind) is Literal else ()
    if choices and all(type(choice) is int for choice in choices) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return value


def _env_overrides(environ: dict[str, str]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The overrides in ``environ``, the variable that set each key, and the names under a section that
    set no key (other CHECKPOINT_* names, such as CHECKPOINT_CONFIG, are not settings and are left alone)."""
    overrides: dict[str, Any] = {}
    origins: dict[str, str] = {}
    problems: list[str] = []
    sections = set(Settings.model_fields)
    for name, value in sorted(environ.items()):
        rest = name[len(ENV_PREFIX):].lower()
        if not name.startswith(ENV_PREFIX) or not any(rest == s or rest.startswith(s + "_") for s in sections):
            continue
        keys = env_keys(name)
        if len(keys) != 1:
            problems.append(f"environment {name}: " + (
                f"names several keys ({', '.join(sorted('.'.join(k) for k in keys))})" if keys else
                "names no key (CHECKPOINT_ and the key's path, its dots as '_': CHECKPOINT_RULES_FEVER_THRESHOLD_C)"))
            continue
        (path, kind), = keys.items()
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(value, kind)
        origins[".".join(path)] = name
    return overrides, origins, problems


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Optional[str | Path] = None, environ: Optional[dict[str, str]] = None,
                  overrides: Optional[dict] = None) -> Settings:
    """Read a TOML file (optional), apply environment and explicit overrides, validate."""
    text = ""
    data: dict = {}
    source = str(path) if path else "<defaults>"
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"cannot read configuration: {exc.strerror}"], source) from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"not valid TOML: {exc}"], source) from exc
    env, origins, problems = _env_overrides(dict(os.environ if environ is None else environ))
    data = _merge(_merge(data, env), overrides or {})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems + _problems(exc, text, origins), source) from exc
    if problems:
        raise ConfigError(problems, source)
    if path and not Path(settings.data_dir).is_absolute() and "data_dir" in data:
        # A relative data_dir in a file is relative to that file.
        settings.data_dir = str((Path(path).parent / settings.data_dir).resolve())
    return settings


def effective_toml(settings: Settings) -> str:
    """Render settings as TOML for `checkpoint config check` and /admin/settings, every secret masked
    (checkpoint.redact: secret-named keys such as web.secret_key, and the passwords in URLs)."""
    from checkpoint.redact import mask_settings

    data = mask_settings(settings.model_dump(mode="json", by_alias=True))
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def emit(table: str, values: dict) -> None:
        plain = {k: v for k, v in values.items() if not isinstance(v, dict) and v is not None}
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        if table:
            lines.append(f"\n[{table}]")
        for key, value in plain.items():
            lines.append(f"{key} = {scalar(value)}")
        for key, value in nested.items():
            emit(f"{table}.{key}" if table else key, value)

    emit("", data)
    return "\n".join(lines).lstrip() + "\n"
