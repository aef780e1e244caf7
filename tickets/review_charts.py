"""The review's charts, drawn with matplotlib's Agg backend (no display, no network): figures and PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after the backend is chosen)

NOW, BEFORE = "#1f77b4", "#b0b0b0"


def per_day(review) -> Figure:
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.subplots()
    days = [d for d, _, _ in review.per_day]
    det = [n for _, n, _ in review.per_day]
    cust = [n for _, _, n in review.per_day]
    ax.bar(days, det, color=NOW, label="detector")
    ax.bar(days, cust, bottom=det, color="#ff7f0e", label="customer")
    ax.set_title("Tickets opened per day")
    ax.set_ylabel("tickets")
    ax.tick_params(axis="x", labelrotation=90, labelsize=6)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _pairs(ax, labels, now, before, title, unit):
    ys = range(len(labels))
    ax.barh([y + 0.2 for y in ys], [v or 0 for v in now], height=0.4, color=NOW, label="this period")
    ax.barh([y - 0.2 for y in ys], [v or 0 for v in before], height=0.4, color=BEFORE, label="previous")
    ax.set_yticks(list(ys), labels, fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(unit, fontsize=7)
    ax.legend(fontsize=6)


def kpi_trends(review) -> Figure:
    fig = Figure(figsize=(7.5, 3.2))
    left, right = fig.subplots(1, 2)
    a, b = review.after, review.previous_after
    shares = ("localisation_accuracy", "detector_precision", "recurrence_any_rate", "reopen_rate")
    _pairs(left, [s.replace("_", " ").replace(" any", "") for s in shares], [getattr(a, s) for s in shares],
           [getattr(b, s) for s in shares], "Shares", "share of tickets")
    left.set_xlim(0, 1)
    times = ("first_response_s", "handling_s", "time_to_detect_s")
    _pairs(right, ["first response", "handling", "time to detect"],
           [(getattr(a, t) or 0) / 3600 for t in times], [(getattr(b, t) or 0) / 3600 for t in times],
           "Times (means)", "hours")
    fig.tight_layout()
    return fig


def excess(review) -> Figure:
    fig = Figure(figsize=(7.5, 3.2))
    left, right = fig.subplots(1, 2)
    for ax, items, title in ((left, review.codes, "Fault codes"), (right, review.cohorts, "Cohorts")):
        items = list(items)[::-1]
        _pairs(ax, [e.name for e in items], [e.tickets for e in items], [e.expected for e in items],
               f"{title}: tickets vs expected", "tickets")
    fig.tight_layout()
    return fig


def root_causes(review) -> Figure:
    fig = Figure(figsize=(7.5, 2.6))
    ax = fig.subplots()
    names = [c.replace("_", " ") for c, _ in review.root_causes] or ["none recorded"]
    ax.bar(names, [n for _, n in review.root_causes] or [0], color=NOW)
    ax.set_title("Root causes found")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return fig


CHARTS = (("Tickets per day", per_day), ("KPIs against the previous period", kpi_trends),
          ("Top fault codes and cohorts by excess", excess), ("Root causes", root_causes))


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()
