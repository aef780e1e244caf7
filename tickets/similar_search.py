"""Candidates for similar cases from the database's full-text index: SQLite FTS5, PostgreSQL ``tsvector``.

A ticket resolved by a person is indexed (title, explanation, log lines:
`tickets.similar.case_text`) in the same transaction as its resolution, and
taken out again when it is reopened. `candidates` returns the ids of the
best matches of any word of the query (FTS5's bm25, PostgreSQL's
``ts_rank``), which `tickets.similar.find_similar` then ranks with its
TF-IDF and attribute bonuses — instead of the 2,000 newest resolved
tickets, whatever they are about. Other databases get None (the newest
tickets stay the candidates).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from tickets.tokens import tokens

TABLE = "ticket_fts"
MAX_TERMS = 64


def query_terms(case: str) -> list[str]:
    """Distinct words of the query, in order, at most 64 (tokens: lower-case, no bare numbers).

    >>> query_terms("E214: overcurrent on phase B, overcurrent again (fw 2.1.0)")
    ['e214', 'overcurrent', 'on', 'phase', 'b', 'again', 'fw']
    """
    return list(dict.fromkeys(t for t in tokens(case) if t))[:MAX_TERMS]


def index_case(conn: Connection, ticket_id: int, case: str) -> None:
    name = conn.dialect.name
    if name == "sqlite":
        conn.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :id"), {"id": ticket_id})
        conn.execute(text(f"INSERT INTO {TABLE} (rowid, body) VALUES (:id, :body)"), {"id": ticket_id, "body": case})
    elif name == "postgresql":
        conn.execute(text(f"INSERT INTO {TABLE} (ticket_id, doc) VALUES (:id, to_tsvector('simple', :body)) "
                          "ON CONFLICT (ticket_id) DO UPDATE SET doc = excluded.doc"), {"id": ticket_id, "body": case})


def unindex(conn: Connection, ticket_id: int) -> None:
    name = conn.dialect.name
    if name == "sqlite":
        conn.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :id"), {"id": ticket_id})
    elif name == "postgresql":
        conn.execute(text(f"DELETE FROM {TABLE} WHERE ticket_id = :id"), {"id": ticket_id})


def candidates(conn: Connection, case: str, limit: int) -> list[int] | None:
    """Ids of the indexed tickets best matching any word of `case`; None where there is no index."""
    terms = query_terms(case)
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql"):
        return None
    if not terms:
        return []
    if name == "sqlite":
        match = " OR ".join(f'"{t}"' for t in terms)  # tokens hold no quote: [a-z0-9_.-]
        rows = conn.execute(text(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :q ORDER BY bm25({TABLE}) "
                                 "LIMIT :n"), {"q": match, "n": limit})
    else:
        rows = conn.execute(text(
            f"SELECT ticket_id FROM {TABLE}, to_tsquery('simple', :q) AS q WHERE doc @@ q "
            "ORDER BY ts_rank(doc, q) DESC, ticket_id DESC LIMIT :n"),
            {"q": " | ".join("'" + t.replace("'", "") + "'" for t in terms), "n": limit})
    return [int(r[0]) for r in rows]
