"""The plain sections of the configuration: one small pydantic model per table, each forbidding unknown keys.

The scanner and the door relay, whose tables are unions, are in checkpoint.config.devices; the whole file's
model, Settings, is in checkpoint.config.settings.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from checkpoint.mask_verdict import DEFAULT_MASK_THRESHOLD, DEFAULT_REFUSE_THRESHOLD

Mode = Literal["deny", "flag", "off"]


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
    mode: Mode = Field("deny", description="No face seen, or seen only turned away: ask the visitor to face the "
                                           "camera.")
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
    presence_c: float = Field(30.0, ge=0, le=40, description="Readings below this are the background: nobody at "
                                                             "the scanner.")
    episode_gap_s: float = Field(1.5, gt=0, description="Scanner silence this long ends one measurement.")
    settle_readings: int = Field(1, ge=1, le=20, description="Plausible readings to collect before deciding (the "
                                                             "highest counts).")
    reading_wait_s: float = Field(8.0, gt=0, description="A face with no reading for this long: ask to measure.")
    face_wait_s: float = Field(2.0, ge=0, description="After a reading, how long to wait for the face.")
    face_lookback_s: float = Field(3.0, ge=0, description="Frames this long before the reading belong to the visitor.")
    gap_s: float = Field(3.0, gt=0, description="No face for this long: the person has left.")
    remeasure_s: float = Field(2.0, ge=0, description="After 're-measure', readings count as a new measurement "
                                                      "after this.")


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
    secret_key: str = Field("", description="From the environment; generated into the data directory when empty.",
                            repr=False)
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


class VisitorConfig(Section):
    show_s: float = Field(8.0, gt=0, le=300, description="The visitor screen shows a decision this long, then "
                                                         "returns to waiting.")
    voice: bool = Field(True, description="The visitor screen speaks its prompts (recorded audio, no network).")
    voice_language: Literal["id", "en", "both"] = Field(
        "id", description="Spoken language: Bahasa Indonesia, English, or Indonesian then English.")
    speaker: bool = Field(False, description="The agent also plays each decision's prompt on the gate's own "
                                             "speaker (drivers/speaker.py), in voice_language.")
    speaker_command: str = Field("paplay", description="The player the speaker uses; the prompt's Ogg file is "
                                                       "added as its last argument (paplay, 'ffplay -nodisp "
                                                       "-autoexit -loglevel error', gst-play-1.0 -q).")


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


class AlertsConfig(Section):
    """Supervisor alerts (checkpoint/alerts.py), sent as kind "alert" through [mqtt] and [webhooks]."""

    enabled: bool = Field(False, description="Send supervisor alerts through the enabled event sinks ([mqtt], "
                                             "[webhooks]: at least one must be on). An alert never carries an "
                                             "image.")
    fever: bool = Field(True, description="Alert on a confirmed fever: a visitor denied for a high temperature "
                                          "(after the re-test when [rules.fever] asks for one).")
    denials: int = Field(5, ge=0, le=10000, description="Alert when this many visitors are denied at the gate "
                                                        "within denials_window_s; 0 turns it off.")
    denials_window_s: float = Field(600.0, gt=0, le=86400, description="The window the denials are counted in.")
    device_down_s: float = Field(300.0, ge=0, le=86400, description="Alert when the scanner, camera, database or "
                                                                     "door relay has been down this long (once "
                                                                     "per outage); 0 turns it off.")
    cooldown_s: float = Field(900.0, ge=0, le=86400, description="The same alert (its kind, and the device for "
                                                                 "device_down) is not sent again within this "
                                                                 "time.")
