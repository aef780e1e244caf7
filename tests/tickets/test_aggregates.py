"""Aggregates reused until a ticket changes, on a real store: a change recomputes in line; an aged value with
nothing changed is answered at once and recomputed behind the request."""

from __future__ import annotations

import threading

from support.tickets import make_alert
from support.waiting import wait_until
from tickets.aggregates import AggregateCache
from tickets.service import TicketService
from tickets.workflow import Workflow


def test_a_change_recomputes_and_an_aged_value_is_refreshed_behind_the_request(sqlite_engine, clock):
    svc = TicketService(sqlite_engine, None, None, None, now=clock, recurrence_days=7)
    ticket = svc.apply(make_alert("pump-a"))
    age = [0.0]
    cache = AggregateCache(ttl_s=60, clock=lambda: age[0], engine=sqlite_engine)
    calls, release = [], threading.Event()

    def compute(conn):
        calls.append(threading.current_thread().name)
        if len(calls) == 3:
            release.wait(10)  # the refresh behind the request: slow on purpose
        return len(calls)

    with sqlite_engine.connect() as conn:
        assert [cache.get(conn, "k", compute) for _ in range(3)] == [1, 1, 1]  # reused: nothing changed
    Workflow(sqlite_engine, now=clock).ack(ticket.id, "alice")  # a history row: the stamp moves
    with sqlite_engine.connect() as conn:
        assert cache.get(conn, "k", compute) == 2  # computed in line
        age[0] = 61.0
        assert cache.get(conn, "k", compute) == 2  # aged: the kept value at once ...
        assert cache.get(conn, "k", compute) == 2  # ... and one refresh only, still running
    wait_until(lambda: len(calls) == 3, 10, what="the refresh started")
    assert calls[-1] == "aggregate-refresh"
    release.set()
    with sqlite_engine.connect() as conn:
        assert wait_until(lambda: cache.get(conn, "k", compute) == 3, 10, what="the refreshed value")
    assert len(calls) == 3
