"""``faultline grafana annotate``: push alert transitions to Grafana as annotations.

The dashboards already draw alerts from InfluxDB (`alert_events`) with an
InfluxQL annotation query. Pushing them into Grafana's own annotation store
as well makes them visible on every dashboard (and in Grafana's alerting and
reporting tools) with the tag ``faultline``. A push is idempotent: a
transition already stored in Grafana (same time, alert key and state) is not
posted again, so the command can run from cron over overlapping ranges.

Grafana is reached through the small `AnnotationApi` seam; `HttpAnnotationApi`
speaks Grafana's HTTP API (``GET``/``POST /api/annotations``) with a
service-account token as a Bearer header.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import click

from faultline.settings import Settings, SettingsError, load_settings

TAG = "faultline"
ALERT_EVENTS_QUERY = (
    'SELECT "alert", "state", "severity", "subject", "text", "ticket" FROM "alert_events" '
    "WHERE time >= $start AND time <= $end ORDER BY time ASC"
)


class GrafanaError(Exception):
    """A failed Grafana request; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """One row of ``alert_events``: an alert key entering `firing` or `resolved`."""

    ts_ms: int
    alert: str
    state: str
    severity: str
    subject: str
    text: str
    ticket: str

    @property
    def tags(self) -> list[str]:
        """Grafana tags: searchable by alert key, state, severity and subject.

        >>> AlertTransition(0, "telemetry|device|pump-7|", "firing", "major", "pump-7", "hot", "").tags
        ['faultline', 'alert:telemetry|device|pump-7|', 'state:firing', 'severity:major', 'subject:pump-7']
        """
        return [TAG, f"alert:{self.alert}", f"state:{self.state}", f"severity:{self.severity}",
                f"subject:{self.subject}"]

    def body(self, dashboard_uid: str | None = None) -> dict[str, Any]:
        text = f"[{self.state}] {self.text}"
        if self.ticket:
            text += f" (ticket {self.ticket})"
        body: dict[str, Any] = {"time": self.ts_ms, "tags": self.tags, "text": text}
        if dashboard_uid:
            body["dashboardUID"] = dashboard_uid
        return body

    def identity(self) -> tuple[int, str, str]:
        return self.ts_ms, f"alert:{self.alert}", f"state:{self.state}"


class AnnotationApi(Protocol):
    """The part of Grafana's annotation API that pushing needs."""

    def find(self, from_ms: int, to_ms: int, tags: Sequence[str]) -> list[Mapping[str, Any]]: ...

    def create(self, body: Mapping[str, Any]) -> int: ...


class HttpAnnotationApi:
    """Grafana's HTTP annotation API with a Bearer token (a service-account token)."""

    def __init__(self, url: str, token: str, timeout: float = 10.0, page_limit: int = 10_000):
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.page_limit = page_limit

    def __repr__(self) -> str:
        return f"HttpAnnotationApi(url={self.url!r}, token='***')"

    def find(self, from_ms: int, to_ms: int, tags: Sequence[str]) -> list[Mapping[str, Any]]:
        """Every annotation with all `tags` in the range, page by page (Grafana answers newest first)."""
        found: dict[Any, Mapping[str, Any]] = {}
        upper = to_ms
        while True:
            params = [("from", str(from_ms)), ("to", str(upper)), ("type", "annotation"),
                      ("limit", str(self.page_limit))] + [("tags", t) for t in tags]
            page = self._call("GET", "/api/annotations?" + urllib.parse.urlencode(params)) or []
            new = [a for a in page if a.get("id") not in found]
            found.update((a.get("id"), a) for a in new)
            if len(page) < self.page_limit or not new:
                return list(found.values())
            upper = min(int(a.get("time", upper)) for a in page)  # same-time ones come again; ids dedupe

    def create(self, body: Mapping[str, Any]) -> int:
        return int(self._call("POST", "/api/annotations", body).get("id", 0))

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self._token}", "Accept": "application/json",
            "Content-Type": "application/json", "User-Agent": "faultline"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace").replace(self._token or "\0", "***")
            hint = " (check FAULTLINE_GRAFANA_TOKEN: a service-account token with the Editor role)" \
                if exc.code in (401, 403) else ""
            raise GrafanaError(f"Grafana {method} {path.split('?')[0]}: HTTP {exc.code}{hint}: {detail}",
                               exc.code, exc.code in (408, 429) or exc.code >= 500) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GrafanaError(f"Grafana at {self.url} unreachable: {reason}", None, True) from None
        except ValueError:
            raise GrafanaError(f"Grafana {method} {path.split('?')[0]}: response is not JSON", None, False) from None


class AlertEventSource(Protocol):
    def rows(self, q: str, params: Mapping[str, Any] | None = None, epoch: str | None = "ms") -> list[dict]: ...


def read_transitions(influx: AlertEventSource, from_ms: int, to_ms: int) -> list[AlertTransition]:
    """Alert transitions stored in InfluxDB between two epoch-ms instants (inclusive)."""
    rows = influx.rows(ALERT_EVENTS_QUERY, params={"start": from_ms * 1_000_000, "end": to_ms * 1_000_000})
    return [AlertTransition(int(r["time"]), r.get("alert") or "", r.get("state") or "", r.get("severity") or "",
                            r.get("subject") or "", r.get("text") or "", r.get("ticket") or "") for r in rows]


@dataclass(frozen=True, slots=True)
class PushSummary:
    found: int  # transitions in InfluxDB
    pushed: int  # posted to Grafana now
    present: int  # already in Grafana


def push_annotations(influx: AlertEventSource, api: AnnotationApi, from_ms: int, to_ms: int,
                     dashboard_uid: str | None = None, dry_run: bool = False) -> PushSummary:
    """Post every transition in the range that Grafana does not hold yet."""
    transitions = read_transitions(influx, from_ms, to_ms)
    existing = {(int(a.get("time", 0)), tag, state)
                for a in api.find(from_ms, to_ms, [TAG])
                for tag in a.get("tags", ()) if tag.startswith("alert:")
                for state in a.get("tags", ()) if state.startswith("state:")}
    pushed = present = 0
    for t in transitions:
        if t.identity() in existing:
            present += 1
            continue
        if not dry_run:
            api.create(t.body(dashboard_uid))
        existing.add(t.identity())
        pushed += 1
    return PushSummary(len(transitions), pushed, present)


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
    from influx.client import InfluxClient
    from influx.errors import InfluxError

    try:
        settings = load_settings()
        to_ms = parse_instant_ms(to) if to else int(time.time() * 1000)
        from_ms = parse_instant_ms(from_) if from_ else to_ms - parse_duration_ms(since)
    except (SettingsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if from_ms > to_ms:
        raise click.BadParameter("the range starts after it ends", param_hint="--from/--to")
    api = _grafana_api(settings)
    influx = InfluxClient(settings.influx_url, settings.influx_db, settings.influx_user,
                          settings.influx_password.get_secret_value(), settings.influx_timeout_s)
    try:
        summary = push_annotations(influx, api, from_ms, to_ms, dashboard_uid, dry_run)
    except (GrafanaError, InfluxError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        influx.close()
    verb = "would push" if dry_run else "pushed"
    click.echo(f"{verb} {summary.pushed} of {summary.found} alert transitions to {settings.grafana_url} "
               f"({summary.present} already there)")
