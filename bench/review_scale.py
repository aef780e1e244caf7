"""`python -m bench.review_scale [--tickets N]`: the review of a large period, timed (not a test).

Fills a throwaway SQLite store with N tickets spread over 30 days (bulk
INSERT, seeded: four models, eight firmwares, twenty sites, thirty codes,
resolved with root causes and verdicts, some reopened, no-fault-found and
customer-rated), then times `gather` and the PDF and HTML renders, three
runs each; prints the medians and their ratio to the one-minute limit.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

DAY_MS = 86_400_000
JAN = 1_767_225_600_000
LIMIT_S = 60.0


def fill(engine, n: int, seed: int = 0) -> None:
    from sqlalchemy import insert

    from tickets.models import TicketRow

    rng = random.Random(seed)
    cats = ("firmware", "hardware", "installation", "environment", "network", "no_fault_found")
    rows = []
    for i in range(n):
        opened = JAN + rng.randrange(30 * DAY_MS)
        done = rng.random() < 0.9
        cat = rng.choice(cats) if done else None
        verdict = None if cat is None else ("rejected" if cat == "no_fault_found" else
                                            rng.choice(("confirmed",) * 9 + ("corrected",)))
        fw = f"2.{rng.randrange(8)}.0"
        rows.append(dict(
            key=f"device_fault_rate|device|d{i}|E{rng.randrange(30)}", episode=1, title=f"E: device d{i}",
            severity="major", state="resolved" if done else "open", detector=rng.choice(("device_fault_rate",
                                                                                          "cohort_fault_rate", "rule:vibration")),
            scope="device", subject=f"d{i}", code=f"E{rng.randrange(30)}", model=f"PX-{rng.randrange(4)}00",
            firmware=fw, site=f"sh-{rng.randrange(20):02d}", opened_ms=opened, updated_ms=opened,
            acknowledged_ms=opened + 600_000, first_response_ms=opened + 600_000,
            resolved_ms=opened + rng.randrange(3_600_000, 86_400_000) if done else None,
            resolved_by="ana" if done else None, alert_state="firing", alert_starts_ms=opened,
            onset_ms=opened - 900_000, last_seen_ms=opened, recurrences=int(rng.random() < 0.05),
            reopens=int(rng.random() < 0.02), root_cause_category=cat, attribution=verdict,
            confirmed_attribute=f"firmware={fw}" if cat == "firmware" else None,
            source="customer" if rng.random() < 0.05 else "detector",
            satisfaction=rng.randrange(1, 6) if rng.random() < 0.04 else None))
        if len(rows) == 20_000:
            with engine.begin() as conn:
                conn.execute(insert(TicketRow.__table__), rows)
            rows = []
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(TicketRow.__table__), rows)


def main() -> None:
    from database import make_engine, migrate
    from tickets.review_data import gather
    from tickets.review_render import write

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scale.db'}"
        migrate(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        fill(engine, args.tickets)
        print(f"filled {args.tickets:,} tickets in {time.perf_counter() - t0:.0f} s", flush=True)
        times = {"gather": [], "pdf": [], "html": []}
        for run in range(3):
            t0 = time.perf_counter()
            review = gather(engine, JAN, JAN + 30 * DAY_MS)
            times["gather"].append(time.perf_counter() - t0)
            for fmt in ("pdf", "html"):
                t0 = time.perf_counter()
                write(review, fmt, Path(tmp) / f"review.{fmt}")
                times[fmt].append(time.perf_counter() - t0)
        engine.dispose()
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.1f} s of {[round(v, 1) for v in values]}")
    total = statistics.median(times["gather"]) + statistics.median(times["pdf"])
    print(f"review of {args.tickets:,} tickets as PDF: {total:.1f} s = {total / LIMIT_S:.2f} of the {LIMIT_S:.0f} s limit")


if __name__ == "__main__":
    main()
