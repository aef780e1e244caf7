"""Tickets: one per alert key, with the evidence that locates the fault.

`service` applies alerts (open, update, reopen, group children, auto-resolve);
`workflow` is the technician's side; `store`, `ticket_queries` and `queue`
read; `evidence` holds the evidence types, `influx_evidence` gathers it with
the InfluxQL of `evidence_queries`; `similar` ranks past cases; `routing`
picks team and assignee; `webhook` delivers changes from the SQL outbox;
`kpis` computes MTTA/MTTR/recurrence; `wiring` builds it all from its
`config` (`TicketsConfig`) and the clients it is given. The commands
(``faultline tickets``, ``faultline report``) live in `faultline.commands`.
See ``tickets/README.md``.
"""
