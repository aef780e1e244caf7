"""Many concurrent open-or-update calls for one key: exactly one ticket, every call counted."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor, wait

from sqlalchemy import select

from database import make_engine
from support.clock import Clock
from support.tickets import ALERT_MS, apply_many, make_alert
from tickets import store
from tickets.models import TicketRow
from tickets.service import TicketService
from tickets.workflow import Workflow

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


def test_concurrent_recurrences_reopen_once(db_url):
    engine = make_engine(db_url)
    service = TicketService(engine, None, None, None, now=lambda: 1_700_000_000_000)
    first = service.apply(make_alert())
    Workflow(engine, now=lambda: 1_700_000_000_000).resolve(first.id, "ann", "cable", "replaced")
    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(lambda _: service.apply(make_alert()), range(THREADS * 2)))
    again = service.apply(make_alert())
    engine.dispose()
    assert {t.id for t in got} == {first.id}
    assert (again.state, again.recurrences, again.count) == ("reopened", 1, THREADS * 2 + 2)


def test_concurrent_recurrences_after_the_window_open_one_new_ticket(db_url):
    clock = Clock(ALERT_MS)
    engine = make_engine(db_url)
    service = TicketService(engine, None, None, None, now=clock, recurrence_days=7)
    first = service.apply(make_alert())
    Workflow(engine, now=clock).resolve(first.id, "ann", "cable", "replaced")
    clock.advance(8 * 86_400)
    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(lambda _: service.apply(make_alert()), range(THREADS * 2)))
    engine.dispose()
    assert len({t.id for t in got}) == 1 and got[0].id != first.id
    assert sorted(_tickets_for_key(db_url, first.key)) == [(first.id, 1), (got[0].id, THREADS * 2)]


def test_child_racing_its_parent_always_ends_on_the_parent_ticket(db_url):
    engine = make_engine(db_url)
    service = TicketService(engine, None, None, None, now=lambda: 1_700_000_000_000)
    rounds = 30
    with ThreadPoolExecutor(2) as pool:
        for i in range(rounds):
            parent = make_alert(f"model=PX-{i}", scope="cohort", detector="cohort_fault_rate", model=f"PX-{i}")
            child = make_alert(f"dev-{i}", parent_key=parent.key)
            wait([pool.submit(service.apply, parent), pool.submit(service.apply, child)])
            service.apply(parent)  # the parent's next repeat
    tickets = store.list_tickets(engine, limit=rounds + 1)
    engine.dispose()
    assert len(tickets) == rounds
    assert [t.devices for t in tickets] == [(f"dev-{t.subject.split('-')[-1]}",) for t in tickets]
