"""`AlertManager`: anomalies in, alert transitions out — for tickets and ``alert_events``.

For each anomaly the manager moves the record of its key through the
lifecycle (`alerts.lifecycle`), links device alerts under a firing cohort
alert (`alerts.inhibit`), marks silenced alerts (`alerts.silences`), persists
what changed (`alerts.store`) and records every transition in InfluxDB
(`alerts.events`). What it returns is what the ticket stage must apply:

- a firing alert when it starts firing and whenever it changes materially
  (severity raised, flapping flag, parent link, silence lifted), and as a
  repeat at most every ``repeat_interval_s`` while anomalies keep coming;
- a resolved alert when an episode that reached tickets ends;
- nothing for pending alerts, blips, or silenced alerts (their transitions
  still go to ``alert_events`` and to `active`);
- after a restart, on the first `tick`, the current state of every alert
  already announced (firing, or resolved within the quiet period), since the
  previous process may have stopped before the ticket stage applied it.

Device alerts with ``parent_key`` belong to the cohort's ticket. A device
alert that starts firing while a *pending* cohort alert it belongs to exists
waits for it (at most the pending time), so a cohort incident arriving a few
seconds after its devices leaks no device tickets; one announced earlier is
announced again with ``parent_key`` when the cohort alert fires. Time comes
only from the injected ``now`` (epoch ms).

Several managers may share one store: a change another process made first
wins (`alerts.store`); this manager then takes that state, drops its own
hand-offs for those keys and re-applies the anomalies it was folding in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from alerts.active import active_alerts
from alerts.alert import Alert
from alerts.config import AlertConfig
from alerts.events import EventWriter, event_line
from alerts.inhibit import parent_for
from alerts.lifecycle import FIRED, FLAPPING, LIVE, RESOLVED, SEVERITY, AlertRecord, advance, apply_anomaly, forgettable
from alerts.silences import first_silence
from alerts.store import AlertStateStore
from detectors.anomaly import Anomaly

log = logging.getLogger(__name__)

PARENT, UNSILENCED, SILENCED, REPEAT = "grouped", "unsilenced", "silenced", "repeat"
HANDED_OFF = {FIRED, FLAPPING, SEVERITY, PARENT, UNSILENCED}
MAX_BACKLOG_LINES = 100_000
EVENT_RETRY_MS = 10_000  # after a failed alert_events write, wait this long before the next try


def wall_clock_ms() -> int:
    """The current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class _Batch:
    """What one `observe` or `tick` changed."""

    now_ms: int
    dirty: dict[str, AlertRecord] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (key, alert_events line)


class AlertManager:
    """The alerting stage. One instance per store; safe to read from other threads."""

    def __init__(self, config: AlertConfig, store: AlertStateStore, events_writer: EventWriter,
                 now: Callable[[], int] = wall_clock_ms):
        self.config = config
        self.store = store
        self.events_writer = events_writer
        self.now = now
        self._lock = threading.Lock()
        self._records: dict[str, AlertRecord] = dict(store.load())
        self._cohorts: dict[str, Anomaly] = {}  # firing cohort alerts: possible parents
        self._pending_cohorts: dict[str, Anomaly] = {}  # pending ones: device alerts wait for them
        for rec in self._records.values():
            self._track_cohort(rec)
        self._silences = store.silences(now())
        self._backlog: list[str] = []
        self._retry_at_ms = 0
        self._resend_due = bool(self._records)
        self.events_dropped = 0

    # --- public API -----------------------------------------------------------

    def observe(self, anomaly: Anomaly) -> list[Alert]:
        """Fold one anomaly in; return the alerts the ticket stage must apply."""
        return self.observe_many((anomaly,))

    def observe_many(self, anomalies: Iterable[Anomaly]) -> list[Alert]:
        """Fold several anomalies in at once (one store transaction, one events write)."""
        anomalies = list(anomalies)
        with self._lock:
            batch = _Batch(self.now())
            for anomaly in anomalies:
                self._observe_one(batch, anomaly)
            alerts, refused = self._finish(batch)
            if refused:  # another process changed these alerts meanwhile: apply on top of its state
                batch = _Batch(batch.now_ms)
                for anomaly in anomalies:
                    if anomaly.key in refused:
                        self._observe_one(batch, anomaly)
                alerts += self._finish(batch)[0]
            return alerts

    def tick(self) -> list[Alert]:
        """Move every alert to now: promotions, resolves, flapping, silence changes."""
        with self._lock:
            batch = _Batch(self.now())
            self._silences = self.store.silences(batch.now_ms)
            if self._resend_due:
                self._resend(batch)
            for key in list(self._records):
                rec = self._records[key]
                new, reasons = advance(rec, batch.now_ms, self.config)
                self._update(batch, rec, new, reasons)
            gone = [k for k, r in self._records.items() if forgettable(r, batch.now_ms, self.config)]
            for key in gone:
                del self._records[key]
                batch.dirty.pop(key, None)
            alerts, _ = self._finish(batch)
            self.store.delete(gone)
            return alerts

    def active(self) -> list[Alert]:
        """Pending and firing alerts (silenced ones included, marked), most severe first."""
        with self._lock:
            records = list(self._records.values())
        return active_alerts(records)

    def get(self, key: str) -> Alert | None:
        """The alert with `key` in any state, while the manager still remembers it."""
        with self._lock:
            rec = self._records.get(key)
        return rec.to_alert() if rec else None

    # --- one record -----------------------------------------------------------

    def _observe_one(self, batch: _Batch, anomaly: Anomaly) -> None:
        old = self._records.get(anomaly.key)
        new, reasons = apply_anomaly(old, anomaly, batch.now_ms, self.config)
        if new is None:
            return
        if new.state == "firing" and not reasons and _repeat_due(new, batch.now_ms, self.config):
            reasons.add(REPEAT)
        self._update(batch, old, new, reasons)

    def _update(self, batch: _Batch, old: AlertRecord | None, new: AlertRecord, reasons: set[str]) -> None:
        new, reasons = self._link_parent(new, reasons)
        new, reasons = self._mark_silence(new, reasons, batch.now_ms)
        new = self._hand_off(batch, new, reasons)
        self._record_event(batch, new, reasons)
        self._track_cohort(new)
        if new != old:
            self._records[new.key] = new
            batch.dirty[new.key] = new
        if _is_firing_cohort(new) and (FIRED in reasons or (old is not None and new.anomaly is not old.anomaly)):
            self._adopt_children(batch, new)

    def _track_cohort(self, rec: AlertRecord) -> None:
        if rec.anomaly.scope != "cohort":
            return
        self._cohorts.pop(rec.key, None)
        self._pending_cohorts.pop(rec.key, None)
        if rec.state == "firing":
            self._cohorts[rec.key] = rec.anomaly
        elif rec.state == "pending":
            self._pending_cohorts[rec.key] = rec.anomaly

    def _awaits_cohort(self, rec: AlertRecord, now_ms: int) -> bool:
        """A fresh device alert waits (at most the pending time) for a pending cohort alert it belongs to."""
        if rec.anomaly.scope != "device" or rec.parent_key or rec.notified or not self._pending_cohorts:
            return False
        if now_ms - (rec.fired_at_ms or now_ms) >= self.config.pending_ms:
            return False
        return parent_for(rec.anomaly, self._pending_cohorts.items()) is not None

    def _link_parent(self, rec: AlertRecord, reasons: set[str]) -> tuple[AlertRecord, set[str]]:
        if rec.anomaly.scope != "device" or rec.state not in LIVE or rec.parent_key or not self._cohorts:
            return rec, reasons
        parent = parent_for(rec.anomaly, self._cohorts.items())
        if parent is None:
            return rec, reasons
        return replace(rec, parent_key=parent), reasons | {PARENT}

    def _mark_silence(self, rec: AlertRecord, reasons: set[str], now_ms: int) -> tuple[AlertRecord, set[str]]:
        if rec.state not in LIVE:
            return rec, reasons
        silence = first_silence(self._silences, rec.anomaly, now_ms)
        if silence == rec.silenced_by:
            return rec, reasons
        change = SILENCED if silence else UNSILENCED
        return replace(rec, silenced_by=silence), reasons | ({change} if rec.state == "firing" else set())

    def _hand_off(self, batch: _Batch, rec: AlertRecord, reasons: set[str]) -> AlertRecord:
        if rec.state == "firing" and self._awaits_cohort(rec, batch.now_ms):
            return rec
        if rec.state == "firing" and not rec.silenced_by and (reasons & (HANDED_OFF | {REPEAT}) or not rec.notified):
            rec = replace(rec, notified=True, emitted_at_ms=batch.now_ms)
            batch.alerts.append(rec.to_alert())
        elif rec.state == "resolved" and RESOLVED in reasons and rec.notified:
            # an announced episode always gets its end, even when silenced since: its ticket must close
            rec = replace(rec, emitted_at_ms=batch.now_ms)
            batch.alerts.append(replace(rec.to_alert(), silenced_by=None))
        return rec

    def _record_event(self, batch: _Batch, rec: AlertRecord, reasons: set[str]) -> None:
        changes = sorted(reasons - {REPEAT})
        if rec.state not in ("firing", "resolved") or not changes:
            return
        words = [_describe(c, rec) for c in changes]
        batch.lines.append((rec.key, event_line(rec.to_alert(), ", ".join(words), batch.now_ms)))

    def _resend(self, batch: _Batch) -> None:
        """After a restart, hand the current state of every announced alert to tickets again.

        The previous process may have stopped between saving a transition and
        the ticket stage applying it; tickets are idempotent by key, so the
        repeat is harmless. Resolves are repeated while still recent.
        """
        self._resend_due = False
        for rec in list(self._records.values()):
            if rec.state == "firing" and rec.notified:
                self._update(batch, rec, rec, {REPEAT})
            elif rec.state == "resolved" and rec.notified and rec.ends_at_ms is not None \
                    and batch.now_ms - rec.ends_at_ms <= self.config.resolve_after_ms:
                batch.alerts.append(replace(rec.to_alert(), silenced_by=None))

    def _adopt_children(self, batch: _Batch, cohort: AlertRecord) -> None:
        for rec in list(self._records.values()):
            if rec.anomaly.scope == "device" and rec.state in LIVE and rec.parent_key is None:
                self._update(batch, rec, rec, set())

    # --- persistence and events -----------------------------------------------

    def _finish(self, batch: _Batch) -> tuple[list[Alert], set[str]]:
        """Persist the batch; hand on only what was saved. Also the keys another process had changed."""
        refused = self.store.save(batch.dirty.values(), batch.now_ms)
        if refused:
            self._take_over(refused)
        self._backlog.extend(line for key, line in batch.lines if key not in refused)
        self._flush_events(batch.now_ms)
        return [a for a in batch.alerts if a.key not in refused], refused

    def _take_over(self, keys: set[str]) -> None:
        """Replace our copies of `keys` with what another process stored."""
        fresh = self.store.reload(keys)
        log.info("%d alerts changed by another process; taking their state", len(keys))
        for key in keys:
            rec = fresh.get(key)
            if rec is None:
                self._records.pop(key, None)
                self._cohorts.pop(key, None)
                self._pending_cohorts.pop(key, None)
            else:
                self._records[key] = rec
                self._track_cohort(rec)

    def _flush_events(self, now_ms: int) -> None:
        overflow = len(self._backlog) - MAX_BACKLOG_LINES
        if overflow > 0:
            del self._backlog[:overflow]
            self.events_dropped += overflow
            log.error("alert_events backlog full: dropped %d oldest events", overflow)
        if not self._backlog or now_ms < self._retry_at_ms:
            return
        try:
            self.events_writer.write_lines(list(self._backlog))
        except Exception as exc:  # alerting goes on either way
            if getattr(exc, "retryable", True):
                self._retry_at_ms = now_ms + EVENT_RETRY_MS
                log.warning("alert_events write failed (%d events kept for retry): %s", len(self._backlog), exc)
                return
            self.events_dropped += len(self._backlog)
            log.error("alert_events refused by InfluxDB, %d events dropped: %s", len(self._backlog), exc)
        self._backlog.clear()


def _is_firing_cohort(rec: AlertRecord) -> bool:
    return rec.anomaly.scope == "cohort" and rec.state == "firing"


def _repeat_due(rec: AlertRecord, now_ms: int, cfg: AlertConfig) -> bool:
    return rec.emitted_at_ms is None or now_ms - rec.emitted_at_ms >= cfg.repeat_interval_ms


def _describe(change: str, rec: AlertRecord) -> str:
    if change == FLAPPING:
        return "flapping" if rec.flapping else "stopped flapping"
    if change == SEVERITY:
        return f"severity raised to {rec.severity}"
    return change
