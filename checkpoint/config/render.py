"""The effective settings printed as TOML (`checkpoint config check`, /admin/settings)."""

from __future__ import annotations

from typing import Any

from checkpoint.config.settings import Settings


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
