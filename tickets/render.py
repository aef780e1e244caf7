"""A ticket as text for a terminal (`faultline tickets show`)."""

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


def one_line(t: Ticket) -> str:
    return (f"{t.id:>6}  {t.state:<12} {t.severity:<8} {(t.assignee or '-'):<12} {when(t.last_seen_ms)}  "
            f"x{t.count:<4} {t.title}")


def header(t: Ticket) -> list[str]:
    out = [f"Ticket {t.id}: {t.title}",
           f"  key {t.key} (episode {t.episode}, version {t.version})",
           f"  state {t.state}  severity {t.severity}  team {t.team or '-'}  assignee {t.assignee or '-'}",
           f"  opened {when(t.opened_ms)}  acknowledged {when(t.acknowledged_ms)}  "
           f"resolved {when(t.resolved_ms)}  closed {when(t.closed_ms)}",
           f"  alert {t.alert_state}, seen {t.count} times, last {when(t.last_seen_ms)}, "
           f"recurrences {t.recurrences}{', FLAPPING' if t.flapping else ''}",
           f"  cohort model={t.model or '-'} firmware={t.firmware or '-'} site={t.site or '-'}"]
    if t.devices:
        out.append(f"  devices {', '.join(t.devices)}")
    if t.merged_into:
        out.append(f"  merged into ticket {t.merged_into}")
    if t.root_cause:
        out.append(f"  root cause: {t.root_cause}\n  resolution: {t.resolution}")
    return out


def evidence(t: Ticket, log_lines: int = 15) -> list[str]:
    ev = t.evidence
    if ev is None:
        return ["Evidence: none yet"]
    e = ev.explanation
    out = [f"Evidence ({'complete' if ev.complete else 'INCOMPLETE'}, gathered {when(ev.gathered_ms)}):",
           f"  {e.text}", f"  observed {_num(e.observed)} expected {_num(e.expected)} "
           f"score {_num(e.score)} threshold {_num(e.threshold)} {e.attribution}".rstrip()]
    out += [f"  ! {err}" for err in ev.errors]
    if ev.logs:
        out.append(f"  Logs ({len(ev.logs)}, ERROR/FATAL first):")
        out += [f"    {when(x.ts_ms)} {x.device} {x.level:<5} {x.code:<6} {x.msg}" for x in ev.logs[:log_lines]]
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
