"""Loading: the TOML file, the environment's overrides (``CHECKPOINT_...``), and errors that name each key
with its line in the file or the variable that set it."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Optional, get_args, get_origin

from pydantic import BaseModel, ValidationError

from checkpoint.config.devices import ScannerConfig, scanner_variants
from checkpoint.config.settings import Settings

ENV_PREFIX = "CHECKPOINT_"


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
        if not dotted:  # a rule across sections (Settings' own validators): its message names the keys
            problems.append(message.removeprefix("Value error, "))
            continue
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
