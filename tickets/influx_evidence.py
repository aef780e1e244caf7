"""`InfluxEvidence`: a ticket's evidence gathered from InfluxDB.

`InfluxEvidence.gather` collects the log slice around onset (ERROR/FATAL
first, bounded), the metric window of the subject against its cohort, the
cohort comparison table (fault rate per attribute value) and a Grafana link,
through the InfluxQL of `tickets.evidence_queries`. Each part that fails is
left out and named in ``errors``; the evidence is then marked incomplete and
the ticket store refreshes it later.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence
from urllib.parse import quote

from tickets import evidence_queries as q
from tickets.evidence import Evidence, EvidenceRequest


@dataclass(frozen=True, slots=True)
class EvidenceWindow:
    """How far around onset to look, and how many log lines to keep."""

    before_s: float = 900.0
    after_s: float = 300.0
    log_lines: int = 50


def incident_window(onset_ms: int, last_seen_ms: int, window: EvidenceWindow) -> tuple[int, int]:
    """[start, end) in epoch ms: before onset, until after the last sighting.

    >>> incident_window(1_000_000, 1_060_000, EvidenceWindow(before_s=60, after_s=30))
    (940000, 1090000)
    """
    start = onset_ms - int(window.before_s * 1000)
    end = max(onset_ms, last_seen_ms) + int(window.after_s * 1000)
    return start, end


def grafana_link(template: str, request: EvidenceRequest, start_ms: int, end_ms: int) -> str:
    """Fill the Grafana URL template; unknown placeholders are left empty.

    Placeholders: {device} (the subject device, or the first affected one),
    {subject} {key} {model} {firmware} {site} {code} {from_ms} {to_ms}.

    >>> from tickets.evidence import Explanation
    >>> r = EvidenceRequest("k", "device", "pump 7", "E1", (), "PX", "", "", "", 0, 0,
    ...                     Explanation("", 0.0, 0.0, 0.0, 0.0))
    >>> grafana_link("http://g/d/x?var-device={device}&from={from_ms}&to={to_ms}", r, 5, 9)
    'http://g/d/x?var-device=pump%207&from=5&to=9'
    """
    if not template:
        return ""
    device = request.subject if request.scope == "device" else (request.devices[0] if request.devices else "")
    values = {"device": device, "subject": request.subject, "key": request.key, "model": request.model,
              "firmware": request.firmware, "site": request.site, "code": request.code}
    values = {k: quote(v, safe="") for k, v in values.items()}
    values.update(from_ms=str(start_ms), to_ms=str(end_ms))
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**{n: values.get(n, "") for n in names})


@dataclass(frozen=True)
class InfluxEvidence:
    """Gathers evidence from InfluxDB through an injected `InfluxClient`-like object."""

    client: object  # has .rows(q, params=None, epoch="ms") -> list[dict]
    grafana_template: str = ""
    window: EvidenceWindow = field(default_factory=EvidenceWindow)
    fields: Callable[[dict], Sequence[str]] | None = None  # metric names of the devices a tag filter matches

    def gather(self, request: EvidenceRequest, now_ms: int) -> Evidence:
        start, end = incident_window(request.onset_ms, request.last_seen_ms, self.window)
        ev = Evidence(now_ms, True, (), start, end, request.explanation, devices=request.devices,
                      grafana_url=grafana_link(self.grafana_template, request, start, end))
        parts = [("logs", lambda: {"logs": q.log_slice(
                     self.client, _log_filter(request), request.onset_ms, start, end, self.window.log_lines)}),
                 ("metrics", lambda: _metrics_part(self.client, request, start, end, self._names))]
        if request.scope == "cohort":
            parts.append(("cohort", lambda: {"cohort": q.cohort_table(
                self.client, request.attribution, _cohort_filter(request), start, end,
                self._names(_cohort_filter(request)))}))
        errors: list[str] = []
        for name, fetch in parts:
            if _unreachable(errors):
                errors.append(f"{name}: skipped, InfluxDB did not answer")
                continue
            ev = self._part(ev, errors, name, fetch)
        return replace(ev, complete=not errors, errors=tuple(errors))

    def _names(self, filters: dict) -> Sequence[str]:
        return self.fields(filters) if self.fields is not None else ()

    @staticmethod
    def _part(ev: Evidence, errors: list[str], name: str, fetch) -> Evidence:
        try:
            return replace(ev, **fetch())
        except Exception as exc:  # any failure leaves the part out; the ticket still opens
            retry = getattr(exc, "retryable", None)
            hint = "" if retry is None else (" (retryable)" if retry else " (not retryable)")
            unreachable = " [no answer]" if retry and getattr(exc, "status", 0) is None else ""
            errors.append(f"{name}: {type(exc).__name__}: {exc}{hint}"[:480] + unreachable)
            return ev


def _unreachable(errors: list[str]) -> bool:
    """After a network error or timeout, the other parts would only wait for the same timeout."""
    return any(e.endswith("[no answer]") for e in errors)


def _cohort_tags(request: EvidenceRequest) -> dict[str, str]:
    return {k: v for k, v in (("model", request.model), ("firmware", request.firmware),
                              ("site", request.site)) if v}


def _log_filter(request: EvidenceRequest) -> dict:
    """The subject device; for a cohort its affected devices, else its tags."""
    if request.scope == "device":
        return {"device": request.subject}
    return {"device": tuple(request.devices)} if request.devices else _cohort_tags(request)


def _cohort_filter(request: EvidenceRequest) -> dict[str, str]:
    """The cohort table compares values of the attributed attribute within the same model
    (across the fleet when the model itself is the attributed attribute)."""
    attr = request.attribution.split("=", 1)[0] if request.attribution else "firmware"
    return {"model": request.model} if request.model and attr != "model" else {}


def _metrics_part(client, request: EvidenceRequest, start: int, end: int, names_of) -> dict:
    """A device against its cohort; a cohort against its model (the fleet when it is a whole model)."""
    cohort = _cohort_tags(request)
    if request.scope == "device":
        subject = {"device": request.subject}
        reference = cohort
    else:
        subject = cohort
        reference = {"model": request.model} if request.model and len(cohort) > 1 else {}
    label = ",".join(f"{k}={v}" for k, v in reference.items()) or "fleet"
    return {"metrics": q.metric_window(client, subject, reference, start, end, names_of(subject)),
            "reference": label}
