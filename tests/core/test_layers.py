"""Which package may import which, checked on the source (imports inside functions included).

- ``checkpoint`` (the core: configuration, messages, rules, the log) imports neither ``drivers`` nor ``web``;
- ``drivers`` (hardware adapters) and ``web`` (the Flask app) import the core, never each other;
- the wiring that builds a running gate from all three (``checkpoint.runtime``, ``checkpoint.service``,
  ``checkpoint.replay``, ``checkpoint.cli``, ``checkpoint.commands`` and ``python -m checkpoint``) is
  imported by nobody but itself.

One exception, named here: the configuration's scanner section is a union of each protocol's own options
model, which the protocol registry in ``drivers.thermal`` declares; ``checkpoint.config`` reads it lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIRING = ("checkpoint.__main__", "checkpoint.runtime", "checkpoint.service", "checkpoint.replay", "checkpoint.cli",
          "checkpoint.commands")
ALLOWED = {("checkpoint.config", "drivers.thermal.registry")}  # (importer prefix, imported module)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def is_in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(root: Path = ROOT) -> list[str]:
    out = []
    for package in ("checkpoint", "drivers", "web"):
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            importer = module_name(path, root)
            wiring = any(is_in(importer, w) for w in WIRING)
            for imported in imports_of(path):
                if any(is_in(importer, a) and imported == b for a, b in ALLOWED):
                    continue
                if any(is_in(imported, w) for w in WIRING) and not wiring:
                    out.append(f"{importer} imports the wiring module {imported}")
                elif package == "checkpoint" and not wiring and (is_in(imported, "drivers") or is_in(imported, "web")):
                    out.append(f"core module {importer} imports {imported}")
                elif package == "drivers" and is_in(imported, "web") or package == "web" and is_in(imported, "drivers"):
                    out.append(f"{importer} imports {imported}")
    return out


def test_each_package_imports_only_downward():
    assert violations() == []


def test_the_check_finds_an_upward_import(tmp_path):
    """The rule can fail: a core module that imports the web app is reported."""
    fake = tmp_path / "checkpoint" / "policy_extra.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from web.state import state\n    return state\n", encoding="utf-8")
    for package in ("drivers", "web"):
        (tmp_path / package).mkdir()
    assert violations(tmp_path) == ["core module checkpoint.policy_extra imports web.state"]
