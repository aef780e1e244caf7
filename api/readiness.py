"""What `/ready` answers: the SQL database, InfluxDB and, in `faultline run`, the pipeline itself.

Checks: ``sql`` and ``influxdb`` answer; with a pipeline (`PipelineProbe`,
given by ``faultline run``): ``mqtt`` (connected to the broker), ``ingest``
(its threads alive, and no batch overdue while messages wait) and
``detectors`` (the same for the detect thread). InfluxDB gets
``PING_TIMEOUT_S`` to answer. The answer is computed at
most once per ``max_age_s`` and shared by the probes in between, so a probe
storm never becomes a load on the database or InfluxDB.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Protocol

from sqlalchemy import Engine, text

log = logging.getLogger("api.health")
PING_TIMEOUT_S = 2.0  # a frozen InfluxDB must not hold /ready for the client's whole timeout


class PipelineProbe(Protocol):
    def readiness(self) -> dict[str, str | None]:
        """Check name → problem (None when fine)."""


class Readiness:
    def __init__(self, engine: Engine, influx, pipeline: PipelineProbe | None = None, max_age_s: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.influx = influx
        self.pipeline = pipeline
        self.max_age_s = max_age_s
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, int, dict] | None = None

    def answer(self) -> tuple[int, dict]:
        """(HTTP status, body), from the cache while it is fresh."""
        with self._lock:
            if self._cached is None or self.monotonic() - self._cached[0] >= self.max_age_s:
                self._cached = (self.monotonic(), *self._check())
            return self._cached[1], self._cached[2]

    def _check(self) -> tuple[int, dict]:
        problems = {"sql": self._sql(), "influxdb": self._influx()}
        if self.pipeline is not None:
            try:
                problems.update(self.pipeline.readiness())
            except Exception as exc:  # noqa: BLE001 - a probe that fails is an answer too
                problems["pipeline"] = f"readiness check failed ({type(exc).__name__})"
        checks = {name: problem or "ok" for name, problem in problems.items()}
        ok = not any(problems.values())
        if not ok:
            log.warning("not ready: %s", {k: v for k, v in problems.items() if v})
        return (200 if ok else 503), {"status": "ready" if ok else "not ready", "checks": checks}

    def _sql(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            return f"unreachable ({type(exc).__name__})"
        return None

    def _influx(self) -> str | None:
        try:
            self.influx.ping(timeout=PING_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001
            return f"unreachable ({type(exc).__name__})"
        return None
