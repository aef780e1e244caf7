"""`TicketService.apply`: one ticket per alert key, opened or updated idempotently.

Rules (DESIGN §5):

- a *firing* alert opens a ticket for its key, or updates the current one
  (``count`` +1, last seen, alert count, severity escalates, flapping);
- ``pending`` alerts open nothing; silenced alerts (``silenced_by``) open nothing;
- a key that fires again within ``recurrence_days`` of its ticket being
  resolved (or closed) reopens that ticket: state ``reopened``,
  ``recurrences`` +1; later than that, a new ticket (next ``episode``);
- a child alert (``parent_key`` set) opens nothing: its device joins the
  parent's ticket; when the parent's ticket does not exist yet the child
  waits in ``ticket_pending_children`` and is attached when it opens; a
  ticket the child opened earlier on its own is folded into the parent's
  (closed, ``merged_into`` set); a child's resolution changes nothing;
- a *resolved* alert updates its ticket; with ``auto_resolve`` on, a ticket
  nobody has acknowledged (state ``open``, or ``reopened`` by a recurrence)
  is resolved with root cause "auto-resolved: quiet". A ticket a technician
  works — acknowledged, or reopened by a person — is left to them
  (routing's automatic assignment does not count as working it).

Concurrency: ``(key, episode)`` is unique; the opening INSERT uses ON CONFLICT
DO NOTHING and the reopen is a conditional UPDATE, so concurrent writers in
threads or processes meet in the database and exactly one ticket results.
Counters are incremented in SQL (``count = count + 1``), never read-modify-write.
Evidence is gathered outside the transaction, so a slow or dead InfluxDB
never holds a lock or blocks the ticket.
"""

from __future__ import annotations

import time
from typing import Callable

from sqlalchemy import Engine, case, select, update

from alerts.alert import Alert
from tickets import history, known_issues, store
from tickets.children import add_devices, attach_child, claim_pending_children
from tickets.evidence_refresh import EvidenceRefresher
from tickets.models import DONE_STATES, EventRow, TicketRow
from tickets.routing import RouteInput, Router, pick_assignee
from tickets.ticket import Ticket

T = TicketRow.__table__
SEVERITY_RANK = {"info": 0, "minor": 1, "major": 2, "critical": 3}
DAY_MS = 86_400_000
SYSTEM_USER = "faultline"


def _wall_ms() -> int:
    return int(time.time() * 1000)


class TicketService:
    """Applies alerts to the ticket store (see the module docstring for the rules)."""

    def __init__(self, engine: Engine, evidence_source=None, router: Router | None = None, outbox=None, *,
                 now: Callable[[], int] = _wall_ms, recurrence_days: float = 7.0, auto_resolve: bool = True,
                 registry: Callable[[str], object | None] | None = None, evidence_refresh_s: float = 300.0):
        self.engine = engine
        self.evidence_source = evidence_source
        self.router = router
        self.outbox = outbox
        self.now = now
        self.recurrence_days = recurrence_days
        self.auto_resolve = auto_resolve
        self.registry = registry
        self.evidence_refresh_s = evidence_refresh_s
        self._evidence = EvidenceRefresher(engine, evidence_source, now, evidence_refresh_s)

    @property
    def _window_ms(self) -> int:
        return int(self.recurrence_days * DAY_MS)

    @property
    def _webhooks(self) -> bool:
        return self.outbox is not None

    def apply(self, alert: Alert) -> Ticket | None:
        """Open or update the ticket of `alert`; the ticket it now belongs to, or None."""
        if alert.silenced_by or alert.state == "pending":
            return None
        if alert.parent_key:
            if alert.state == "resolved":  # the device stays listed on the parent's ticket
                return None
            return attach_child(self.engine, alert, self.now(), webhooks=self._webhooks, window_ms=self._window_ms)
        if alert.state == "resolved":
            return self._alert_resolved(alert)
        ticket_id, fresh = self._open_or_update(alert)
        return self._evidence.refresh(ticket_id, alert, force=fresh)

    def refresh_incomplete_evidence(self, limit: int = 50) -> int:
        """Scheduler job: gather again the evidence that InfluxDB could not give; how many tickets."""
        return self._evidence.refresh_incomplete(limit)

    def _open_or_update(self, alert: Alert) -> tuple[int, bool]:
        now = self.now()
        with self.engine.begin() as conn:
            row = store.current_row(conn, alert.key)
            if row is None or store.episode_over(row, now, self._window_ms):
                episode = 1 if row is None else row.episode + 1
                created = store.insert_ignore(conn, T, self._new_values(alert, episode, now), ["key", "episode"])
                row = store.current_row(conn, alert.key)
                if created:
                    self._on_open(conn, row.id, alert, now)
                    return row.id, True
            reopened = row.state in DONE_STATES and self._reopen(conn, row.id, now)
            self._bump(conn, row.id, alert, now)
            claim_pending_children(conn, row.id, alert.key, now, webhooks=self._webhooks, window_ms=self._window_ms)
            if reopened:
                history.record(conn, row.id, "recurred", SYSTEM_USER,
                               {"previous_root_cause": row.root_cause, "previous_resolution": row.resolution},
                               now, outbox=self._webhooks)
            return row.id, reopened

    def _reopen(self, conn, ticket_id: int, now: int) -> bool:
        """Reopen a done ticket; False when a concurrent writer already did."""
        res = conn.execute(update(T).where(T.c.id == ticket_id, T.c.state.in_(DONE_STATES)).values(
            state="reopened", reopened_ms=now, recurrences=T.c.recurrences + 1, acknowledged_ms=None,
            resolved_ms=None, closed_ms=None, resolved_by=None, root_cause=None, resolution=None,
            root_cause_category=None, confirmed_attribute=None, attribution=None))
        if res.rowcount == 1:
            from tickets.similar_search import unindex

            unindex(conn, ticket_id)
        return res.rowcount == 1

    def _bump(self, conn, ticket_id: int, alert: Alert, now: int) -> None:
        before = conn.execute(T.select().where(T.c.id == ticket_id)).first()
        rank = SEVERITY_RANK.get(alert.severity, 0)
        severity = case(*[(T.c.severity == s, s) for s, r in SEVERITY_RANK.items() if r >= rank],
                        else_=alert.severity)
        conn.execute(update(T).where(T.c.id == ticket_id).values(
            count=T.c.count + 1, updated_ms=now, alert_state=alert.state,
            # a new alert episode (the alert resolved and fired again) moves the incident's onset
            alert_starts_ms=case((T.c.alert_starts_ms < alert.starts_at_ms, alert.starts_at_ms),
                                 else_=T.c.alert_starts_ms),
            onset_ms=case((T.c.alert_starts_ms < alert.starts_at_ms, alert.anomaly.onset_ms), else_=T.c.onset_ms),
            last_seen_ms=case((T.c.last_seen_ms < alert.last_seen_ms, alert.last_seen_ms), else_=T.c.last_seen_ms),
            alert_count=case((T.c.alert_count < alert.count, alert.count), else_=T.c.alert_count),
            severity=severity, flapping=alert.flapping, explanation=alert.anomaly.explanation))
        added = add_devices(conn, ticket_id, alert.anomaly.devices, None, now)
        changes: dict = {"devices_added": added} if added else {}
        if SEVERITY_RANK.get(before.severity, 0) < rank:
            changes["severity"] = [before.severity, alert.severity]
        if bool(before.flapping) != alert.flapping:
            changes["flapping"] = [bool(before.flapping), alert.flapping]
        if changes:
            history.record(conn, ticket_id, "updated", SYSTEM_USER, changes, now, outbox=self._webhooks)

    def _new_values(self, alert: Alert, episode: int, now: int) -> dict:
        a = alert.anomaly
        attrs = self._attributes(alert)
        code = alert.code or alert.detector
        return dict(
            key=alert.key, episode=episode, title=f"{code}: {alert.scope} {alert.subject}"[:300],
            severity=alert.severity, state="open", detector=alert.detector, scope=alert.scope,
            subject=alert.subject, code=alert.code, opened_ms=now, updated_ms=now, alert_state=alert.state,
            alert_starts_ms=alert.starts_at_ms, onset_ms=a.onset_ms, last_seen_ms=alert.last_seen_ms,
            count=1, alert_count=alert.count, recurrences=0, flapping=alert.flapping, version=0,
            explanation=a.explanation, evidence_complete=False, **attrs)

    def _attributes(self, alert: Alert) -> dict[str, str]:
        """model/firmware/site/customer/tier: the registry's for a device, else the anomaly's."""
        a = alert.anomaly
        out = {"model": a.model, "firmware": a.firmware, "site": a.site, "customer": "", "tier": ""}
        if alert.scope == "cohort":
            for part in alert.subject.split(","):
                name, _, value = part.partition("=")
                if name in ("model", "firmware", "site") and value and not out[name]:
                    out[name] = value
        elif self.registry is not None:
            meta = self.registry(alert.subject)
            if meta is not None:
                out.update({k: getattr(meta, k, "") or out.get(k, "") for k in out})
        return out

    def _on_open(self, conn, ticket_id: int, alert: Alert, now: int) -> None:
        add_devices(conn, ticket_id, alert.anomaly.devices, None, now)
        known_issues.link(conn, ticket_id, now, outbox=self._webhooks)  # a known signature brings its fix
        claim_pending_children(conn, ticket_id, alert.key, now, webhooks=self._webhooks, window_ms=self._window_ms)
        detail = {"alert_state": alert.state, "severity": alert.severity}
        if self.router is not None:
            detail.update(self._route(conn, ticket_id, alert))
        history.record(conn, ticket_id, "opened", SYSTEM_USER, detail, now, outbox=self._webhooks)

    def _route(self, conn, ticket_id: int, alert: Alert) -> dict:
        row = conn.execute(T.select().where(T.c.id == ticket_id)).first()
        route = self.router.route(RouteInput(
            code=alert.code, detector=alert.detector, scope=alert.scope, model=row.model,
            firmware=row.firmware, site=row.site, customer=row.customer, tier=row.tier, severity=row.severity))
        if route is None:
            return {}
        assignee = pick_assignee(conn, route)
        values = {"team": route.team, "assignee": assignee}
        if route.severity:
            values["severity"] = route.severity
        conn.execute(update(T).where(T.c.id == ticket_id).values(**values))
        return {"route": route.rule, **values}

    def _alert_resolved(self, alert: Alert) -> Ticket | None:
        now = self.now()
        with self.engine.begin() as conn:
            row = store.current_row(conn, alert.key)
            if row is None or row.merged_into is not None:
                return None
            conn.execute(update(T).where(T.c.id == row.id).values(alert_state="resolved", updated_ms=now))
            if not self.auto_resolve or _reopened_by_a_person(conn, row.id):
                return store.get(conn, row.id)
            res = conn.execute(update(T).where(T.c.id == row.id, T.c.state.in_(("open", "reopened"))).values(
                state="resolved", resolved_ms=now, resolved_by=SYSTEM_USER,
                root_cause="auto-resolved: quiet", resolution="the alert resolved before anyone acknowledged it"))
            if res.rowcount == 1:
                return history.record(conn, row.id, "auto_resolved", SYSTEM_USER, {}, now, outbox=self._webhooks)
            return store.get(conn, row.id)


def _reopened_by_a_person(conn, ticket_id: int) -> bool:
    """Whether the ticket's last reopening was a person's (`Workflow.reopen`), not a recurrence."""
    E = EventRow.__table__
    last = conn.execute(select(E.c.kind).where(E.c.ticket_id == ticket_id, E.c.kind.in_(("reopened", "recurred")))
                        .order_by(E.c.version.desc()).limit(1)).scalar()
    return last == "reopened"
