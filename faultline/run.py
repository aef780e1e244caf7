"""The whole service in one process (`faultline run`, `faultline demo`).

ingest → detectors → alerts → tickets, with the API served and the periodic
jobs scheduled. Records reach the detectors only after they are durable (the
ingest writer hands them over after InfluxDB or the spool took them), so a
crash never makes the detectors see data that storage lost. The pipeline
(`faultline.pipeline.Pipeline`: detector engine, anomaly sink, alert manager
and ticket service) lives on one thread (the detect thread); the scheduler
asks that thread for checkpoints and sweeps.

Supervision: one `Supervisor` watches every thread (ingest's, the detect
thread, the API server); each step of the detect loop is guarded; `readiness`
(served on ``/ready``) reports the broker connection, dead threads and a
stalled ingest or detect stage; a dead thread makes the command exit
non-zero. After a crash, the detector state restored from the last
checkpoint is brought up to date from InfluxDB (`detectors.warmup.catch_up`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace
from pathlib import Path

from faultline import wiring
from faultline.settings import Settings
from faultline.summary import Counters, SummaryLog, ingest_counters
from ingest.liveness import Progress
from runtime.supervisor import Supervisor

log = logging.getLogger("faultline.run")
TICK_S = 1.0  # the detect thread closes due windows at least this often (and as soon as the event clock is there)
POLL_S = 0.2  # the longest the detect thread waits for records
SWEEP_S = 2.0
RECORD_BATCHES = 8  # batches of records waiting for the detect thread (then ingest waits: backpressure)


class Faultline:
    """All stages wired together over one settings object."""

    def __init__(self, settings: Settings, serve_api: bool = True, persistent_session: bool = True):
        self.settings = settings
        self.engine = wiring.sql_engine(settings)
        self.supervisor = Supervisor("faultline run")
        self.records: queue.Queue = queue.Queue(maxsize=RECORD_BATCHES)
        self.detect_progress = Progress()
        self.ingest = wiring.ingest_service(settings, engine=self.engine, sinks=[self._hand_to_detectors],
                                            persistent_session=persistent_session, supervisor=self.supervisor)
        self.state_path = Path(settings.data_dir) / "detectors" / "state-0-of-1.pkl"
        self.pipeline = wiring.pipeline(settings, self.ingest.client, engine=self.engine, guard=self.supervisor.guard)
        self.jobs = wiring.ticket_jobs(settings, self.pipeline.tickets)
        self.serve_api = serve_api
        self.stop_event = threading.Event()
        self.checkpoint_due = threading.Event()
        self._api_server = None
        self._scheduler = None

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        """Start every stage; raises `api.serve.ApiPortError` before anything runs if the API cannot bind."""
        from influx.ensure import DatabaseKeeper

        api_socket = self._bind_api() if self.serve_api else None
        if self.pipeline.detectors.restore(self.state_path):
            log.info("detector state restored from %s", self.state_path)
            self.supervisor.guard("detector catch-up", self._catch_up)
        DatabaseKeeper(self.ingest.client, self.stop_event).start()
        self.supervisor.spawn("faultline-detect", self._detect_loop)
        self.ingest.start()
        self._start_scheduler()
        if api_socket is not None:
            self._start_api(api_socket)
        SummaryLog(self.counters, self.settings.log_summary_s, self.stop_event).start()

    def counters(self) -> Counters:
        """What the summary line reports (see `faultline.summary`)."""
        from tickets.store import count_tickets

        return replace(ingest_counters(self.ingest), late=self.pipeline.detectors.late.count,
                       anomalies=self.pipeline.anomaly_count,
                       open_tickets=count_tickets(self.engine, state=("open", "acknowledged", "reopened")))

    def readiness(self) -> dict[str, str | None]:
        """What /ready reports: the broker, ingest, and the detect stage (None: fine)."""
        checks = self.ingest.readiness()
        stalled = self.detect_progress.stalled_s()
        dead = [t for t in self.supervisor.dead() if not t.startswith("ingest-")]
        checks["detectors"] = (f"thread {', '.join(dead)} stopped" if dead else
                               f"{self.detect_progress.waiting} batches waiting, none processed for {stalled:.0f} s"
                               if stalled >= self.settings.ready_stall_s else None)
        return checks

    def stop(self) -> None:
        """Stop reading, flush ingest, let the detectors finish what is durable, checkpoint; bounded in time."""
        deadline = time.monotonic() + self.settings.stop_timeout_s
        self.supervisor.stopping = True
        if self._api_server is not None:
            self._api_server.should_exit = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        self.ingest.stop(deadline=deadline - 4)
        self.stop_event.set()
        busy = self.supervisor.join(["faultline-detect", "faultline-api"], deadline)
        if busy:
            log.warning("stop: %s still busy after %.0f s", busy, self.settings.stop_timeout_s)

    def _hand_to_detectors(self, records) -> None:
        self.records.put(records)  # blocks while the detectors are behind: ingest acknowledges no faster
        self.detect_progress.arrived()

    def _catch_up(self) -> None:
        """Records stored after the checkpoint (a crash lost their effect): replay them from InfluxDB."""
        from detectors.warmup import catch_up
        from ingest.fields import field_names

        names = field_names(self.engine, {})
        found = catch_up(self.pipeline.detectors, self.ingest.client, int(time.time() * 1000), names)
        if found:
            self.pipeline.alert(found)

    def _start_scheduler(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(daemon=True)
        scheduler.add_job(self.checkpoint_due.set, "interval", seconds=self.settings.detector_checkpoint_s,
                          id="detector-checkpoint", name="detector-checkpoint")
        for job in self.jobs:
            scheduler.add_job(_guarded(job.name, job.run), "interval", seconds=job.every_s, id=job.name,
                              name=job.name)
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduled jobs: %s", ", ".join(f"{j.name} every {j.trigger.interval.total_seconds():g} s"
                                                 for j in scheduler.get_jobs()))

    def _bind_api(self):
        from api.serve import listen_socket

        return listen_socket(self.settings.api_host, self.settings.api_port)

    def _start_api(self, sock) -> None:
        import uvicorn

        app = wiring.api_app(self.settings, engine=self.engine, alerts=self.pipeline.alerts, pipeline=self,
                             tickets=self.pipeline.tickets)
        config = uvicorn.Config(app, host=self.settings.api_host, port=self.settings.api_port,
                                log_level="warning", lifespan="on")
        self._api_server = uvicorn.Server(config)
        self._api_server.install_signal_handlers = lambda: None  # the main thread owns signals
        self.supervisor.spawn("faultline-api", lambda: self._api_server.run(sockets=[sock]))

    # --- the detect thread ------------------------------------------------------------

    def _detect_loop(self) -> None:
        next_tick = next_sweep = time.monotonic()
        guard, pipeline = self.supervisor.guard, self.pipeline
        while True:
            try:
                batch = self.records.get(timeout=self._wait_s())
            except queue.Empty:
                batch = None
                if self.stop_event.is_set():
                    break
            if batch:
                guard("detect", pipeline.feed, batch)
            if batch is not None:
                self.detect_progress.completed(1)
            if pipeline.clock.started and (time.monotonic() >= next_tick
                                           or pipeline.clock() >= pipeline.detectors.close_at):
                pipeline.tick(pipeline.clock())
                next_tick = time.monotonic() + TICK_S
            if time.monotonic() >= next_sweep:
                pipeline.sweep()
                next_sweep = time.monotonic() + SWEEP_S
            if self.checkpoint_due.is_set():
                self.checkpoint_due.clear()
                guard("checkpoint", pipeline.detectors.checkpoint, self.state_path)
        guard("checkpoint", pipeline.detectors.checkpoint, self.state_path)
        if pipeline.anomalies is not None:
            guard("anomaly flush", pipeline.anomalies.flush)

    def _wait_s(self) -> float:
        """How long to wait for records: `POLL_S`, or less when a window closes sooner on the event clock.

        A window is closed (and what it found reaches the alert stage) within
        a millisecond or two of its close on the event clock, not at the next
        `TICK_S` of the wall clock.
        """
        clock = self.pipeline.clock
        if not clock.started:
            return POLL_S
        left = (self.pipeline.detectors.close_at - clock()) / 1000
        return min(POLL_S, max(0.001, left))


def _guarded(name: str, fn):
    def run():
        try:
            fn()
        except Exception:  # noqa: BLE001 - a failed job runs again at its next interval
            log.exception("scheduled job %s failed", name)
    return run
