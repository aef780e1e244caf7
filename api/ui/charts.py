"""Charts as inline SVG, drawn on the server: bars for the cohort table, the metric window, a line of telemetry.

Pure functions returning `markupsafe.Markup`; every label goes through
`escape`, so a value from a device cannot inject markup.
"""

from __future__ import annotations

from markupsafe import Markup, escape

W, BAR_H, GAP, LABEL_W = 360, 18, 6, 130


def _num(x: float) -> str:
    """Short number for a label.

    >>> _num(0.123456), _num(12.0), _num(1234.5)
    ('0.123', '12', '1.23e+03')
    """
    return f"{x:.3g}"


def bars(rows: list[tuple[str, float, bool]], title: str) -> Markup:
    """Horizontal bars: (label, value, highlighted). Highlighted bars carry class ``flagged``.

    >>> svg = bars([("2.1.0", 0.8, True), ("<b>", 0.1, False)], "fault rate")
    >>> svg.count("<rect"), "flagged" in svg, "&lt;b&gt;" in svg, "<b>" in svg
    (2, True, True, False)
    """
    top = max((v for _, v, _ in rows), default=0.0) or 1.0
    height = len(rows) * (BAR_H + GAP) + GAP
    out = [f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(title)}">'
           f"<title>{escape(title)}</title>"]
    for i, (label, value, flagged) in enumerate(rows):
        y = GAP + i * (BAR_H + GAP)
        width = max(1.0, (W - LABEL_W - 50) * value / top)
        cls = "bar flagged" if flagged else "bar"
        out.append(f'<text x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end">{escape(label[:24])}</text>'
                   f'<rect class="{cls}" x="{LABEL_W}" y="{y}" width="{width:.1f}" height="{BAR_H}"/>'
                   f'<text x="{LABEL_W + width + 4:.1f}" y="{y + 13}">{_num(value)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def paired_bars(rows: list[tuple[str, float | None, float | None]], title: str, names=("subject", "reference")
                ) -> Markup:
    """Two bars per metric (the subject's mean against its reference group's), each scaled to the pair.

    >>> svg = paired_bars([("temp_c", 80.0, 40.0), ("rpm", None, 3.0)], "metric window")
    >>> svg.count('class="bar subject"'), svg.count('class="bar reference"')  # one of each in the legend
    (2, 3)
    """
    height = len(rows) * (2 * BAR_H + 3 * GAP) + 24
    out = [f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(title)}">'
           f"<title>{escape(title)}</title>"
           f'<rect class="bar subject" x="{LABEL_W}" y="2" width="10" height="10"/>'
           f'<text x="{LABEL_W + 14}" y="11">{escape(names[0])}</text>'
           f'<rect class="bar reference" x="{LABEL_W + 110}" y="2" width="10" height="10"/>'
           f'<text x="{LABEL_W + 124}" y="11">{escape(names[1])}</text>']
    for i, (label, a, b) in enumerate(rows):
        y = 20 + i * (2 * BAR_H + 3 * GAP)
        top = max(abs(a or 0.0), abs(b or 0.0)) or 1.0
        out.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H + 3}" text-anchor="end">{escape(label[:24])}</text>')
        for j, (value, cls) in enumerate(((a, "subject"), (b, "reference"))):
            if value is None:
                continue
            yy = y + j * (BAR_H + GAP)
            width = max(1.0, (W - LABEL_W - 50) * abs(value) / top)
            out.append(f'<rect class="bar {cls}" x="{LABEL_W}" y="{yy}" width="{width:.1f}" height="{BAR_H}"/>'
                       f'<text x="{LABEL_W + width + 4:.1f}" y="{yy + 13}">{_num(value)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def line(points: list[tuple[int, float]], title: str, mark_ms: int | None = None) -> Markup:
    """A polyline of (time ms, value), oldest first; `mark_ms` draws a vertical marker (onset, report).

    >>> svg = line([(0, 1.0), (1000, 3.0), (2000, 2.0)], "temp_c", mark_ms=1000)
    >>> "<polyline" in svg, 'class="mark"' in svg
    (True, True)
    >>> "no data" in line([], "temp_c")
    True
    """
    h, pad = 140, 28
    if not points:
        return Markup(f'<p class="empty">{escape(title)}: no data in this window</p>')
    t0, t1 = points[0][0], points[-1][0]
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    span_t, span_v = (t1 - t0) or 1, (hi - lo) or 1.0

    def xy(t, v):
        return pad + (W - 2 * pad) * (t - t0) / span_t, h - pad - (h - 2 * pad) * (v - lo) / span_v

    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(t, v) for t, v in points))
    out = [f'<svg class="chart" viewBox="0 0 {W} {h}" role="img" aria-label="{escape(title)}">'
           f"<title>{escape(title)}</title>"
           f'<text x="{pad}" y="14">{escape(title[:40])}</text>'
           f'<text x="2" y="{pad + 4}">{_num(hi)}</text><text x="2" y="{h - pad}">{_num(lo)}</text>'
           f'<polyline class="series" fill="none" points="{coords}"/>']
    if mark_ms is not None and t0 <= mark_ms <= t1:
        x = xy(mark_ms, lo)[0]
        out.append(f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="{pad - 8}" y2="{h - pad}"/>')
    out.append("</svg>")
    return Markup("".join(out))
