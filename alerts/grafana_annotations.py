"""Alert transitions pushed to Grafana as annotations (`faultline grafana annotate`).

The dashboards already draw alerts from InfluxDB (`alert_events`) with an
InfluxQL annotation query. Pushing them into Grafana's own annotation store
as well makes them visible on every dashboard (and in Grafana's alerting and
reporting tools) with the tag ``faultline``. A push is idempotent: a
transition already stored in Grafana (same time, alert key and state) is not
posted again, so the command can run from cron over overlapping ranges.

Grafana is reached through the small `AnnotationApi` seam; `HttpAnnotationApi`
speaks Grafana's HTTP API (``GET``/``POST /api/annotations``) with a
service-account token as a Bearer header; whether a failure is worth a retry
is the one outbound-HTTP policy's call (`runtime.retry`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.retry import retryable_status

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
                               exc.code, retryable_status(exc.code)) from None
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
