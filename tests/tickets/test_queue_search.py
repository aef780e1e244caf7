"""The queue's text search: the same matches as a scan, served by an index (SQLite trigram table, PostgreSQL pg_trgm)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select, text, update

from tickets.models import TicketRow
from tickets.queue import QueueQuery, queue_page, search_mode
from tickets.ticket_queries import TicketFilter

T = TicketRow.__table__
EVIDENCE = json.dumps({"gathered_ms": 0, "complete": True, "errors": [], "window_start_ms": 0, "window_end_ms": 1,
                       "explanation": {"text": "x", "observed": 1.0, "expected": 0.1, "score": 5.0, "threshold": 4.0,
                                       "attribution": ""}})
TEXTS = [  # (title, subject, explanation)
    ("Fault rate E214 on px200-0007", "px200-0007", "observed 12 faults/h against 0.4 expected"),
    ("Fault rate E301 on PX200-0070", "px200-0070", "Vibration_RMS reads 0.15"),
    ("Telemetry on ch50-0017", "ch50-0017", "temp_c has repeated the value 21.5 for an improbably long run"),
    ("Cohort model=PX-200,firmware=2.1.0", "model=PX-200,firmware=2.1.0", "17 of 40 devices 100% over"),
    ("Offline: site sh-04", "site=sh-04", 'the gateway said "bye" and went quiet'),
    ("Température élevée sur gw10-0003", "gw10-0003", "50% au-dessus"),
]
SEARCHES = ["px200-0007", "PX200-00", "0007", "vibration_rms", "e3", "firmware=2.1.0", "100%", "50%", "17",
            '"bye"', "sh-04 quiet", "%", "_", "nothing-like-this", "model=px-200 firmware", "empérat", "x"]


def _rows(n_copies: int = 1) -> list[dict]:
    rows = []
    for k in range(n_copies):
        for i, (title, subject, explanation) in enumerate(TEXTS):
            rows.append(dict(key=f"k|{k}|{i}", episode=1, title=title, severity=("critical", "major", "minor")[i % 3],
                             state=("open", "acknowledged", "resolved")[i % 3], detector="device_fault_rate",
                             scope="device", subject=subject, code="E214", opened_ms=1_000 + 10 * i + k,
                             updated_ms=1_000, alert_state="firing", alert_starts_ms=1_000, onset_ms=1_000,
                             last_seen_ms=1_000, count=1, explanation=explanation, evidence=EVIDENCE, version=1))
    return rows


def _expected(rows: list[dict], q: str) -> set[str]:
    """The search's meaning: every word somewhere in the title, subject or explanation, ignoring case."""
    words = q.lower().split()
    return {r["key"] for r in rows
            if all(any(w in r[c].lower() for c in ("title", "subject", "explanation")) for w in words)}


def _found(engine, q: str) -> set[str]:
    page = queue_page(engine, QueueQuery(TicketFilter(), q=q))
    return {t.key for t in page.tickets}


def _total(engine, q: str) -> int:
    return queue_page(engine, QueueQuery(TicketFilter(), q=q)).total


@pytest.mark.parametrize("q", SEARCHES)
def test_search_finds_what_a_scan_finds(engine, q):
    rows = _rows()
    with engine.begin() as conn:
        conn.execute(T.insert(), rows)
    found, expected = _found(engine, q), _expected(rows, q)
    assert found == expected, q
    page = queue_page(engine, QueueQuery(TicketFilter(), q=q))
    assert page.total == len(expected)  # the counts follow the same search
    modes = ("fts5", "columns") if engine.dialect.name == "sqlite" else ("text", "columns")
    with engine.connect() as conn:
        for mode in modes:  # the indexed way and the scan agree
            keys = set(conn.execute(select(T.c.key).where(*QueueQuery(TicketFilter(), q=q).conditions(mode))).scalars())
            assert keys == expected, (mode, q)


def test_the_index_follows_edits_and_serves_the_search(engine):
    rows = _rows(40)  # 240 tickets
    with engine.begin() as conn:
        conn.execute(T.insert(), rows)
        conn.execute(update(T).where(T.c.key == "k|3|0").values(title="Fault rate E214 on pump-renamed-9"))
    renamed = next(r for r in rows if r["key"] == "k|3|0")
    renamed["title"] = "Fault rate E214 on pump-renamed-9"
    assert _found(engine, "pump-renamed-9") == {"k|3|0"}
    for q in ("px200-0007", "rate px200-0007", "renamed", "E214 rate"):
        assert _total(engine, q) == len(_expected(rows, q)), q
    with engine.begin() as conn:
        conn.execute(T.delete().where(T.c.key == "k|5|1"))
    rows = [r for r in rows if r["key"] != "k|5|1"]
    assert _total(engine, "px200-0070") == len(_expected(rows, "px200-0070")) == 39

    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert search_mode(engine) == "fts5"
            assert conn.execute(text("SELECT count(*) FROM ticket_search")).scalar() == len(rows)
        else:
            assert search_mode(engine) == "text"
            names = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'tickets'")).scalars())
            assert "ix_tickets_search_trgm" in names
            conn.execute(text("SET enable_seqscan = off"))  # at 240 rows a scan is cheaper; ask whether it can
            searched = QueueQuery(TicketFilter(), q="px200-0007").conditions("text")[-1]  # the word's term
            sql = select(T.c.id).where(searched).compile(engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(conn.execute(text(f"EXPLAIN {sql}")).scalars())
            assert "ix_tickets_search_trgm" in plan, plan


@pytest.mark.parametrize("cap", [1000, 10])  # matches paged in one pass; too many for it: paged in SQL
def test_a_search_pages_in_the_queue_order(engine, monkeypatch, cap):
    monkeypatch.setattr("tickets.queue.SEARCH_CAP", cap)
    rows = _rows(20)  # 120 tickets; "rate" is in 40 titles over three severities
    with engine.begin() as conn:
        conn.execute(T.insert(), rows)
    rank = {"critical": 0, "major": 1, "minor": 2}
    matching = [r for r in rows if r["key"] in _expected(rows, "rate")]
    order = [r["key"] for r in sorted(matching, key=lambda r: (rank[r["severity"]], r["opened_ms"], rows.index(r)))]
    pages = [queue_page(engine, QueueQuery(TicketFilter(), q="rate", page=p)) for p in (1, 2, 3)]
    assert [t.key for p in pages for t in p.tickets] == order
    assert [len(p.tickets) for p in pages] == [25, 15, 0] and pages[0].total == 40
    walked = queue_page(engine, QueueQuery(TicketFilter(code="E214")))  # no search: the severity walk, same order
    assert [t.severity for t in walked.tickets] == sorted((t.severity for t in walked.tickets), key=rank.get)


def test_without_pg_trgm_the_migrations_pass_and_the_search_scans(caplog):
    """A role that may not create extensions (a managed PostgreSQL): no index, a warning, the same search."""
    import logging
    import uuid

    from database import make_engine, migrate
    from support.postgres import postgres_database

    role = f"fl_noext_{uuid.uuid4().hex[:8]}"
    with postgres_database("faultline_test_noext") as url:
        name = url.rsplit("/", 1)[1]
        admin = make_engine(url)
        with admin.connect() as conn:
            conn.execute(text("COMMIT"))
            if conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar():
                pytest.skip("pg_trgm is installed in every new database here")
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            conn.execute(text(f'GRANT CONNECT ON DATABASE "{name}" TO "{role}"'))
            conn.execute(text(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
            conn.execute(text("COMMIT"))
        admin.dispose()
        role_url = url.replace("//postgres@", f"//{role}@")
        try:
            with caplog.at_level(logging.WARNING, logger="faultline.migrations"):
                migrate(role_url)
            assert "the queue's text search stays a scan: pg_trgm is not available" in caplog.text
            engine = make_engine(role_url)
            rows = _rows()
            with engine.begin() as conn:
                assert not conn.execute(text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%trgm%'")).scalar()
                conn.execute(T.insert(), rows)
            for q in ("px200-0007", "100%", "sh-04 quiet"):
                assert _found(engine, q) == _expected(rows, q), q
            engine.dispose()
        finally:
            cleanup = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
            with cleanup.connect() as conn:  # the database first: the role owns its tables
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
            cleanup.dispose()
