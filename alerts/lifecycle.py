"""The life of one alert key: pending → firing → resolved, with hysteresis and flapping.

`AlertRecord` is the whole state of one key (what the store persists);
`apply_anomaly` and `advance` are pure: they take a record, an anomaly or the
time, and return the next record and the set of things that changed
(`FIRED`, `RESOLVED`, `DROPPED`, `FLAPPING`, `SEVERITY`). Times are the
arrival times given by the manager's clock, not the anomalies' event times.

States: ``pending`` (seen, not yet sure), ``firing``, ``resolved`` (an
episode that fired and ended) and ``inactive`` (a pending one that died out
without firing: a blip, never handed to tickets). A condition that keeps
coming back in bursts too short to pass the pending time is flapping: it
fires, marked so, instead of dying out again and again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alerts.alert import Alert
from alerts.config import AlertConfig
from alerts.flapping import clear_gap_ms, flap_window_ms, is_flapping, recent, step_ms
from alerts.severity import higher, severity_for
from detectors.anomaly import COHORT_FAULT_RATE, Anomaly

FIRED, RESOLVED, DROPPED, FLAPPING, SEVERITY = "fired", "resolved", "dropped", "flapping", "severity"
LIVE = ("pending", "firing")


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """Everything the lifecycle knows about one alert key."""

    key: str
    state: str  # pending | firing | resolved | inactive
    anomaly: Anomaly  # the latest one that counted
    starts_at_ms: int  # first anomaly of the episode
    last_seen_ms: int  # last anomaly at or above the re-arm level
    count: int  # anomalies folded into the episode
    severity: str  # highest of the episode
    fired_at_ms: int | None = None
    ends_at_ms: int | None = None
    flapping: bool = False
    raw_on: bool = True  # the condition is on (anomalies keep coming)
    changes: tuple[int, ...] = ()  # times the condition turned on or off, within the flap window
    parent_key: str | None = None  # firing cohort alert this device alert belongs to
    silenced_by: str | None = None
    notified: bool = False  # this episode's firing reached tickets
    emitted_at_ms: int | None = None  # last hand-off to tickets
    cadence_ms: int = 0  # event-time spacing of consecutive anomalies (the detector's window); 0: unknown

    def to_alert(self) -> Alert:
        a = self.anomaly
        state = self.state if self.state != "inactive" else "resolved"
        return Alert(
            key=self.key, detector=a.detector, scope=a.scope, subject=a.subject, code=a.code,
            severity=self.severity, state=state, starts_at_ms=self.starts_at_ms,
            last_seen_ms=self.last_seen_ms, ends_at_ms=self.ends_at_ms, count=self.count,
            flapping=self.flapping, anomaly=a, parent_key=self.parent_key, silenced_by=self.silenced_by,
        )


def rearm_level(threshold: float, ratio: float) -> float:
    """The score an anomaly needs to keep a firing alert alive (hysteresis).

    >>> rearm_level(10.0, 0.8), rearm_level(-2.0, 0.8), rearm_level(0.0, 0.8)
    (8.0, -2.5, 0.0)
    """
    return threshold * ratio if threshold >= 0 else threshold / ratio


def new_episode(prev: AlertRecord | None, anomaly: Anomaly, now_ms: int) -> AlertRecord:
    """A pending record for the first anomaly of an episode; flap history carries over."""
    severity = severity_for(anomaly.score, anomaly.threshold, anomaly.scope)
    changes = (prev.changes if prev else ()) + (now_ms,)
    return AlertRecord(
        key=anomaly.key, state="pending", anomaly=anomaly, starts_at_ms=now_ms, last_seen_ms=now_ms,
        count=1, severity=severity, flapping=prev.flapping if prev else False, changes=changes,
        cadence_ms=prev.cadence_ms if prev else 0,
    )


def apply_anomaly(rec: AlertRecord | None, anomaly: Anomaly, now_ms: int,
                  cfg: AlertConfig) -> tuple[AlertRecord | None, set[str]]:
    """Fold one anomaly into the record of its key (time first moved to `now_ms`)."""
    reasons: set[str] = set()
    if rec is not None:
        rec, reasons = advance(rec, now_ms, cfg)
    hot = anomaly.score >= anomaly.threshold
    warm = anomaly.score >= rearm_level(anomaly.threshold, cfg.rearm_ratio)
    if rec is None or rec.state not in LIVE:
        if not hot:
            return rec, reasons
        rec = new_episode(rec, anomaly, now_ms)
    elif rec.state == "pending" and hot or rec.state == "firing" and warm:
        before = rec.severity
        rec = _refresh(rec, anomaly, now_ms)
        if rec.state == "firing" and rec.severity != before:
            reasons.add(SEVERITY)
    elif warm:  # pending, between re-arm level and threshold: alive, not counted
        rec = replace(rec, last_seen_ms=now_ms, anomaly=anomaly, cadence_ms=_cadence(rec, anomaly))
    else:  # below the re-arm level: as good as quiet
        return rec, reasons
    rec, more = advance(rec, now_ms, cfg)
    return rec, reasons | more


def _refresh(rec: AlertRecord, anomaly: Anomaly, now_ms: int) -> AlertRecord:
    severity = higher(rec.severity, severity_for(anomaly.score, anomaly.threshold, anomaly.scope))
    changes = rec.changes if rec.raw_on else rec.changes + (now_ms,)
    return replace(rec, anomaly=anomaly, last_seen_ms=now_ms, count=rec.count + 1,
                   severity=severity, raw_on=True, changes=changes, cadence_ms=_cadence(rec, anomaly))


def _cadence(rec: AlertRecord, anomaly: Anomaly) -> int:
    """The latest event-time step between consecutive anomalies while the condition holds."""
    step = anomaly.ts_ms - rec.anomaly.ts_ms
    return step if rec.raw_on and step > 0 else rec.cadence_ms


def advance(rec: AlertRecord, now_ms: int, cfg: AlertConfig) -> tuple[AlertRecord, set[str]]:
    """Move the record to `now_ms`: condition off, flapping, promotion, drop, resolve."""
    reasons: set[str] = set()
    step = step_ms(rec.cadence_ms, rec.anomaly.window_s)
    gap = clear_gap_ms(step, cfg.clear_windows, cfg.resolve_after_ms)
    if rec.state == "firing" and _held(rec):  # its dips are not off/on changes either: no flapping from them
        gap = max(gap, round(cfg.cohort_hold_s * 1000))
    if rec.raw_on and rec.state in LIVE and now_ms - rec.last_seen_ms >= gap:
        rec = replace(rec, raw_on=False, changes=rec.changes + (rec.last_seen_ms + gap,))
    changes = recent(rec.changes, now_ms, flap_window_ms(cfg.flap_window_ms, step))
    # the detector's own raise/clear cycles count as on/off changes (a fault flapping inside the evidence)
    seen = len(changes) + (2 * rec.anomaly.flaps if rec.raw_on else 0)
    flapping = is_flapping(rec.flapping, seen, cfg.flap_start_changes, cfg.flap_stop_changes)
    if flapping != rec.flapping and rec.state == "firing":
        reasons.add(FLAPPING)
    rec = replace(rec, changes=changes, flapping=flapping)
    if rec.state == "pending":
        if flapping or rec.raw_on and ready(rec, now_ms, cfg):
            return replace(rec, state="firing", fired_at_ms=now_ms), reasons | {FIRED}
        if not rec.raw_on:  # a blip (a fault too short to fire, but recurring, is flapping: it fires)
            return replace(rec, state="inactive", ends_at_ms=now_ms), reasons | {DROPPED}
    elif rec.state == "firing" and now_ms - rec.last_seen_ms >= quiet_to_resolve_ms(rec, gap, cfg) and not flapping:
        return replace(rec, state="resolved", ends_at_ms=now_ms), (reasons - {FLAPPING}) | {RESOLVED}
    return rec, reasons


def quiet_to_resolve_ms(rec: AlertRecord, gap_ms: int, cfg: AlertConfig) -> int:
    """How long a firing alert must stay quiet to resolve.

    ``resolve_after`` and the condition's clear gap; for a cohort finding also
    its whole evidence window (``window_s``: the trailing horizon it counts
    faults over). A cohort score near its threshold dips under it now and then
    while the excess is still inside the horizon; resolving on such a dip made
    one incident a ticket that resolved and reopened as a "recurrence".
    Connectivity site reports carry their check step as window, so they still
    resolve soon after the devices are back. A firing cohort fault-rate
    finding also holds for ``cohort_hold_s``: found on the 6 h horizon, its
    excess can dip under the threshold there hours before the 24 h horizon,
    which still counts the same faults, confirms it; such dips do not turn
    its condition off either (`advance`), so they never make it flapping.
    """
    quiet = max(cfg.resolve_after_ms, gap_ms)
    if rec.anomaly.scope == "cohort":
        quiet = max(quiet, round(rec.anomaly.window_s * 1000))
    if _held(rec):
        quiet = max(quiet, round(cfg.cohort_hold_s * 1000))
    return quiet


def _held(rec: AlertRecord) -> bool:
    """A cohort fault-rate finding: firing, it holds for `AlertConfig.cohort_hold_s`."""
    return rec.anomaly.scope == "cohort" and rec.anomaly.detector == COHORT_FAULT_RATE


def ready(rec: AlertRecord, now_ms: int, cfg: AlertConfig) -> bool:
    """Whether a pending alert whose condition holds may fire, by its detector's emission pattern.

    A detector that repeats while the condition holds needs ``min_count``
    reports and the pending time; one that reports once per episode has
    debounced already, so its first report fires.
    """
    if rec.anomaly.emission == "episode":
        return True
    return rec.count >= cfg.min_count and now_ms - rec.starts_at_ms >= cfg.pending_ms


def forgettable(rec: AlertRecord, now_ms: int, cfg: AlertConfig) -> bool:
    """Whether a finished record no longer matters (no flap history left to keep)."""
    ended = rec.ends_at_ms if rec.ends_at_ms is not None else rec.last_seen_ms
    window = flap_window_ms(cfg.flap_window_ms, step_ms(rec.cadence_ms, rec.anomaly.window_s))
    return rec.state not in LIVE and not rec.changes and now_ms - ended >= window
