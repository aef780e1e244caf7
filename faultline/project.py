"""Where a Faultline project lives, and its `.env` file.

Relative paths in the settings (the data dir above all) are resolved once,
against the *project folder*, so every command finds the same data whatever
the current folder is, and child processes only ever see absolute paths:

1. the nearest folder, from the current one upwards, whose ``.env`` sets a
   ``FAULTLINE_*`` option (the configuration's own location);
2. else the source checkout the running code comes from (``make demo``
   installs it editable into ``.venv``): the folder holding ``pyproject.toml``
   beside the ``faultline`` package;
3. else the current folder.

The ``.env`` file holds ``FAULTLINE_*`` lines like the environment (see
``.env.example``); other keys in it (docker-compose's variables) are left
alone. The environment wins over the file.
"""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

ENV_FILE = ".env"
PREFIX = "FAULTLINE_"


def project_dir(cwd: Path | None = None) -> Path:
    """The folder that relative settings paths and ``.env`` belong to (absolute)."""
    start = Path.cwd() if cwd is None else Path(cwd).absolute()
    for folder in (start, *start.parents):
        if _configures_faultline(folder / ENV_FILE):
            return folder
    checkout = source_checkout()
    return checkout if checkout is not None else start


def source_checkout() -> Path | None:
    """The source tree this code runs from, or None when it is installed as a package."""
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    try:
        return root if 'name = "faultline"' in pyproject.read_text() else None
    except OSError:
        return None


def read_env_file(path: Path) -> dict[str, str]:
    """The ``FAULTLINE_*`` options set in an env file (none if it does not exist).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / ".env").write_text("FAULTLINE_API_PORT=8001  # a comment\\nOTHER=x\\n")
    ...     read_env_file(Path(d) / ".env")
    {'FAULTLINE_API_PORT': '8001'}
    """
    if not path.is_file():
        return {}
    return {key: value or "" for key, value in dotenv_values(path).items()
            if key.upper().startswith(PREFIX)}


def _configures_faultline(path: Path) -> bool:
    try:
        return path.is_file() and bool(read_env_file(path))
    except OSError:
        return False
