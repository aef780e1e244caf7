"""The review of a period, rendered and announced: `faultline report` and the scheduled job.

Periods: ``--from``/``--to`` are dates (UTC, ``--to`` exclusive) or epoch
milliseconds. The scheduled job (`ReviewJob`, hourly, from
``FAULTLINE_REPORT_SCHEDULE``: ``weekly``, ``monthly`` or both, empty for
none) renders each period that ended — the Monday-to-Monday week, the
calendar month — once, to ``<data dir>/reports/review-<from>-<to>.<format>``
(``FAULTLINE_REPORT_FORMAT``), then, with a webhook configured, POSTs
``{"event": "review", "period": …, "from": …, "to": …, "files": […],
"suggestions": […]}`` signed like the ticket deliveries
(``X-Faultline-Signature``). A failed announcement is logged and retried at
the next run; the file is not rendered again.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)
SCHEDULES = ("weekly", "monthly")


def parse_time(text: str) -> int:
    """Epoch ms from ``2026-01-01`` (UTC midnight), an RFC 3339 time, or epoch ms.

    >>> parse_time("2026-01-01"), parse_time("1767225600000")
    (1767225600000, 1767225600000)
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return int(stamp.timestamp() * 1000)


def last_periods(now_ms: int, schedule: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """The latest ended period of each schedule: (name, from ms, to ms).

    >>> [(n, f, t) for n, f, t in last_periods(parse_time("2026-02-04T10:00:00Z"), ("weekly", "monthly"))] == [
    ...     ("weekly", parse_time("2026-01-26"), parse_time("2026-02-02")),
    ...     ("monthly", parse_time("2026-01-01"), parse_time("2026-02-01"))]
    True
    """
    now = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    if "weekly" in schedule:
        end = today - timedelta(days=today.weekday())
        out.append(("weekly", end - timedelta(days=7), end))
    if "monthly" in schedule:
        end = today.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
        out.append(("monthly", start, end))
    return [(name, int(a.timestamp() * 1000), int(b.timestamp() * 1000)) for name, a, b in out]


def render(engine, from_ms: int, to_ms: int, fmt: str, out: Path, *, recurrence_days: float = 7):
    from tickets.review_data import gather
    from tickets.review_render import write

    review = gather(engine, from_ms, to_ms, recurrence_days=recurrence_days)
    return review, write(review, fmt, out)


class ReviewJob:
    """Render each ended period of the schedule once into ``reports_dir``, and announce it."""

    def __init__(self, engine, reports_dir: Path, schedule: tuple[str, ...], fmt: str = "pdf", *,
                 announce: Callable[[bytes], None] | None = None, recurrence_days: float = 7,
                 now: Callable[[], int] = lambda: int(time.time() * 1000)):
        self.engine, self.reports_dir, self.schedule, self.fmt = engine, reports_dir, schedule, fmt
        self.announce, self.recurrence_days, self.now = announce, recurrence_days, now

    def run(self) -> list[Path]:
        written = []
        for name, start, end in last_periods(self.now(), self.schedule):
            stem = f"review-{day(start)}-{day(end)}"
            out, marker = self.reports_dir / f"{stem}.{self.fmt}", self.reports_dir / f".{stem}.announced"
            if not out.exists():
                review, files = render(self.engine, start, end, self.fmt, out, recurrence_days=self.recurrence_days)
                written += files
                log.info("review of %s written to %s", stem, out)
            else:
                review, files = None, [out]
            if self.announce is not None and not marker.exists():
                if review is None:
                    from tickets.review_data import gather
                    review = gather(self.engine, start, end, recurrence_days=self.recurrence_days)
                body = json.dumps({"event": "review", "period": name, "from": day(start), "to": day(end),
                                   "files": [str(f) for f in files], "suggestions": list(review.suggestions)},
                                  sort_keys=True).encode()
                try:
                    self.announce(body)
                except Exception:  # noqa: BLE001 - the next run tries again
                    log.warning("review %s: the webhook announcement failed; retrying next run", stem, exc_info=True)
                    continue
                marker.write_text(day(self.now()) + "\n")
        return written


def day(ms: int) -> str:
    """The UTC date of epoch ms, as file names show it.

    >>> day(1767225600000)
    '2026-01-01'
    """
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def webhook_announcer(url: str, secret: str, timeout: float = 10.0) -> Callable[[bytes], None]:
    from tickets.webhook import SIGNATURE_HEADER, post_json, sign

    def announce(body: bytes) -> None:
        import time

        headers = {SIGNATURE_HEADER: sign(secret, body, int(time.time()))} if secret else {}
        post_json(url, body, headers, timeout)

    return announce
