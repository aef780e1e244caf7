"""Many concurrent open-or-update calls for one key: exactly one ticket, every call counted."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from faultline.db import make_engine
from ticket_support import apply_many, make_alert
from tickets.models import TicketRow
from tickets.service import TicketService

THREADS, PER_THREAD = 8, 12
PROCESSES, PER_PROCESS = 3, 25


def _tickets_for_key(url: str, key: str) -> list[tuple[int, int]]:
    engine = make_engine(url)
    T = TicketRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(T.c.id, T.c.count).where(T.c.key == key)).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_threads_open_exactly_one_ticket(db_url):
    engine = make_engine(db_url)
    service = TicketService(engine, None, None, None, now=lambda: 1_700_000_000_000)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda i: [service.apply(make_alert(count=i)).id for _ in range(PER_THREAD)],
                                range(THREADS)))
    engine.dispose()
    ids = {i for r in results for i in r}
    assert len(ids) == 1
    assert _tickets_for_key(db_url, make_alert().key) == [(ids.pop(), THREADS * PER_THREAD)]


def test_processes_open_exactly_one_ticket(db_url):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(PROCESSES) as pool:
        barrier = manager.Barrier(PROCESSES)
        results = pool.starmap(apply_many, [(db_url, PER_PROCESS, barrier)] * PROCESSES)
    ids = {i for r in results for i in r}
    assert len(ids) == 1
    assert _tickets_for_key(db_url, make_alert().key) == [(ids.pop(), PROCESSES * PER_PROCESS)]
