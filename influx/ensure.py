"""The database a writing command needs: created on start, and until it exists.

Every command that writes (``faultline run``, ``ingest``, ``detect``) creates
its database on start, as Telegraf does: ``CREATE DATABASE`` on InfluxDB 1.x
(idempotent). InfluxDB 2.x and 3.x cannot create one through InfluxQL; a
missing one is reported loudly with the command that creates it. Until the
database is there (InfluxDB not answering yet, or a bucket still to be
made), writes go to the disk spool, the attempt is repeated with backoff on a
thread of its own, and the spool drains by itself once it succeeds; ticket
evidence that could not be gathered meanwhile is re-gathered by the
scheduler's evidence job.
"""

from __future__ import annotations

import logging
import threading

from influx.errors import InfluxError

log = logging.getLogger("faultline.influx")


class DatabaseKeeper:
    def __init__(self, client, stop: threading.Event, max_wait_s: float = 60.0):
        self.client = client
        self.stop = stop
        self.max_wait_s = max_wait_s
        self.ready = threading.Event()

    def start(self) -> bool:
        """Try now; on failure keep trying on a thread. True when the database is there now."""
        if self._attempt(first=True):
            return True
        threading.Thread(target=self._retry, name="influx-database", daemon=True).start()
        return False

    def _retry(self) -> None:
        wait = 1.0
        while not self.stop.wait(wait):
            if self._attempt(first=False):
                log.warning("InfluxDB database %r is ready; spooled writes drain now", self.client.db)
                return
            wait = min(self.max_wait_s, wait * 2)

    def _attempt(self, first: bool) -> bool:
        try:
            self.client.ensure_database()
        except InfluxError as exc:
            if first:
                self._say(exc)
            return False
        self.ready.set()
        return True

    def _say(self, exc: InfluxError) -> None:
        where = f"InfluxDB {self.client.url} database {self.client.db!r}"
        if exc.retryable or exc.status is None:
            log.warning("%s: not answering (%s); writes are spooled to disk and the database is created "
                        "once it answers", where, exc)
        else:
            log.error("%s cannot be used: %s. Writes are spooled to disk until it exists; "
                      "checking again with backoff (up to every %.0f s)", where, exc, self.max_wait_s)
