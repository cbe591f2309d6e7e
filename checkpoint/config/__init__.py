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

# The package's modules, one job each; every name is importable from checkpoint.config itself:
#   sections  the plain sections (gate, camera, mask, rules, visits, database, privacy, web, visitor, mqtt, webhooks)
#   devices   the two unions: [scanner] by protocol, [door.relay] by driver
#   settings  Settings, the whole file
#   loading   the TOML file, environment overrides, ConfigError and its keys' line numbers
#   render    effective_toml

from __future__ import annotations

from checkpoint.config.devices import (
                                       DEFAULT_PROTOCOL,
                                       PROTOCOL_HELP,
                                       CalibrationConfig,
                                       DoorConfig,
                                       GpioRelay,
                                       HttpRelay,
                                       LcusRelay,
                                       ModbusRelay,
                                       RelayConfig,
                                       ScannerConfig,
                                       _default_scanner,
                                       _scanner_union,
                                       scanner_variants,
)
from checkpoint.config.loading import (
                                       _TAGS,
                                       ENV_PREFIX,
                                       ConfigError,
                                       _env_overrides,
                                       _env_value,
                                       _line_of,
                                       _merge,
                                       _models_of,
                                       _problems,
                                       _toml_key,
                                       env_keys,
                                       load_settings,
)
from checkpoint.config.render import effective_toml
from checkpoint.config.sections import (
                                       AlertsConfig,
                                       CameraConfig,
                                       CapacityRule,
                                       DatabaseConfig,
                                       FaceRule,
                                       FaultRule,
                                       FeverRule,
                                       GateConfig,
                                       MaskConfig,
                                       MaskRule,
                                       Mode,
                                       MqttConfig,
                                       PlausibleRule,
                                       PrivacyConfig,
                                       RulesConfig,
                                       Section,
                                       VisitConfig,
                                       VisitorConfig,
                                       WebConfig,
                                       WebhooksConfig,
)
from checkpoint.config.settings import Settings

# Every name checkpoint.config defined as one module, the private ones included (tests import _models_of).
__all__ = [
    "DEFAULT_PROTOCOL", "ENV_PREFIX", "PROTOCOL_HELP", "_TAGS", "AlertsConfig", "CalibrationConfig", "CameraConfig",
    "CapacityRule", "ConfigError", "DatabaseConfig", "DoorConfig", "FaceRule", "FaultRule", "FeverRule", "GateConfig",
    "GpioRelay", "HttpRelay", "LcusRelay", "MaskConfig", "MaskRule", "ModbusRelay", "Mode", "MqttConfig",
    "PlausibleRule", "PrivacyConfig", "RelayConfig", "RulesConfig", "ScannerConfig", "Section", "Settings",
    "VisitConfig", "VisitorConfig", "WebConfig", "WebhooksConfig", "_default_scanner", "_env_overrides", "_env_value",
    "_line_of", "_merge", "_models_of", "_problems", "_scanner_union", "_toml_key", "effective_toml", "env_keys",
    "load_settings", "scanner_variants",
]
