"""The HTTP API (FastAPI, ``/api/v1``): `api.app.create_app(settings, ...)`.

Seam for the composition root (``faultline run``)::

    create_app(settings, engine=engine, influx=influx_client, alerts=alert_manager,
               workflow=tickets.workflow.Workflow(engine, outbox, now=now), now=now)

Every keyword is optional: ``faultline api`` passes none and the app builds
its own (migrating the database, reading active alerts from the alert
stage's SQL store). ``now`` returns epoch milliseconds.
"""
