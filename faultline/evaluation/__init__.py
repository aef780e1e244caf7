"""Evaluation that drives the upper stages: detection → alerts → tickets → simulated technicians.

The detectors measure themselves on their own floor (`detectors.eval_sim`,
`detectors.eval_skab`, `detectors.eval_nab`); what needs the alert and ticket
stages too lives here, at the composition level: the tickets a scenario
opens (`faultline.evaluation.tickets`, `faultline.evaluation.scenario`),
simulated technicians working them (`faultline.evaluation.technicians`),
a month of ticket history for the review (`faultline.evaluation.ticket_month`)
and the tables of docs/detection.md (`faultline.evaluation.tables`).
"""
