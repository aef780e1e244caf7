"""Similar-ticket ranking (`tickets.similar.rank`): retrieval quality and time per query.

Standalone: ``.venv/bin/python bench/similar_bench.py``. A seeded corpus of
resolved tickets from 40 root-cause families. A family is a fault code and
a log vocabulary of two parts and two symptoms drawn from small shared
lists, so families overlap in words; half the families share their code
with another family (a code alone says little about the cause); every log
line adds generic chatter and a random symptom. For 200 fresh tickets it prints precision@1 and @3 (a hit is a
candidate of the query's family) for:

- ``code only`` — rank by same code, then same model (the naive baseline);
- ``tf-idf`` — cosine of TF-IDF vectors, no attribute bonus;
- ``tf-idf + attributes`` — what Faultline ships (cosine + code/model/firmware bonus);

and the median milliseconds per query against 1,000 and 5,000 candidates.
"""

from __future__ import annotations

import json
import random
import statistics
import time

from tickets.similar import CaseText, rank

CHATTER = "cycle ok heartbeat sent reading stored uplink retry connected sample window".split()
PARTS = "motor pump valve sensor fan relay bearing cable fuse inverter board battery".split()
SYMPTOMS = ("overcurrent overheating stuck drift short open timeout checksum brownout vibration "
            "leak clog underrun overflow desync noise").split()


def families(rng: random.Random, n: int = 40) -> list[dict]:
    out = []
    for i in range(n):
        code = f"E{100 + i - i % 2}"  # families 2k and 2k+1 share a code
        words = rng.sample(PARTS, 2) + rng.sample(SYMPTOMS, 2)
        out.append({"id": i, "code": code, "words": words, "model": rng.choice(["PX-100", "PX-200", "QX-9"])})
    return out


def ticket(rng: random.Random, fam: dict, tid: int) -> CaseText:
    lines = [" ".join(rng.sample(fam["words"], 2) + rng.sample(CHATTER, 4) + [rng.choice(SYMPTOMS)])
             for _ in range(rng.randint(2, 6))]
    title = f"{fam['code']}: device dev-{rng.randint(1, 500)}"
    return CaseText(tid, " ".join([title, *lines]), fam["code"], fam["model"], rng.choice(["1.0", "2.0", "2.1"]))


def code_only(query: CaseText, cands: list[CaseText], limit: int = 3) -> list[tuple[int, float]]:
    scored = [(c.ticket_id, (c.code == query.code) + 0.1 * (c.model == query.model)) for c in cands]
    return sorted(scored, key=lambda x: (-x[1], x[0]))[:limit]


def tfidf_only(query: CaseText, cands: list[CaseText], limit: int = 3):
    strip = lambda c: CaseText(c.ticket_id, c.text, "", "", "")  # noqa: E731
    return rank(strip(query), [strip(c) for c in cands], limit)


def precision(method, corpus, family_of, queries) -> dict:
    at1 = at3 = 0
    for fam, q in queries:
        top = [i for i, _ in method(q, corpus)]
        at1 += bool(top) and family_of[top[0]] == fam
        at3 += sum(family_of[i] == fam for i in top) / 3
    return {"p@1": round(at1 / len(queries), 3), "p@3": round(at3 / len(queries), 3)}


def main() -> None:
    rng = random.Random(7)
    fams = families(rng)
    corpus, family_of = [], {}
    for tid in range(1, 1001):
        fam = rng.choice(fams)
        corpus.append(ticket(rng, fam, tid))
        family_of[tid] = fam["id"]
    queries = [(f["id"], ticket(rng, f, 0)) for f in (rng.choice(fams) for _ in range(200))]
    quality = {name: precision(m, corpus, family_of, queries) for name, m in
               (("code only", code_only), ("tf-idf", tfidf_only), ("tf-idf + attributes", rank))}
    timing = {}
    for n in (1000, 5000):
        big = [ticket(rng, rng.choice(fams), i) for i in range(n)]
        spans = []
        for _, q in queries[:20]:
            t0 = time.perf_counter()
            rank(q, big)
            spans.append((time.perf_counter() - t0) * 1000)
        timing[f"{n} candidates"] = round(statistics.median(spans), 1)
    print(json.dumps({"precision": quality, "median_ms_per_query": timing}, indent=2))


if __name__ == "__main__":
    main()
