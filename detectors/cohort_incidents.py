"""One cohort incident, one report stream: later findings on the same devices keep the first subject.

The cohort tests look at a growing, shifting body of evidence: a site fault
that hits pumps hardest is first explained by ``site=sh-02``, an hour later
by ``model=PX-200,site=sh-02``; a firmware regression on pumps of one
hardware revision may be named by either attribute from one look to the
next. Each name is its own alert key, hence its own ticket. `CohortIncidents`
remembers the cohort reports of the last ``forget_windows`` windows; a new
finding that narrows or widens an incident already reported (what it
names, its attribution and the attributes its whole cohort shares, contains
what the incident names, or the other way round)
and whose affected devices are mostly (``overlap`` of the smaller set)
the incident's is reported under that incident's subject, attribution and
code, with the union of the devices, so the alert stage sees one key and the
ticket stage one ticket; when the new finding is the wider one, its
attribution replaces the incident's (the key stays). A different
explanation of overlapping devices
(firmware against hardware revision) stays an incident of its own. The
explanation still states the new evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from detectors.anomaly import Anomaly


@dataclass(slots=True)
class _Incident:
    first: Anomaly
    devices: set
    last_ms: int


class CohortIncidents:
    def __init__(self, overlap: float = 0.5, forget_windows: int = 24):
        self.overlap = overlap
        self.forget_windows = forget_windows
        self.open: dict[str, _Incident] = {}  # subject -> incident

    def stick(self, anomalies: list[Anomaly], now_ms: int, window_ms: int) -> list[Anomaly]:
        """The anomalies, cohort findings renamed after the incident they continue."""
        self.open = {s: i for s, i in self.open.items() if i.last_ms >= now_ms - self.forget_windows * window_ms}
        out = []
        for a in anomalies:
            if a.scope != "cohort" or not a.devices:
                out.append(a)
                continue
            incident = self.open.get(a.subject) or self._continued(a)
            if incident is None:
                incident = self.open[a.subject] = _Incident(a, set(), a.ts_ms)
            if _pairs(a.attribution) < _pairs(incident.first.attribution):  # a wider cause explains it: name that
                incident.first = replace(incident.first, attribution=a.attribution, model=a.model,
                                         firmware=a.firmware, site=a.site)
            first = incident.first
            incident.devices |= set(a.devices)
            incident.last_ms = max(incident.last_ms, a.ts_ms)
            if (first.subject, first.code, first.attribution) != (a.subject, a.code, a.attribution):
                a = replace(a, subject=first.subject, attribution=first.attribution, code=first.code,
                            model=first.model, firmware=first.firmware, site=first.site,
                            devices=tuple(sorted(incident.devices)))
            out.append(a)
        return out

    def _continued(self, a: Anomaly) -> _Incident | None:
        devices, named = set(a.devices), _named(a)
        best, best_share = None, 0.0
        for incident in self.open.values():
            known = _named(incident.first)
            if not (named <= known or known <= named):
                continue  # another explanation (firmware against hardware revision): its own incident
            shared = len(devices & incident.devices)
            share = shared / max(1, min(len(devices), len(incident.devices)))
            if share >= self.overlap and share > best_share:
                best, best_share = incident, share
        return best


def _named(a: Anomaly) -> frozenset:
    """What a finding names: its attribution and the attributes its cohort shares.

    An attribution omits what it implies: ``firmware=2.0.3,site=sh-02`` on a
    firmware only pumps run is ``model=PX-200,firmware=2.0.3,site=sh-02``, a
    narrowing of ``model=PX-200,site=sh-02``, which its attribution alone
    would not show.
    """
    return _pairs(a.attribution) | _pairs(a.subject)


def _pairs(attribution: str) -> frozenset:
    """
    >>> sorted(_pairs("model=PX-200,site=sh-02"))
    ['model=PX-200', 'site=sh-02']
    """
    return frozenset(p for p in attribution.split(",") if p)
