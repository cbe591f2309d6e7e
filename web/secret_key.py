"""The session signing key: configured, from the environment, or generated once into the data directory."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from checkpoint.config import Settings

log = logging.getLogger(__name__)
ENV_NAME = "CHECKPOINT_WEB_SECRET_KEY"


def resolve_secret_key(settings: Settings) -> str:
    if settings.web.secret_key:
        return settings.web.secret_key
    if os.environ.get(ENV_NAME):
        return os.environ[ENV_NAME]
    return _from_file(settings.data_path / "secret_key")


def _from_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty: delete it to generate a new key") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    log.info("generated a new session key in %s", path)
    return key
