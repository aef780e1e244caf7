"""`faultline run`: ingest, detectors, alerts, tickets and the API in one process (`faultline.run.Faultline`)."""

from __future__ import annotations

import sys

import click


@click.command()
@click.option("--no-api", is_flag=True, help="Do not serve the API from this process")
def run(no_api):
    """Run ingest, detectors, alerts, tickets and the API in one process."""
    from api.serve import ApiPortError
    from faultline.run import Faultline
    from faultline.cli import command_settings
    from faultline.process import (EXIT_DEAD, configure_logging, serve_until_stopped, session_taken_over,
                                   stop_on_signals)

    stop = stop_on_signals()
    settings = command_settings()
    configure_logging(settings.log_level)
    service = Faultline(settings, serve_api=not no_api)
    try:
        service.start()
    except ApiPortError as exc:
        raise click.ClickException(str(exc)) from None
    api = "" if no_api else f"; API on http://{settings.api_host}:{settings.api_port}/docs"
    dead = serve_until_stopped(service.ingest.subscriber, stop, f"faultline run: subscribed to "
                               f"{settings.mqtt_topic_prefix}/# as {settings.mqtt_client_id}{api}",
                               service.supervisor.dead)
    click.echo("faultline run: stopping", err=True)
    service.stop()
    if service.ingest.subscriber.taken_over.is_set():
        raise session_taken_over(settings.mqtt_client_id)
    if dead:
        sys.exit(EXIT_DEAD)
