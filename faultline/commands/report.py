"""``faultline report``: the review (复盘) of a period, written to a file (`tickets.review`)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from faultline.cli import command_engine, command_settings
from tickets.review import day, parse_time, render


@click.command("report")
@click.option("--from", "from_", required=True, help="Start: 2026-01-01 (UTC), RFC 3339 or epoch ms")
@click.option("--to", "to", required=True, help="End, exclusive")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "md"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: <data dir>/reports/review-<from>-<to>.<format>)")
def report(from_, to, fmt, out):
    """The review (复盘) of a period: incidents, KPI trends, top codes and cohorts, suggestions, charts."""
    settings = command_settings()
    try:
        start, end = parse_time(from_), parse_time(to)
    except ValueError as exc:
        raise click.UsageError(f"--from/--to: {exc}") from None
    if end <= start:
        raise click.UsageError("--to must be after --from")
    out = out or Path(settings.data_dir) / "reports" / f"review-{day(start)}-{day(end)}.{fmt}"
    engine = command_engine(settings)
    t0 = time.perf_counter()
    review, files = render(engine, start, end, fmt, out, recurrence_days=settings.tickets_recurrence_days)
    click.echo(f"review of {review.tickets} tickets written to {', '.join(map(str, files))} "
               f"in {time.perf_counter() - t0:.1f} s")
