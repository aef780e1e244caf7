"""A migrated SQLite database file for one test, copied from one migrated once per process.

Running every migration takes a tenth of a second; hundreds of tests each
needing an empty, migrated database would spend most of their time there.
The migrations themselves are tested on their own (tests/tickets/test_migrations.py).
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from pathlib import Path

_template: Path | None = None


def migrated_sqlite(path: Path) -> str:
    """Create `path` as a migrated, empty SQLite database; its SQLAlchemy URL."""
    source = sqlite3.connect(_migrated_template())
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return f"sqlite:///{path}"


def _migrated_template() -> Path:
    global _template
    if _template is None:
        from database import migrate

        folder = Path(tempfile.mkdtemp(prefix="faultline-sqlite-template-"))
        atexit.register(shutil.rmtree, folder, True)
        migrate(f"sqlite:///{folder / 'template.db'}")
        _template = folder / "template.db"
    return _template
