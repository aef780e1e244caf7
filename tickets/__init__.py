"""Tickets: one per alert key, with the evidence that locates the fault.

`service` applies alerts (open, update, reopen, group children, auto-resolve);
`workflow` is the technician's side; `store` reads; `evidence` holds the
evidence types, `influx_evidence` gathers it with the InfluxQL of
`evidence_queries`; `similar` ranks past cases;
`routing` picks team and assignee; `webhook` delivers changes from the SQL
outbox; `kpis` computes MTTA/MTTR/recurrence; `wiring` builds it all from
settings. See ``tickets/README.md``.
"""
