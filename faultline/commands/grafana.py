"""``faultline grafana annotate``: push alert transitions to Grafana as annotations.

What is pushed and how is `alerts.grafana_annotations`; this is the command:
its range options, the settings it needs, its output and exit codes.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import click

from alerts.grafana_annotations import GrafanaError, HttpAnnotationApi, push_annotations
from faultline.settings import Settings, SettingsError, load_settings
from runtime.clock import wall_ms

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_duration_ms(text: str) -> int:
    """``30m``, ``6h``, ``7d`` → milliseconds.

    >>> parse_duration_ms("90s"), parse_duration_ms("2h"), parse_duration_ms("1.5d")
    (90000, 7200000, 129600000)
    """
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"expected a duration like 30m, 6h or 7d, not {text!r}")
    return int(float(m.group(1)) * _UNIT_MS[m.group(2)])


def parse_instant_ms(text: str) -> int:
    """RFC 3339 (``2026-03-01T12:00:00Z``) or epoch milliseconds → epoch ms.

    >>> parse_instant_ms("2026-03-01T12:00:00Z"), parse_instant_ms("1772366400000")
    (1772366400000, 1772366400000)
    """
    if text.strip().isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected RFC 3339 time or epoch milliseconds, not {text!r}") from None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp() * 1000)


def _grafana_api(settings: Settings) -> HttpAnnotationApi:
    missing = [name for name, value in (("FAULTLINE_GRAFANA_URL", settings.grafana_url),
                                         ("FAULTLINE_GRAFANA_TOKEN", settings.grafana_token.get_secret_value()))
               if not value]
    if missing:
        raise click.ClickException(
            f"{' and '.join(missing)} not set: pushing annotations needs Grafana's URL and a service-account "
            "token with the Editor role (Administration > Users and access > Service accounts)")
    return HttpAnnotationApi(settings.grafana_url, settings.grafana_token.get_secret_value())


@click.group()
def grafana():
    """Grafana integration (dashboards are provisioned from grafana/)."""


@grafana.command()
@click.option("--since", "since", default="24h", show_default=True, help="Range ending now, e.g. 30m, 6h, 7d")
@click.option("--from", "from_", help="Range start (RFC 3339 or epoch ms); overrides --since")
@click.option("--to", "to", help="Range end (RFC 3339 or epoch ms); default now")
@click.option("--dashboard-uid", help="Attach to one dashboard instead of the organisation")
@click.option("--dry-run", is_flag=True, help="Count what would be pushed; post nothing")
def annotate(since: str, from_: str | None, to: str | None, dashboard_uid: str | None, dry_run: bool):
    """Push alert transitions from InfluxDB `alert_events` to Grafana annotations."""
    from faultline.wiring import influx_client
    from influx.errors import InfluxError

    try:
        settings = load_settings()
        to_ms = parse_instant_ms(to) if to else wall_ms()
        from_ms = parse_instant_ms(from_) if from_ else to_ms - parse_duration_ms(since)
    except (SettingsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if from_ms > to_ms:
        raise click.BadParameter("the range starts after it ends", param_hint="--from/--to")
    api = _grafana_api(settings)
    influx = influx_client(settings)
    try:
        summary = push_annotations(influx, api, from_ms, to_ms, dashboard_uid, dry_run)
    except (GrafanaError, InfluxError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        influx.close()
    verb = "would push" if dry_run else "pushed"
    click.echo(f"{verb} {summary.pushed} of {summary.found} alert transitions to {settings.grafana_url} "
               f"({summary.present} already there)")
