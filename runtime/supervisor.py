"""Long-lived threads: every step guarded, failures logged and counted, deaths noticed.

A step run through `guard` that raises is logged (with its traceback the
first time, then at most once a minute with a count) and counted under its
name, and the loop goes on with its next step. A thread that ends while the
process is not stopping -- whatever the cause -- is *dead*: `dead()` names
it, `/ready` reports it, and the command exits non-zero, so that systemd or
compose restarts the process instead of leaving it half alive.

>>> sup = Supervisor("demo")
>>> sup.guard("divide", lambda: 1 / 0, default=-1)
-1
>>> sup.failures["divide"]
1
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Callable

log = logging.getLogger("runtime.supervisor")
LOG_EVERY_S = 60.0


class Supervisor:
    def __init__(self, name: str, now: Callable[[], float] = time.monotonic):
        self.name = name
        self.now = now
        self.failures: Counter[str] = Counter()
        self.stopping = False
        self._threads: dict[str, threading.Thread] = {}
        self._logged: dict[str, tuple[float, int]] = {}  # step -> (last log time, failures then)

    def spawn(self, name: str, target: Callable[[], None]) -> threading.Thread:
        """Start `target` on a daemon thread whose end is noticed (`dead`)."""
        def run() -> None:
            try:
                target()
            except BaseException:  # noqa: BLE001 - a thread's last word is always logged
                log.critical("thread %s died", name, exc_info=True)
                raise
            finally:
                if not self.stopping:
                    log.critical("thread %s ended while %s was running", name, self.name)

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads[name] = thread
        thread.start()
        return thread

    def thread(self, name: str) -> threading.Thread | None:
        return self._threads.get(name)

    def dead(self) -> list[str]:
        """Threads that ended although the process is not stopping."""
        if self.stopping:
            return []
        return [name for name, t in self._threads.items() if not t.is_alive()]

    def guard(self, step: str, fn: Callable, *args, default=None):
        """``fn(*args)``; on an exception, log and count it under `step` and return `default`."""
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - the loop must go on; the failure is logged and counted
            self.failed(step)
            return default

    def failed(self, step: str) -> None:
        """Count and log the exception being handled under `step` (call it in an ``except`` block)."""
        self.failures[step] += 1
        count = self.failures[step]
        last, logged_count = self._logged.get(step, (None, 0))
        now = self.now()
        if last is None:
            log.exception("%s: %s failed; carrying on", self.name, step)
        elif now - last >= LOG_EVERY_S:
            log.error("%s: %s failed %d more times in the last %.0f s (latest below)", self.name, step,
                      count - logged_count, now - last, exc_info=True)
        else:
            return
        self._logged[step] = (now, count)

    def join(self, names: list[str], deadline: float) -> list[str]:
        """Wait for the named threads until `deadline` (monotonic); the names still running."""
        for name in names:
            thread = self._threads.get(name)
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        return [n for n in names if n in self._threads and self._threads[n].is_alive()]
