"""`python -m bench.review_example`: the README's example review pages, from the seeded simulated month.

Simulates December 2025 and January 2026 on a throwaway SQLite store (`faultline.evaluation.ticket_month`),
renders its review as PDF and writes its first page and the KPI chart page
with poppler's ``pdftoppm`` to docs/review-example.png and
docs/review-example-kpis.png.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
JAN, FEB = 1_767_225_600_000, 1_769_904_000_000


def main() -> None:
    from database import make_engine, migrate
    from faultline.evaluation.ticket_month import simulate_month
    from tickets.review_data import gather
    from tickets.review_render import write

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'month.db'}"
        migrate(url)
        engine = make_engine(url)
        simulate_month(engine, JAN - 31 * 86_400_000, seed=1)  # December: the previous period of the trends
        simulate_month(engine, JAN, seed=0)
        (pdf,) = write(gather(engine, JAN, FEB), "pdf", Path(tmp) / "review.pdf")
        engine.dispose()
        for page, name in ((1, "review-example.png"), (3, "review-example-kpis.png")):
            stem = Path(tmp) / f"p{page}"
            subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                            str(pdf), str(stem)], check=True)
            shutil.copy(f"{stem}.png", DOCS / name)
            print(f"wrote {DOCS / name}")


if __name__ == "__main__":
    main()
