"""`faultline tickets ...`: list, show and work tickets; KPIs; webhook and evidence jobs."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from faultline import terminal
from faultline.cli import command_engine, command_settings, format_option
from tickets.root_cause import CATEGORIES, VERDICTS


class _Context:
    """Settings and engine, made on first use (the database is migrated then)."""

    def __init__(self):
        self._settings = None
        self._engine = None

    @property
    def settings(self):
        if self._settings is None:
            self._settings = command_settings()
        return self._settings

    @property
    def engine(self):
        if self._engine is None:
            self._engine = command_engine(self.settings)
        return self._engine

    def workflow(self):
        from faultline.wiring import ticket_workflow

        return ticket_workflow(self.settings, self.engine)


pass_ctx = click.make_pass_decorator(_Context, ensure=True)


def _run(action):
    """Run a store or workflow call; its errors become a one-line message and exit code 1."""
    from tickets.store import TicketNotFound
    from tickets.workflow import InvalidInput, InvalidTransition

    try:
        return action()
    except (TicketNotFound, InvalidTransition, InvalidInput) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def tickets():
    """Tickets: one per alert key, with the evidence that locates the fault."""


@tickets.command("list")
@click.option("--state", multiple=True, help="open, acknowledged, resolved, closed or reopened (repeatable)")
@click.option("--assignee")
@click.option("--team")
@click.option("--limit", default=50, show_default=True)
@format_option
@pass_ctx
def list_cmd(ctx, state, assignee, team, limit, fmt):
    """Tickets, newest first."""
    from tickets import render, store

    found = store.list_tickets(ctx.engine, state=tuple(state) or None, assignee=assignee, team=team, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([t.to_dict() for t in found], sort_keys=True, indent=2))
        return
    click.echo(render.LIST_HEADER)
    for t in found:
        terminal.echo(render.one_line(t), one_line=True)
    if not found:
        click.echo("no tickets")


@tickets.command()
@click.argument("ticket_id", type=int)
@format_option
@pass_ctx
def show(ctx, ticket_id, fmt):
    """One ticket with its evidence, comments and history."""
    from tickets import render, store

    t = _run(lambda: store.get_ticket(ctx.engine, ticket_id))
    if fmt == "json":
        click.echo(json.dumps(t.to_dict(), sort_keys=True, indent=2))
        return
    terminal.echo(render.ticket_text(t))
    for c in store.comments(ctx.engine, ticket_id):
        terminal.echo(f"  comment {render.when(c.ts_ms)} (wall clock) {c.user}: {c.text}")
    for h in store.history(ctx.engine, ticket_id):
        terminal.echo(f"  v{h.version} {render.when(h.ts_ms)} (wall clock) {h.kind} {h.user}")


def _action(name: str, help_text: str, *options):
    """A workflow subcommand: `tickets <name> ID --user U [options]` printing the new state."""
    def decorate(fn):
        cmd = click.argument("ticket_id", type=int)(fn)
        cmd = click.option("--user", required=True, help="who does it")(cmd)
        for opt in options:
            cmd = opt(cmd)
        cmd = pass_ctx(cmd)
        return tickets.command(name, help=help_text)(cmd)
    return decorate


def _done(t) -> None:
    click.echo(f"ticket {t.id} is {t.state} (version {t.version})")


@_action("ack", "Acknowledge: you are working on it.")
def ack_cmd(ctx, ticket_id, user):
    _done(_run(lambda: ctx.workflow().ack(ticket_id, user)))


@_action("assign", "Assign to a person (and team).", click.option("--assignee", required=True),
         click.option("--team"))
def assign_cmd(ctx, ticket_id, user, assignee, team):
    _done(_run(lambda: ctx.workflow().assign(ticket_id, assignee, team, user=user)))


@_action("comment", "Add a comment.", click.option("--text", required=True))
def comment_cmd(ctx, ticket_id, user, text):
    _done(_run(lambda: ctx.workflow().comment(ticket_id, user, text)))


@_action("resolve", "Resolve with the root cause and what fixed it.",
         click.option("--root-cause", required=True), click.option("--resolution", required=True),
         click.option("--category", type=click.Choice(CATEGORIES), help="root-cause category from the catalogue"),
         click.option("--confirmed-attribute", help="what was at fault, e.g. firmware=2.1.0"),
         click.option("--attribution", type=click.Choice(VERDICTS),
                      help="the detector's attribution was confirmed, corrected or rejected"))
def resolve_cmd(ctx, ticket_id, user, root_cause, resolution, category, confirmed_attribute, attribution):
    _done(_run(lambda: ctx.workflow().resolve(ticket_id, user, root_cause, resolution, category=category,
                                              confirmed_attribute=confirmed_attribute, attribution=attribution)))


@_action("reopen", "Reopen a resolved or closed ticket.", click.option("--reason", required=True))
def reopen_cmd(ctx, ticket_id, user, reason):
    _done(_run(lambda: ctx.workflow().reopen(ticket_id, user, reason)))


@_action("close", "Close a resolved ticket.")
def close_cmd(ctx, ticket_id, user):
    _done(_run(lambda: ctx.workflow().close(ticket_id, user)))


@tickets.command()
@click.option("--by", type=click.Choice(["model", "firmware", "site", "team", "assignee", "source", "day", "week"]))
@click.option("--days", type=float, help="only tickets opened in the last N days")
@format_option
@pass_ctx
def kpis(ctx, by, days, fmt):
    """MTTA, MTTR, recurrence, open tickets and the after-sales KPIs (tickets/kpis.py, tickets/after_sales.py)."""
    import time

    from tickets import render
    from tickets.after_sales_queries import after_sales_report
    from tickets.kpi_queries import kpi_report

    since = int((time.time() - days * 86_400) * 1000) if days else None
    report = kpi_report(ctx.engine, by, opened_from_ms=since)
    after = after_sales_report(ctx.engine, by, opened_from_ms=since,
                               recurrence_days=ctx.settings.tickets_recurrence_days)
    if fmt == "json":
        click.echo(json.dumps({**asdict(report), "after_sales": asdict(after)}, indent=2))
        return
    for line in render.kpi_table(report) + [""] + render.after_sales_table(after):
        click.echo(line)


@tickets.command()
@pass_ctx
def deliver(ctx):
    """Send the webhook deliveries that are due (what the scheduler job does)."""
    from faultline.wiring import ticket_outbox

    outbox = ticket_outbox(ctx.settings, ctx.engine)
    if outbox is None:
        raise click.ClickException("no webhook configured (FAULTLINE_TICKETS_WEBHOOK_URL)")
    r = outbox.deliver_due()
    click.echo(f"delivered {r.delivered}, retrying {r.retrying}, dead {r.dead}")


@tickets.group()
def thresholds():
    """Detector thresholds raised for a cohort after repeated no-fault-found (tickets/threshold_feedback.py)."""


@thresholds.command("list")
@pass_ctx
def thresholds_list(ctx):
    """Every raise, in force or undone."""
    from datetime import datetime, timezone

    from tickets.threshold_feedback import adjustments

    found = adjustments(ctx.engine)
    if not found:
        click.echo("no threshold raised")
    for a in found:
        when = datetime.fromtimestamp(a.created_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
        state = "in force" if a.reverted_ms is None else f"undone by {a.reverted_by}"
        click.echo(f"#{a.id} {when} {a.detector} {a.cohort} x{a.factor:g} ({state}); "
                   f"no fault found on tickets {', '.join(map(str, a.tickets))}")


@thresholds.command("revert")
@click.argument("adjustment_id", type=int)
@click.option("--user", required=True)
@pass_ctx
def thresholds_revert(ctx, adjustment_id, user):
    """Undo one raise (the previous factor applies again; an audit line goes on its ticket)."""
    from runtime.clock import wall_ms
    from tickets.threshold_feedback import revert

    try:
        a = revert(ctx.engine, adjustment_id, user, wall_ms())
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    click.echo(f"threshold raise #{a.id} of {a.detector} on {a.cohort} undone")
