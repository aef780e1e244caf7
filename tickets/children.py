"""Grouping: device alerts inhibited by a cohort alert join the cohort's ticket.

A child alert (``parent_key`` set) opens no ticket. Its device is attached to
the parent's current ticket; if that ticket does not exist yet, the child
waits in ``ticket_pending_children`` and is attached when the parent's ticket
opens (`claim_pending_children`). A ticket the child opened on its own before
it was grouped is folded into the parent's: closed, ``merged_into`` set.

Race between a child and its parent's opening: the child looks for the
parent again after writing its pending row (on SQLite it then holds the
write lock, so it sees a parent that opened meanwhile), and every repeat of
the parent's alert claims pending children too — on PostgreSQL a child
that slipped between the parent's claim and its commit is attached at the
parent's next repeat.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, select, update

from alerts.alert import Alert
from tickets import history, store
from tickets.models import ACTIVE_STATES, PendingChildRow, TicketDeviceRow, TicketRow
from tickets.ticket import Ticket

T = TicketRow.__table__
D = TicketDeviceRow.__table__
P = PendingChildRow.__table__
SYSTEM_USER = "faultline"


def add_devices(conn: Connection, ticket_id: int, devices, child_key: str | None, now: int) -> list[str]:
    """Attach devices to a ticket (each once); the ones newly attached."""
    return [d for d in devices if d and store.insert_ignore(
        conn, D, {"ticket_id": ticket_id, "device": d, "child_key": child_key, "attached_ms": now},
        ["ticket_id", "device"])]


def attach_child(engine: Engine, alert: Alert, now: int, *, webhooks: bool,
                 window_ms: int = 7 * 86_400_000) -> Ticket | None:
    """Attach a child alert's device to its parent's ticket; that ticket, or None while pending.

    A parent ticket resolved longer ago than `window_ms` is an old episode:
    the child waits for the parent's new ticket instead.
    """
    with engine.begin() as conn:
        parent = store.current_row(conn, alert.parent_key)
        if parent is None or store.episode_over(parent, now, window_ms):
            store.insert_ignore(conn, P, {"parent_key": alert.parent_key, "child_key": alert.key,
                                          "device": alert.subject, "ts_ms": now}, ["parent_key", "child_key"])
            parent = store.current_row(conn, alert.parent_key)  # opened since the first look?
            if parent is None or store.episode_over(parent, now, window_ms):
                return None
            claim_pending_children(conn, parent.id, alert.parent_key, now, webhooks=webhooks, window_ms=window_ms)
            return store.get(conn, parent.id)
        _attach(conn, parent.id, alert.key, alert.subject, now, webhooks)
        return store.get(conn, parent.id)


def claim_pending_children(conn: Connection, ticket_id: int, parent_key: str, now: int, *, webhooks: bool,
                           window_ms: int = 7 * 86_400_000) -> int:
    """Attach the children that arrived before this ticket opened; how many were claimed."""
    rows = conn.execute(select(P).where(P.c.parent_key == parent_key)).all()
    fresh = [r for r in rows if r.ts_ms >= now - window_ms]
    for r in fresh:
        _attach(conn, ticket_id, r.child_key, r.device, now, webhooks)
    if rows:  # only the rows read: one committed meanwhile stays for the next claim
        conn.execute(delete(P).where(P.c.id.in_([r.id for r in rows])))
    return len(fresh)


def _attach(conn: Connection, parent_id: int, child_key: str, device: str, now: int, webhooks: bool) -> None:
    added = add_devices(conn, parent_id, (device,), child_key, now)
    folded = _fold(conn, child_key, parent_id, now, webhooks)
    if added or folded:
        history.record(conn, parent_id, "child_attached", SYSTEM_USER,
                       {"device": device, "child_key": child_key, "folded_ticket": folded}, now, outbox=webhooks)


def _fold(conn: Connection, child_key: str, parent_id: int, now: int, webhooks: bool) -> int | None:
    """Close the child's own active ticket into the parent's; its id, or None."""
    row = store.current_row(conn, child_key)
    if row is None or row.id == parent_id or row.merged_into is not None or row.state not in ACTIVE_STATES:
        return None
    res = conn.execute(update(T).where(T.c.id == row.id, T.c.merged_into.is_(None)).values(
        merged_into=parent_id, state="closed", closed_ms=now,
        resolution=f"merged into ticket {parent_id}: the device is part of a cohort incident"))
    if res.rowcount != 1:
        return None
    conn.execute(update(D).where(D.c.ticket_id == row.id, D.c.child_key.is_(None)).values(child_key=child_key))
    add_devices(conn, parent_id, store.devices_of(conn, row.id) or (row.subject,), child_key, now)
    history.record(conn, row.id, "merged", SYSTEM_USER, {"into": parent_id}, now, outbox=webhooks)
    return row.id

