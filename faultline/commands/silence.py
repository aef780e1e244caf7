"""`faultline silence add|list|expire`: maintenance windows from the command line."""

from __future__ import annotations

import getpass
import json
import re
from datetime import datetime, timezone

import click

from faultline.cli import format_option

DURATION_UNITS_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}


def parse_duration(text: str) -> int:
    """A duration like ``2h``, ``90m``, ``1h30m`` or ``1d`` in milliseconds.

    >>> parse_duration("2h"), parse_duration("1h30m"), parse_duration("45s")
    (7200000, 5400000, 45000)
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    ValueError: bad duration 'soon': expected e.g. 30m, 2h, 1h30m, 1d
    """
    parts = re.findall(r"(\d+(?:\.\d+)?)([wdhms])", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"bad duration {text!r}: expected e.g. 30m, 2h, 1h30m, 1d")
    total = sum(float(n) * DURATION_UNITS_MS[u] for n, u in parts)
    if total <= 0:
        raise ValueError(f"bad duration {text!r}: must be positive")
    return round(total)


def format_time(ms: int) -> str:
    """Epoch ms as RFC 3339 UTC, to the second.

    >>> format_time(1767225600000)
    '2026-01-01T00:00:00Z'
    """
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_start(text: str | None, now_ms: int) -> int:
    if not text:
        return now_ms
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"expected an RFC 3339 time, got {text!r}", param_hint="--start") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


def _engine(create: bool = False):
    from faultline.cli import command_engine, command_settings

    settings = command_settings()
    return command_engine(settings, create=create)


@click.group()
def silence():
    """Mute matching alerts for a while (maintenance windows)."""


@silence.command("add")
@click.option("--match", "-m", "matchers", multiple=True, required=True,
              help="label=value, label!=value, label=~regex or label!~regex; labels: device, subject, model, "
                   "firmware, site, code, detector, scope. Repeat for several (all must match).")
@click.option("--duration", "-d", default="2h", show_default=True, help="How long, e.g. 30m, 2h, 1d")
@click.option("--start", default=None, help="RFC 3339 start time; default now")
@click.option("--comment", "-c", required=True, help="Why (shown with the silence)")
@click.option("--created-by", default=None, help="Who; default the current user")
def add(matchers, duration, start, comment, created_by):
    """Create a silence and print its id."""
    from alerts.manager import wall_clock_ms
    from alerts.silences import SilenceError, create_silence

    now_ms = wall_clock_ms()
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--duration") from None
    starts = _parse_start(start, now_ms)
    engine = _engine(create=True)
    try:
        created = create_silence(engine, matchers, starts_at_ms=starts, ends_at_ms=starts + length, now_ms=now_ms,
                                 created_by=created_by or getpass.getuser(), comment=comment)
    except SilenceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(created.id)


@silence.command("list")
@format_option
@click.option("--all", "show_all", is_flag=True, help="Include expired silences")
def list_command(fmt, show_all):
    """List pending and active silences (newest first)."""
    from alerts.manager import wall_clock_ms
    from alerts.silences import list_silences

    now_ms = wall_clock_ms()
    engine = _engine()
    try:
        found = list_silences(engine, include_expired=show_all, now_ms=now_ms)
    finally:
        engine.dispose()
    if fmt == "json":
        click.echo(json.dumps([s.to_json(now_ms) for s in found], indent=2))
        return
    width = max((len(str(s.id)) for s in found), default=2)
    click.echo(f"{'id':<{width}}  {'state':8}  {'starts → ends (UTC, wall clock)':42}  matchers  by: comment")
    for s in found:
        span = f"{format_time(s.starts_at_ms)} → {format_time(s.ends_at_ms)}"
        click.echo(f"{s.id!s:<{width}}  {s.state(now_ms):8}  {span:42}  "
                   f"{' '.join(str(m) for m in s.matchers)}  by {s.created_by or '-'}: {s.comment}")
    if not found:
        click.echo("no silences")


@silence.command("expire")
@click.argument("silence_id")
def expire(silence_id):
    """End a silence now."""
    from alerts.manager import wall_clock_ms
    from alerts.silences import SilenceNotFound, expire_silence

    engine = _engine()
    try:
        ended = expire_silence(engine, silence_id, now_ms=wall_clock_ms())
    except SilenceNotFound as exc:
        raise click.ClickException(str(exc.args[0])) from None
    finally:
        engine.dispose()
    click.echo(f"expired {ended.id} at {format_time(ended.ends_at_ms)}")
