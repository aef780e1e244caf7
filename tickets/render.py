"""A ticket as text for a terminal (`faultline tickets list|show|kpis`).

Times are labelled with their clock: a ticket's workflow times (opened,
acknowledged, ...) are wall-clock times of the service; an alert's onset and
last anomaly are event times, the devices' own timestamps (which differ from
wall time when data is replayed or arrives late).
"""

from __future__ import annotations

from datetime import datetime, timezone

from tickets.ticket import Ticket


def when(ms: int | None) -> str:
    """UTC time of epoch ms, or "-".

    >>> when(1_700_000_000_000), when(None)
    ('2023-11-14 22:13:20Z', '-')
    """
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


LIST_HEADER = f"{'id':>6}  {'state':<12} {'severity':<8} {'assignee':<12} {'last anomaly (event time)':<21} " \
              f"{'count':<5} title"


def one_line(t: Ticket) -> str:
    """A row under `LIST_HEADER`."""
    return (f"{t.id:>6}  {t.state:<12} {t.severity:<8} {(t.assignee or '-'):<12} {when(t.last_seen_ms):<21} "
            f"x{t.count:<4} {t.title}")


def human_duration(seconds: float | None) -> str:
    """A duration for people.

    >>> [human_duration(s) for s in (None, 42, 754, 11_100, 190_000)]
    ['-', '42 s', '12 min 34 s', '3 h 5 min', '2 d 4 h']
    """
    if seconds is None:
        return "-"
    s = round(seconds)
    for unit, size, sub, sub_size in (("d", 86_400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if s >= size:
            rest = (s % size) // sub_size
            return f"{s // size} {unit}" + (f" {rest} {sub}" if rest else "")
    return f"{s} s"


def header(t: Ticket) -> list[str]:
    out = [f"Ticket {t.id}: {t.title}",
           f"  key {t.key} (episode {t.episode}, version {t.version})",
           f"  state {t.state}  severity {t.severity}  team {t.team or '-'}  assignee {t.assignee or '-'}",
           f"  opened {when(t.opened_ms)}  acknowledged {when(t.acknowledged_ms)}  "
           f"resolved {when(t.resolved_ms)}  closed {when(t.closed_ms)}  (wall clock)",
           f"  alert {t.alert_state}, seen {t.count} times, onset {when(t.onset_ms)}, last anomaly "
           f"{when(t.last_seen_ms)} (event time), recurrences {t.recurrences}{', FLAPPING' if t.flapping else ''}",
           f"  cohort model={t.model or '-'} firmware={t.firmware or '-'} site={t.site or '-'}"]
    if t.devices:
        out.append(f"  devices {', '.join(t.devices)}")
    if t.merged_into:
        out.append(f"  merged into ticket {t.merged_into}")
    if t.root_cause:
        out.append(f"  root cause: {t.root_cause}\n  resolution: {t.resolution}")
        if t.root_cause_category or t.attribution:
            out.append(f"  category: {t.root_cause_category or '-'}, attribution {t.attribution or '-'}"
                       f" ({t.confirmed_attribute or 'no attribute'})")
    return out


def evidence(t: Ticket, log_lines: int = 15) -> list[str]:
    ev = t.evidence
    if ev is None:
        return ["Evidence: none yet"]
    e = ev.explanation
    out = [f"Evidence ({'complete' if ev.complete else 'INCOMPLETE'}, gathered {when(ev.gathered_ms)} wall clock):",
           f"  {e.text}", f"  observed {_num(e.observed)} expected {_num(e.expected)} "
           f"score {_num(e.score)} threshold {_num(e.threshold)} {e.attribution}".rstrip()]
    out += [f"  ! {err}" for err in ev.errors]
    if ev.logs:
        shown = ev.logs[:log_lines]
        out.append(f"  Logs ({len(shown)} of {len(ev.logs)}, ERROR/FATAL first; event time):")
        out += [f"    {when(x.ts_ms)} {x.device} {x.level:<5} {x.code:<6} {x.msg}" for x in shown]
        if len(ev.logs) > len(shown):
            out.append(f"    ... {len(ev.logs) - len(shown)} more log lines (all of them: "
                       f"faultline tickets show {t.id} --format json)")
    if ev.metrics:
        out.append(f"  Metrics min/mean/max: subject vs {ev.reference}")
        out += [f"    {m.metric:<20} {_num(m.subject.min)}/{_num(m.subject.mean)}/{_num(m.subject.max)}  vs  "
                f"{_num(m.reference.min)}/{_num(m.reference.mean)}/{_num(m.reference.max)}" for m in ev.metrics]
    if ev.cohort:
        out.append("  Cohort comparison (faults per active device):")
        out += [f"  {'>' if r.flagged else ' '} {r.attribute}={r.value:<12} devices {r.devices:<5} "
                f"faults {r.faults:<6} rate {r.rate:.3g}" for r in ev.cohort]
    if ev.similar:
        out.append("  Similar past tickets:")
        out += [f"    #{s.ticket_id} ({s.score:.2f}) {s.title} — {s.root_cause}: {s.resolution}" for s in ev.similar]
    if ev.grafana_url:
        out.append(f"  Grafana: {ev.grafana_url}")
    return out


def ticket_text(t: Ticket) -> str:
    return "\n".join(header(t) + evidence(t))


def kpi_table(report) -> list[str]:
    """A `tickets.kpis.KpiReport` as a table with human durations."""
    head = f"{report.by or 'all':<14} {'tickets':>7} {'open':>5} {'acked':>5} {'resolved':>8} {'auto':>5} " \
           f"{'MTTA':>12} {'MTTR':>12} {'recurrence':>10}"
    rows = [("all", report.overall)] + ([(value or "-", k) for value, k in report.groups] if report.by else [])
    out = [head]
    for name, k in rows:
        rate = "-" if k.recurrence_rate is None else f"{k.recurrence_rate:.0%}"
        out.append(f"{name[:14]:<14} {k.tickets:>7} {k.open:>5} {k.acknowledged:>5} {k.resolved:>8} "
                   f"{k.auto_resolved:>5} {human_duration(k.mtta_s):>12} {human_duration(k.mttr_s):>12} {rate:>10}")
    return out


def after_sales_table(report) -> list[str]:
    """A `tickets.after_sales_queries.AfterSalesReport` as a table (shares as %, times human)."""
    def pct(v):
        return "-" if v is None else f"{v:.0%}"

    head = f"{report.by or 'all':<14} {'tickets':>7} {'1st resp':>10} {'handling':>10} {'detect':>10} " \
           f"{'loc acc':>7} {'precision':>9} {'recur':>6} {'reopen':>6} {'rating':>6}"
    rows = [("all", report.overall)] + ([(value or "-", k) for value, k in report.groups] if report.by else [])
    out = [head]
    for name, k in rows:
        rating = "-" if k.satisfaction is None else f"{k.satisfaction:.2f}"
        out.append(f"{name[:14]:<14} {k.tickets:>7} {human_duration(k.first_response_s):>10} "
                   f"{human_duration(k.handling_s):>10} {human_duration(k.time_to_detect_s):>10} "
                   f"{pct(k.localisation_accuracy):>7} {pct(k.detector_precision):>9} "
                   f"{pct(k.recurrence_any_rate):>6} {pct(k.reopen_rate):>6} {rating:>6}")
    return out
