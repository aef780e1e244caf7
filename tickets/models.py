"""The ticket store's SQL tables (SQLAlchemy 2 declarative, shared `Base`).

One row in ``tickets`` per alert key and episode: ``(key, episode)`` is
unique, so concurrent writers for one key meet at the constraint and at most
one ticket exists per episode. A new episode starts only when a key recurs
more than the recurrence window after the previous ticket was resolved.

Times are integer epoch milliseconds. ``version`` counts the changes a
webhook consumer is told about; each of them is one row in ``ticket_events``
(history) and, when a webhook is configured, one row in ``ticket_outbox``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from database import Base

SOURCES = ("detector", "customer")
TICKET_STATES = ("open", "acknowledged", "resolved", "closed", "reopened")
ACTIVE_STATES = ("open", "acknowledged", "reopened")
DONE_STATES = ("resolved", "closed")


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("key", "episode", name="uq_tickets_key_episode"),
        Index("ix_tickets_state", "state"),
        Index("ix_tickets_assignee", "assignee"),
        Index("ix_tickets_merged_into", "merged_into"),
        Index("ix_tickets_source", "source"),
        Index("ix_tickets_queue", "severity", "opened_ms", "id"),  # the queue walks it per severity
        Index("ix_tickets_confirmed_attribute", "confirmed_attribute", "opened_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(512))
    episode: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    detector: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(512))
    code: Mapped[str] = mapped_column(String(64), default="")
    model: Mapped[str] = mapped_column(String(256), default="")
    firmware: Mapped[str] = mapped_column(String(256), default="")
    site: Mapped[str] = mapped_column(String(256), default="")
    customer: Mapped[str] = mapped_column(String(256), default="")
    tier: Mapped[str] = mapped_column(String(256), default="")
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    acknowledged_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reopened_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    alert_state: Mapped[str] = mapped_column(String(16))
    alert_starts_ms: Mapped[int] = mapped_column(BigInteger)
    onset_ms: Mapped[int] = mapped_column(BigInteger)
    last_seen_ms: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer, default=0)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    recurrences: Mapped[int] = mapped_column(Integer, default=0)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee: Mapped[str | None] = mapped_column(String(128), nullable=True)
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    root_cause: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    explanation: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, see tickets.evidence
    evidence_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # who raised it: the detectors, or a customer's report (then the report's fields are set)
    source: Mapped[str] = mapped_column(String(16), default="detector", server_default="detector")
    reported_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # when the customer saw it
    symptom: Mapped[str | None] = mapped_column(Text, nullable=True)
    frequency: Mapped[str | None] = mapped_column(String(32), nullable=True)
    impact: Mapped[str | None] = mapped_column(String(32), nullable=True)
    contact: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # what the technician found (tickets.root_cause)
    root_cause_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    confirmed_attribute: Mapped[str | None] = mapped_column(String(256), nullable=True)
    attribution: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # after-sales measures (tickets.after_sales): first acknowledgement or human comment, reopens by a
    # person, and the customer's rating (1-5) given at closing or through a one-time link (tickets.satisfaction)
    first_response_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reopens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    satisfaction: Mapped[int | None] = mapped_column(Integer, nullable=True)
    satisfaction_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    satisfaction_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    satisfaction_nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)
    known_issue_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # tickets.known_issues


class TicketDeviceRow(Base):
    """A device affected by a ticket: from the cohort anomaly or an attached child alert."""

    __tablename__ = "ticket_devices"
    __table_args__ = (UniqueConstraint("ticket_id", "device", name="uq_ticket_devices"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    device: Mapped[str] = mapped_column(String(128))
    child_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    attached_ms: Mapped[int] = mapped_column(BigInteger)


class PendingChildRow(Base):
    """A child alert that arrived before its parent's ticket; claimed when it opens."""

    __tablename__ = "ticket_pending_children"
    __table_args__ = (UniqueConstraint("parent_key", "child_key", name="uq_ticket_pending_children"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_key: Mapped[str] = mapped_column(String(512), index=True)
    child_key: Mapped[str] = mapped_column(String(512))
    device: Mapped[str] = mapped_column(String(128))
    ts_ms: Mapped[int] = mapped_column(BigInteger)


class CommentRow(Base):
    __tablename__ = "ticket_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    user: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    ts_ms: Mapped[int] = mapped_column(BigInteger)


class EventRow(Base):
    """The history of a ticket: one row per version."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    ts_ms: Mapped[int] = mapped_column(BigInteger)


class OutboxRow(Base):
    """A webhook delivery waiting, retrying, delivered or given up (``dead``)."""

    __tablename__ = "ticket_outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_ticket_outbox_key"),
        Index("ix_ticket_outbox_due", "delivered_ms", "dead", "next_attempt_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(600))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body that is signed
    created_ms: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_ms: Mapped[int] = mapped_column(BigInteger)
    delivered_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    dead: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class KnownIssueRow(Base):
    """A confirmed cohort root cause and its fix, matched to later tickets by signature (tickets.known_issues)."""

    __tablename__ = "known_issues"
    __table_args__ = (UniqueConstraint("code", "attribute", name="uq_known_issues_signature"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64))
    attribute: Mapped[str] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(32))
    log_pattern: Mapped[str | None] = mapped_column(String(512), nullable=True)
    root_cause: Mapped[str] = mapped_column(Text)
    fix: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    created_ms: Mapped[int] = mapped_column(BigInteger)


class ThresholdAdjustmentRow(Base):
    """A detector threshold raised for one cohort after repeated no-fault-found (tickets.threshold_feedback)."""

    __tablename__ = "threshold_adjustments"
    __table_args__ = (Index("ix_threshold_adjustments_detector", "detector", "cohort"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    detector: Mapped[str] = mapped_column(String(128))
    cohort: Mapped[str] = mapped_column(String(512))
    factor: Mapped[float] = mapped_column(Float)
    tickets: Mapped[str] = mapped_column(Text)  # JSON list of the no-fault-found ticket ids
    created_ms: Mapped[int] = mapped_column(BigInteger)
    reverted_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reverted_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
