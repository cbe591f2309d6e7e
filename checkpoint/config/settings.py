"""Settings: the whole configuration file, every section under its table."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from checkpoint.config.devices import DEFAULT_PROTOCOL, DoorConfig, ScannerConfig, _default_scanner, _scanner_union
from checkpoint.config.sections import (
    AlertsConfig,
    CameraConfig,
    DatabaseConfig,
    GateConfig,
    MaskConfig,
    MqttConfig,
    PrivacyConfig,
    RulesConfig,
    Section,
    VisitConfig,
    VisitorConfig,
    WebConfig,
    WebhooksConfig,
)


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
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Supervisor alerts through the event "
                                                                           "sinks.")

    @model_validator(mode="after")
    def _alerts_need_a_sink(self) -> "Settings":
        if self.alerts.enabled and not (self.mqtt.enabled or self.webhooks.enabled):
            raise ValueError("alerts.enabled needs [mqtt] or [webhooks] enabled: alerts are sent through them")
        return self

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
