"""Engine state on disk: one pickle, written atomically (temp file, fsync, rename).

The file holds a format version and the engine's state (device table, open
windows, cohort histories). A file with another version, or one that cannot
be read, is ignored with a warning, so a cold start is always possible.
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

FORMAT = 1
STATE = ("devices", "active", "next_window", "_close_at", "watermark", "cell_rate", "scan", "telemetry_protos",
         "connectivity", "moved", "pooled", "incidents", "faulting", "latest_ms")
log = logging.getLogger(__name__)


def save(engine, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    state = {"format": FORMAT, "window_ms": engine.window_ms, **{k: getattr(engine, k) for k in STATE}}
    with open(tmp, "wb") as fh:
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load(engine, path: Path) -> bool:
    """Restore ``engine`` from ``path``; False (and the engine untouched) if there is nothing usable."""
    try:
        with open(path, "rb") as fh:
            state = pickle.load(fh)
    except FileNotFoundError:
        return False
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        log.warning("ignoring detector checkpoint %s: %s", path, exc)
        return False
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("window_ms") != engine.window_ms:
        log.warning("ignoring detector checkpoint %s: other format or window length", path)
        return False
    for k in STATE:
        if k in state:  # parts added later start fresh from an older checkpoint
            setattr(engine, k, state[k])
    return True
