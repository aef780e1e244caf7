"""The review as Markdown (charts as PNG files beside it), HTML (charts embedded) or PDF (matplotlib's PdfPages)."""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from pathlib import Path

from tickets.review_charts import CHARTS, png

FORMATS = ("md", "html", "pdf")


def _date(ms: int, fmt: str = "%Y-%m-%d") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime(fmt)


def _dur(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


def title(review) -> str:
    return f"Faultline review {_date(review.from_ms)} – {_date(review.to_ms - 1)}"


def tables(review) -> list[tuple[str, list[str], list[list[str]]]]:
    """(heading, column names, rows) of every table of the review."""
    a, b, k, pk = review.after, review.previous_after, review.kpis, review.previous_kpis
    kpi_rows = [
        ["tickets", str(review.tickets), str(b.tickets)],
        ["first response", _dur(a.first_response_s), _dur(b.first_response_s)],
        ["handling time", _dur(a.handling_s), _dur(b.handling_s)],
        ["time to detect", _dur(a.time_to_detect_s), _dur(b.time_to_detect_s)],
        ["MTTA / MTTR (per cycle)", f"{_dur(k.mtta_s)} / {_dur(k.mttr_s)}", f"{_dur(pk.mtta_s)} / {_dur(pk.mttr_s)}"],
        ["localisation accuracy", f"{_pct(a.localisation_accuracy)} ({a.confirmed}/{a.judged})",
         f"{_pct(b.localisation_accuracy)} ({b.confirmed}/{b.judged})"],
        ["detector precision", _pct(a.detector_precision), _pct(b.detector_precision)],
        ["recurrence (key or cause)", _pct(a.recurrence_any_rate), _pct(b.recurrence_any_rate)],
        ["reopen rate", _pct(a.reopen_rate), _pct(b.reopen_rate)],
        ["satisfaction (1–5)", "–" if a.satisfaction is None else f"{a.satisfaction:.2f} ({a.rated})",
         "–" if b.satisfaction is None else f"{b.satisfaction:.2f} ({b.rated})"],
    ]
    incidents = [[f"#{i.id}", _date(i.opened_ms, "%m-%d %H:%M"), i.title[:48], f"{i.scope} {i.subject}"[:40],
                  str(i.devices), _dur(i.time_to_detect_s if i.time_to_detect_s >= 0 else None),
                  _dur(i.time_to_resolve_s), i.root_cause[:40]]
                 for i in review.incidents]
    out = [("KPIs", ["KPI", "this period", "previous period"], kpi_rows),
           ("Incidents", ["ticket", "opened", "what", "scope", "devices", "to detect", "to resolve", "root cause"],
            incidents),
           ("Top fault codes and cohorts by excess over expectation", ["name", "tickets", "expected", "excess"],
            [[e.name, str(e.tickets), f"{e.expected:g}", f"{e.excess:+g}"] for e in review.codes + review.cohorts]),
           ("Reopened or recurred", ["ticket", "title", "reopened", "recurred"],
            [[f"#{t}", title_[:60], str(r), str(c)] for t, title_, r, c in review.reopened]),
           ("No fault found by detector", ["detector", "no fault found", "classified"],
            [[d, str(n), str(c)] for d, n, c in review.nff_by_detector]),
           ("Threshold changes (no-fault-found feedback)", ["#", "detector", "cohort", "factor", "state"],
            [[str(x.id), x.detector, x.cohort, f"×{x.factor:g}",
              "in force" if x.reverted_ms is None else f"undone by {x.reverted_by}"] for x in review.adjustments])]
    return out


def markdown(review, out: Path) -> list[Path]:
    """Write ``out`` (.md) and its charts (``<stem>-chart-N.png``); the files written."""
    written = []
    lines = [f"# {title(review)}", "", "## Suggestions", ""]
    lines += [f"- {s}" for s in review.suggestions] or ["- none: nothing stood out"]
    for heading, cols, rows in tables(review):
        lines += ["", f"## {heading}", ""]
        if not rows:
            lines.append("none")
            continue
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    lines += ["", "## Charts", ""]
    for n, (name, draw) in enumerate(CHARTS, 1):
        path = out.with_name(f"{out.stem}-chart-{n}.png")
        path.write_bytes(png(draw(review)))
        written.append(path)
        lines.append(f"![{name}]({path.name})")
    out.write_text("\n".join(lines) + "\n")
    return [out] + written


def html_text(review) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{e(title(review))}</title>",
             "<style>body{font-family:sans-serif;max-width:60rem;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}img{max-width:100%}</style>",
             f"<h1>{e(title(review))}</h1><h2>Suggestions</h2><ul>"]
    parts += [f"<li>{e(s)}</li>" for s in review.suggestions] or ["<li>none: nothing stood out</li>"]
    parts.append("</ul>")
    for name, draw in CHARTS:
        data = base64.b64encode(png(draw(review))).decode()
        parts.append(f"<figure><img alt='{e(name)}' src='data:image/png;base64,{data}'><figcaption>{e(name)}"
                     f"</figcaption></figure>")
    for heading, cols, rows in tables(review):
        parts.append(f"<h2>{e(heading)}</h2>")
        if not rows:
            parts.append("<p>none</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    return "\n".join(parts) + "\n</html>\n"


def _table_page(pdf, heading: str, cols: list[str], rows: list[list[str]], page_rows: int = 28) -> None:
    from matplotlib.figure import Figure

    for start in range(0, max(len(rows), 1), page_rows):
        fig = Figure(figsize=(11.69, 8.27))  # A4 landscape: the widest table fits
        ax = fig.add_axes((0.04, 0.04, 0.92, 0.86))
        ax.axis("off")
        ax.set_title(heading if start == 0 else f"{heading} (continued)", loc="left", fontsize=12)
        chunk = rows[start:start + page_rows] or [["none"] + [""] * (len(cols) - 1)]
        lengths = [max(len(str(r[i])) for r in chunk + [cols]) + 2 for i in range(len(cols))]
        table = ax.table(cellText=chunk, colLabels=cols, loc="upper left", cellLoc="left",
                         colWidths=[n / sum(lengths) for n in lengths])
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        pdf.savefig(fig)


def pdf(review, out: Path) -> list[Path]:
    """A4 pages: title, suggestions and KPIs; the charts; one page per table (more when long)."""
    import textwrap

    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    with PdfPages(out, metadata={"Title": title(review), "Creator": "Faultline"}) as doc:
        fig = Figure(figsize=(8.27, 11.69))
        fig.text(0.06, 0.95, title(review), fontsize=16, weight="bold")
        y = 0.91
        fig.text(0.06, y, "Suggestions", fontsize=12, weight="bold")
        for s in review.suggestions or ("none: nothing stood out",):
            for i, line in enumerate(textwrap.wrap(s, 100)):
                y -= 0.02
                fig.text(0.07, y, ("• " if i == 0 else "  ") + line, fontsize=8)
        heading, cols, rows = tables(review)[0]
        ax = fig.add_axes((0.06, 0.05, 0.88, max(0.1, y - 0.12)))
        ax.axis("off")
        ax.set_title(heading, loc="left", fontsize=12)
        ax.table(cellText=rows, colLabels=cols, loc="upper left", cellLoc="left").set_fontsize(8)
        doc.savefig(fig)
        for name, draw in CHARTS:
            doc.savefig(draw(review))
        for heading, cols, rows in tables(review)[1:]:
            _table_page(doc, heading, cols, rows)
    return [out]


def write(review, fmt: str, out: Path) -> list[Path]:
    """Render the review to ``out`` in `fmt` (md, html or pdf); the files written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "md":
        return markdown(review, out)
    if fmt == "html":
        out.write_text(html_text(review))
        return [out]
    if fmt == "pdf":
        return pdf(review, out)
    raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
