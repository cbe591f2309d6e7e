"""Configuration: one TOML file, strict, with environment overrides.

Every section is a small pydantic model that forbids unknown keys, so a
misspelt key is an error that names the key (and its line in the file).
Environment variables ``CHECKPOINT_<SECTION>_<KEY>`` override the file, e.g.
``CHECKPOINT_DATABASE_URL`` or ``CHECKPOINT_WEB_PORT``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from checkpoint.mask_verdict import DEFAULT_MASK_THRESHOLD, DEFAULT_REFUSE_THRESHOLD

Mode = Literal["deny", "flag", "off"]
ENV_PREFIX = "CHECKPOINT_"


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
    method: Literal["none", "offset", "blackbody"] = "offset"
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


class ScannerConfig(Section):
    enabled: bool = True
    url: str = Field("virtual", description="Serial URL for serial_for_url(); 'virtual' starts the built-in virtual scanner.")
    protocol: str = Field("ascii", description="Scanner family key, e.g. ascii, mlx90640-text, gy-mcu90640, modbus-rtu, optris.")
    baudrate: int = Field(9600, gt=0)
    sensor_id: str = Field("scanner", min_length=1, max_length=64)
    timeout_s: float = Field(2.0, gt=0, le=60, description="Silence after which the scanner is reported stale (MLX90614 sketches send every 0.5 s).")
    reconnect_max_s: float = Field(5.0, gt=0, le=300, description="Longest wait between reconnection attempts.")
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    options: dict[str, Any] = Field(default_factory=dict, description="Protocol-specific options, validated by the driver.")


class CameraConfig(Section):
    enabled: bool = True
    source: str = Field("simulated", description="Device index ('0'), stream URL, video file, or 'simulated'.")
    width: int = Field(640, gt=0)
    height: int = Field(480, gt=0)
    fps: float = Field(10.0, gt=0, le=120, description="Frames analysed per second.")
    stall_s: float = Field(3.0, gt=0, description="No frame for this long means the camera is stalled.")
    roi: Optional[tuple[float, float, float, float]] = Field(
        None, description="Region of interest as fractions x, y, w, h of the frame: where the visitor stands at "
        "the scanner. Only this part is searched for faces, at the detector's full input resolution, so a smaller "
        "region finds smaller (farther) faces at the same cost."
    )


class MaskConfig(Section):
    model: str = Field("", description="Mask classifier file; empty uses the model shipped in the package.")
    face_score: float = Field(0.3, gt=0, lt=1, description="Face detector score threshold.")
    smoothing_frames: int = Field(5, ge=1, le=60, description="Frames of one visitor averaged before deciding.")
    min_face_px: int = Field(40, ge=8, description="Faces whose shorter side is smaller (frame pixels) are never "
                             "the visitor: too far away to judge the mask.")
    detector_side: int = Field(128, ge=64, le=640, multiple_of=16, description="Input side of the face detector's "
                               "first pass (the frame's, or the region of interest's, longer side is scaled to it).")
    reach_side: int = Field(256, ge=0, le=1280, multiple_of=16, description="Input side of the reach pass for small "
                            "faces, run unless the first pass finds a visitor filling a third of the frame; 0 turns "
                            "it off (faster, but faces under about 100 px of a 640x480 frame are missed).")
    reach_score: float = Field(0.3, gt=0, lt=1, description="Face detector score threshold of the reach pass.")
    face_check: float = Field(0.5, gt=0, le=1, description="A detection the mask classifier judges to be no face "
                              "with at least this probability is dropped (signs, ears, hands); 1 keeps every one.")


class FeverRule(Section):
    mode: Mode = "deny"
    threshold_c: float = Field(37.3, ge=35.0, le=40.0, description="Readings at or above this are high.")
    retest: bool = Field(True, description="A first high reading asks for a re-measure after a rest.")
    rest_s: float = Field(300.0, ge=0, description="Rest before the re-test.")
    retest_window_s: float = Field(1800.0, gt=0, description="How long a first high reading waits for its re-test.")

    @field_validator("threshold_c")
    @classmethod
    def _tenth_steps(cls, value: float) -> float:
        return round(value, 1)


class PlausibleRule(Section):
    min_c: float = Field(34.0, ge=20, le=40)
    max_c: float = Field(43.0, ge=38, le=50)


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
    mode: Mode = "off"
    limit: int = Field(0, ge=0, description="People allowed inside at once; 0 means no limit.")
    scope: Literal["gate", "building"] = Field(
        "gate", description="gate: count who came in through this gate; building: through every gate that logs "
                            "to the same database, or to the central one (database.central_url).")


class FaultRule(Section):
    mode: Mode = Field("deny", description="Scanner or camera fault during the visit.")


class RulesConfig(Section):
    fever: FeverRule = Field(default_factory=FeverRule)
    plausible: PlausibleRule = Field(default_factory=PlausibleRule)
    mask: MaskRule = Field(default_factory=MaskRule)
    face: FaceRule = Field(default_factory=FaceRule)
    capacity: CapacityRule = Field(default_factory=CapacityRule)
    fault: FaultRule = Field(default_factory=FaultRule)


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
    forward_batch: int = Field(200, ge=1, le=10000)
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
    store_face_images: bool = False
    retention_days: int = Field(30, ge=1, le=3650)


class WebConfig(Section):
    host: str = "127.0.0.1"
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


class Settings(Section):
    data_dir: str = Field("var", description="Where the database, secrets and images live.")
    gate: GateConfig = Field(default_factory=GateConfig)
    scanner: ScannerConfig = Field(default_factory=ScannerConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)
    mask: MaskConfig = Field(default_factory=MaskConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    visits: VisitConfig = Field(default_factory=VisitConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    door: DoorConfig = Field(default_factory=DoorConfig)
    visitor: VisitorConfig = Field(default_factory=VisitorConfig)

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


def _line_of(text: str, dotted: str) -> Optional[int]:
    """Best-effort line number of a dotted key in TOML text."""
    parts = dotted.split(".")
    key = parts[-1]
    table = ".".join(parts[:-1])
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1)
            if current == dotted:
                return number
            continue
        if current == table and re.match(rf'^"?{re.escape(key)}"?\s*=', stripped):
            return number
    return None


# Tagged unions put the chosen tag in an error's path (door.relay.http.url): dropped, so the key is the file's.
_TAGS = {"relay": {"lcus", "modbus-rtu", "http", "gpio"}}


def _problems(exc: ValidationError, text: str) -> list[str]:
    problems = []
    for error in exc.errors():
        parts = [str(part) for part in error["loc"]]
        dotted = ".".join(p for i, p in enumerate(parts) if not (i and p in _TAGS.get(parts[i - 1], ())))
        line = _line_of(text, dotted) if text else None
        at = f" (line {line})" if line else ""
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key '{dotted}'{at}")
        else:
            problems.append(f"'{dotted}'{at}: {error['msg']}")
    return problems


def _env_overrides(environ: dict[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, Any] = {}
    sections = {name for name, field in Settings.model_fields.items() if name != "data_dir"}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        if rest == "data_dir":
            overrides["data_dir"] = value
            continue
        section, _, key = rest.partition("_")
        if section in sections and key:
            overrides.setdefault(section, {})[key] = value
    return overrides


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
    env = _env_overrides(dict(os.environ if environ is None else environ))
    data = _merge(_merge(data, env), overrides or {})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, text), source) from exc
    if path and not Path(settings.data_dir).is_absolute() and "data_dir" in data:
        # A relative data_dir in a file is relative to that file.
        settings.data_dir = str((Path(path).parent / settings.data_dir).resolve())
    return settings


def effective_toml(settings: Settings) -> str:
    """Render settings as TOML for `checkpoint config check` and /admin/settings, every secret masked
    (checkpoint.redact: secret-named keys such as web.secret_key, and the passwords in URLs)."""
    from checkpoint.redact import mask_settings

    data = mask_settings(settings.model_dump(mode="json"))
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
