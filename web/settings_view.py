"""The effective settings as the administrator's Settings page shows them: one
table per section of the configuration file, each key with its value (secrets
masked, exactly as ``checkpoint config check`` prints them) and what it does
(the field's description in the settings' schema)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel

from checkpoint.config import Settings, effective_toml


@dataclass(frozen=True)
class SettingRow:
    key: str
    value: str  # as written in a TOML file
    description: str


@dataclass(frozen=True)
class SettingsSection:
    name: str  # the TOML table ("" for the keys at the top of the file)
    rows: tuple[SettingRow, ...]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _field(model: Optional[BaseModel], key: str) -> tuple[str, Any]:
    """(description, value) of the field a TOML key names (its name or its alias) on ``model``."""
    if model is None:
        return "", None
    for name, info in type(model).model_fields.items():
        if key in (name, info.alias):
            return info.description or "", getattr(model, name, None)
    return "", None


def settings_sections(settings: Settings) -> list[SettingsSection]:
    """The sections in file order, each with its keys; a table without plain keys of its own is left out
    (its sub-tables follow)."""
    sections: list[SettingsSection] = []

    def walk(name: str, values: dict, model: Optional[BaseModel]) -> None:
        rows, nested = [], []
        for key, value in values.items():
            description, child = _field(model, key)
            if isinstance(value, dict):
                nested.append((key, value, child if isinstance(child, BaseModel) else None))
            else:
                rows.append(SettingRow(key, toml_value(value), description))
        if rows:
            sections.append(SettingsSection(name, tuple(rows)))
        for key, value, child in nested:
            walk(f"{name}.{key}" if name else key, value, child)

    walk("", tomllib.loads(effective_toml(settings)), settings)
    return sections
