"""The project installs as a product: non-editable, the runtime only (no test extras), and the installed
command finds everything it ships (migrations, the face and mask models, the web app's templates)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "build", "dist", "var", "__pycache__", ".pytest_cache", ".hypothesis", "tests"}


def project_copy(target: Path) -> Path:
    """The sources as a clean clone holds them, without this checkout's environment or build output."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_DIRS or n.endswith(".egg-info") or n.endswith(".pyc")}

    shutil.copytree(ROOT, target, ignore=ignore)
    return target


@pytest.mark.slow
def test_a_non_editable_install_without_test_extras_runs(tmp_path):
    source = project_copy(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(source)],
                               capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    shutil.rmtree(source)  # the installed command must not lean on the source tree
    packages = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                              text=True, timeout=120, check=True).stdout.lower()
    assert "checkpoint-gate==" in packages
    for test_tool in ("pytest", "playwright", "hypothesis", "torch"):
        assert f"{test_tool}==" not in packages, f"{test_tool} is installed with the runtime"

    data = tmp_path / "data"
    env = {**os.environ, "CHECKPOINT_DATA_DIR": str(data)}
    env.pop("PYTHONPATH", None)
    checkpoint = str(venv / "bin" / "checkpoint")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([checkpoint, *args], capture_output=True, text=True, timeout=300, env=env,
                              cwd=tmp_path)

    helped = run("--help")
    assert helped.returncode == 0 and "init-db" in helped.stdout, helped.stderr
    migrated = run("init-db")
    assert migrated.returncode == 0, migrated.stderr
    assert (data / "checkpoint.db").is_file()
    image = tmp_path / "grey.png"
    import cv2

    cv2.imwrite(str(image), np.full((480, 640, 3), 128, np.uint8))
    detected = run("mask", "detect", str(image))  # the shipped detector and classifier load from the package
    assert detected.returncode == 0, detected.stderr
    assert '"faces": []' in detected.stdout
    checked = run("config", "check", "--simulate")  # the settings and their defaults, and the refusal's rule
    assert checked.returncode == 0, checked.stderr
    page = subprocess.run([str(python), "-c", LOGIN_PAGE], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert page.returncode == 0 and page.stdout.split() == ["200", "200"], page.stderr  # templates and static files


LOGIN_PAGE = """
from checkpoint.config import load_settings
from web import create_app
client = create_app(load_settings()).test_client()
print(client.get("/login").status_code, client.get("/static/style.css").status_code)
"""
