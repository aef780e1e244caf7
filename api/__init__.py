"""The HTTP API (FastAPI, ``/api/v1``): `api.app.create_app(config, ...)`.

Seam for the composition root (`faultline.wiring.api_app` builds it from
settings)::

    create_app(ApiConfig.from_settings(settings), engine=engine, influx=influx_client,
               workflow=workflow, tickets=ticket_service, alerts=alert_manager, now=now)

The engine (migrated), InfluxDB client, ticket workflow and service are
built by the caller; without ``alerts`` active alerts are read from the
alert stage's SQL store. ``now`` returns epoch milliseconds.
"""
