"""Face images: stored only when configured, and deleted after the retention period.

Images live under ``<data_dir>/faces/<local date>/<entry uid>.jpg``; the entry
keeps the relative path. ``purge`` deletes folders of days older than the
retention and clears the paths in the log, so nothing points at a deleted file.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Optional

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from checkpoint.models import Entry

log = logging.getLogger(__name__)


class FaceStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "faces"

    def save(self, local_date: str, uid: str, jpeg: bytes) -> str:
        folder = self.root / local_date
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{uid}.jpg"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            out.write(jpeg)
        os.chmod(tmp, 0o600)
        tmp.replace(path)
        return str(path.relative_to(self.root.parent))

    def purge(self, engine: Optional[Engine], retention_days: int, today: date) -> int:
        """Delete the images of days before ``today - retention_days``; returns how many files went."""
        cutoff = (today - timedelta(days=retention_days)).isoformat()
        if not self.root.is_dir():
            return 0
        removed = 0
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and _is_day(folder.name) and folder.name < cutoff:
                removed += sum(1 for _ in folder.glob("*.jpg"))
                shutil.rmtree(folder)
        if engine is not None:
            with Session(engine) as session:
                session.exec(update(Entry).where(col(Entry.local_date) < cutoff, col(Entry.face_image).is_not(None))
                             .values(face_image=None))
                session.commit()
        if removed:
            log.info("purged %d face images from before %s", removed, cutoff)
        return removed


def _is_day(name: str) -> bool:
    try:
        datetime.strptime(name, "%Y-%m-%d")
    except ValueError:
        return False
    return True
