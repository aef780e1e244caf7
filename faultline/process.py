"""The life of a long-running Faultline process (`faultline ingest`, `run`, `detect`, `api`, `demo`).

Its log format, the signals that stop it gracefully, the wait while it
serves, and the exit code and message when it cannot go on.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

import click

EXIT_DEAD = 70  # EX_SOFTWARE: a thread of the service died

# Libraries that narrate their routine at INFO: migrations, scheduler job runs, the HTTP client.
QUIET_LOGGERS = ("alembic", "apscheduler", "urllib3")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if logging.getLogger().level > logging.DEBUG:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (installed at once, so a signal during start-up stops gracefully)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def stop_when_orphaned(stop: threading.Event) -> None:
    """Set `stop` when the parent process is gone (a pool's worker outliving a pool killed with -9)."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                logging.getLogger("faultline.ingest").error("the worker pool (pid %d) is gone: stopping", parent)
                stop.set()

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def serve_until_stopped(subscriber, stop: threading.Event, ready: str, dead=lambda: []) -> list[str]:
    """Print ``ready`` once connected, then block until ``stop``, until the MQTT session is taken over, or
    until `dead()` names threads that ended: their names ([] otherwise)."""
    deadline = time.monotonic() + 30
    while not stop.is_set() and time.monotonic() < deadline:
        if subscriber.wait_connected(0.5):
            click.echo(ready, err=True)
            break
    while not stop.wait(1.0) and not subscriber.taken_over.is_set():
        ended = dead()
        if ended:
            logging.getLogger("faultline").critical("thread %s ended: stopping with exit code %d so that the "
                                                    "service manager restarts the process", ", ".join(ended), EXIT_DEAD)
            return ended
    return []


def session_taken_over(client_id: str, option: str = "FAULTLINE_MQTT_CLIENT_ID") -> click.ClickException:
    """The exit message of a process whose MQTT session another client took over."""
    return click.ClickException(f"the MQTT session {client_id!r} was taken over by another client with the same "
                                f"client id; give each process its own {option}")
