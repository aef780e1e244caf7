"""`faultline ingest`, `faultline deadletters ...`, `faultline ledger`."""

from __future__ import annotations

import re
import sys
import threading
import time

import click
import orjson

from faultline import terminal
from faultline.cli import command_engine, command_settings, format_option
from faultline.process import (EXIT_DEAD, configure_logging, serve_until_stopped, session_taken_over,
                               stop_on_signals, stop_when_orphaned)

# One worker of `faultline ingest --workers N` (the pool appends its index).
WORKER_COMMAND = [sys.executable, "-c", "from faultline.cli import main; main(prog_name='faultline')",
                  "ingest", "--worker"]


@click.command()
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Writer processes fed by one MQTT session, restarted if they die; 0: one per core (up to 8); "
                   "1: one process. Default: FAULTLINE_INGEST_WORKERS (0). With FAULTLINE_MQTT_SHARED_GROUP: "
                   "N sessions on one shared subscription (docs/operators.md)")
@click.option("--worker", type=int, default=None, hidden=True)  # set by the pool on each of its processes
@click.option("--ledger-fd", type=int, default=None, hidden=True)  # a worker's pipe to the pool's ledger
@click.option("--relay", "relay_fds", default=None, hidden=True)  # a relay worker's pipes: messages,acks,workers
def ingest(workers, worker, ledger_fd, relay_fds):
    """Subscribe to the device topics and store every message (or dead-letter it)."""
    from faultline.summary import SummaryLog, ingest_counters
    from faultline.wiring import ingest_service
    from influx.ensure import DatabaseKeeper
    from ingest.ledger_keeper import LedgerFeed
    from ingest.pool_size import PoolSize
    from ingest.workers import auto_workers, spool_dir

    stop = stop_on_signals()
    settings = command_settings()
    configure_logging(settings.log_level)
    if worker is None:
        size = PoolSize.for_data_dir(settings.ingest_workers if workers is None else workers, settings.data_dir,
                                     auto_workers(), relay=relayed(settings))
        if size.note:
            click.echo(f"faultline ingest: {size.note}", err=True)
        if size.relay:
            return _run_relay(settings, size.count, stop)
        if size.count > 1:
            return _run_pool(settings, size.count, stop)
    if worker is not None:
        stop_when_orphaned(stop)
    if worker is not None and ledger_fd is None:
        raise click.UsageError("--worker is for the processes of `faultline ingest --workers N`, with --ledger-fd")
    feed, share = None, 1
    if relay_fds is not None:
        from ingest.relay import PipeFeed
        messages_fd, acks_fd, share = (int(fd) for fd in relay_fds.split(","))
        feed = PipeFeed(messages_fd, acks_fd, on_end=stop.set)
        # The relay's inbox holds what arrives; a worker's needs only its share of half of it (the relay keeps
        # each message a worker holds until it is durable, so this bounds the relay's memory too).
        settings = settings.model_copy(update={"inbox_max_mb": max(1, settings.inbox_max_mb // (2 * share))})
    service = ingest_service(settings, spool=spool_dir(settings.data_dir, worker),
                             ledger_feed=LedgerFeed(ledger_fd) if ledger_fd is not None else None, feed=feed)
    if feed is not None:  # the relay's window is shared by its workers (`ingest.relay.window`)
        from ingest.relay import window
        service.flush_messages = window(service.config, share)[1]
    if settings.detector_handoff:
        from ingest.handoff import Handoff, topic_of
        n = settings.detector_handoff
        service.handoff = Handoff(n, service.subscriber.publish_then_ack, settings.mqtt_topic_prefix,
                                  max_bytes=settings.mqtt_max_packet_bytes - 1024)
        click.echo(f"faultline ingest: handing durable records to {n} detector shards on "
                   f"{topic_of(settings.mqtt_topic_prefix, n, 0)[:-1]}<shard>", err=True)
    DatabaseKeeper(service.client, service.stop_event).start()
    service.start()
    SummaryLog(lambda: ingest_counters(service), settings.log_summary_s, service.stop_event).start()
    ready = (f"faultline ingest: worker {worker} fed by the relay" if feed is not None else
             f"faultline ingest: subscribed to {service.config.topic_filter} as {settings.mqtt_client_id}")
    dead = serve_until_stopped(service.subscriber, stop, ready, service.supervisor.dead)
    click.echo("faultline ingest: stopping (flushing and acknowledging what is stored)", err=True)
    service.stop()
    if service.subscriber.taken_over.is_set():
        raise session_taken_over(settings.mqtt_client_id)
    if dead:
        sys.exit(EXIT_DEAD)


def relayed(settings) -> bool:
    """Whether the workers of `faultline ingest --workers N` are fed by one session (`ingest.relay`): unless a
    shared subscription is asked for (``FAULTLINE_MQTT_SHARED_GROUP``, e.g. pools on several machines) or the
    detector handoff publishes from each worker's own session (``FAULTLINE_DETECTOR_HANDOFF``)."""
    return not settings.mqtt_shared_group and not settings.detector_handoff


def _run_relay(settings, count: int, stop: threading.Event) -> None:
    """One session (the client id of one process), `count` writer processes fed by it (`ingest.relay`)."""
    from faultline.wiring import ledger_keeper, relay_subscriber
    from ingest.relay import Relay
    from ingest.workers import DEFAULT_GROUP, WorkerPool

    keeper = ledger_keeper(settings)  # migrates the database once, before the workers share it
    relay = Relay(None, settings.inbox_max_mb * 1_048_576, settings.mqtt_topic_prefix)
    relay.subscriber = relay_subscriber(settings, relay.receive, count)
    done = threading.Event()
    keeping = threading.Thread(target=keeper.run, args=(done,), name="ledger", daemon=True)
    keeping.start()
    leftovers = threading.Thread(target=_drain_leftovers, args=(settings, count, done), name="leftover-spools",
                                 daemon=True)
    leftovers.start()
    pool = WorkerPool(count, settings.mqtt_client_id, settings.mqtt_shared_group or DEFAULT_GROUP, WORKER_COMMAND,
                      keeper=keeper, relay=relay)
    pool.start()
    relay.start()
    dead = serve_until_stopped(relay.subscriber, stop, f"faultline ingest: subscribed to {relay.subscriber.topic_filter}"
                               f" as {settings.mqtt_client_id}, {count} workers behind it, one completeness ledger",
                               lambda: pool.watch() or relay.dead())  # (once a second: restarts a worker gone)
    click.echo("faultline ingest: stopping (the workers flush and acknowledge what is stored)", err=True)
    deadline = time.monotonic() + settings.stop_timeout_s + 2  # the workers' own stop, from the end of their pipe
    relay.stop(deadline)
    pool.stop(grace_s=max(1.0, deadline - time.monotonic()))
    done.set()
    keeping.join(30)  # what the workers made durable last, observed and saved
    leftovers.join(5)
    click.echo(f"faultline ingest: stopped ({relay.acked} acknowledged, {relay.handed_on} handed on from workers "
               f"that ended)", err=True)
    if relay.subscriber.taken_over.is_set():
        raise session_taken_over(settings.mqtt_client_id)
    if dead or relay.dead():
        sys.exit(EXIT_DEAD)


def _drain_leftovers(settings, count: int, stop: threading.Event) -> None:
    """The spools of one process or of workers past `count` that an earlier run left (`ingest.relay`)."""
    from faultline.wiring import influx_client, sql_engine
    from ingest.config import MB, IngestConfig
    from ingest.relay import drain_spools, leftover_spools
    from ingest.service import dead_letter_store
    from ingest.spool import Spool

    config = IngestConfig.from_settings(settings)
    spools = [s for s in (Spool(p, config.spool_max_mb * MB) for p in leftover_spools(config.data_dir, count)) if len(s)]
    if spools:
        drain_spools(spools, influx_client(settings), dead_letter_store(config, sql_engine(settings, durable=True)).add,
                     stop)


def _run_pool(settings, count: int, stop: threading.Event) -> None:
    from faultline.wiring import ledger_keeper
    from ingest.pool_size import remember_pool_size
    from ingest.workers import DEFAULT_GROUP, WorkerPool

    group = settings.mqtt_shared_group or DEFAULT_GROUP
    keeper = ledger_keeper(settings)  # migrates the database once, before the workers share it
    workers_done = threading.Event()
    keeping = threading.Thread(target=keeper.run, args=(workers_done,), name="ledger", daemon=True)
    keeping.start()
    pool = WorkerPool(count, settings.mqtt_client_id, group, WORKER_COMMAND, keeper=keeper)
    remember_pool_size(settings.data_dir, count)  # its sessions now exist: an automatic count keeps them read
    click.echo(f"faultline ingest: {count} workers on $share/{group}/{settings.mqtt_topic_prefix.rstrip('/')}/# "
               f"as {settings.mqtt_client_id}-1..{count}, one completeness ledger", err=True)
    try:
        pool.run(stop)
    finally:
        workers_done.set()
    keeping.join(30)  # what the workers made durable last, observed and saved
    click.echo("faultline ingest: workers stopped", err=True)


@click.group()
def deadletters():
    """List, replay and purge messages that could not be stored."""


@deadletters.command("list")
@format_option
@click.option("--limit", default=100, show_default=True)
@click.option("--reason", default=None, help="Only this reason kind (e.g. json, schema, topic)")
@click.option("--device", default=None)
def list_cmd(fmt, limit, reason, device):
    from ingest import deadletters as store

    engine = command_engine(command_settings())
    rows = store.query(engine, limit=limit, reason_kind=reason, device=device)
    if fmt == "json":
        click.echo(orjson.dumps([_row_json(r) for r in rows], option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"{'id':>6}  {'received (UTC, wall)':20}  {'stage':8}  {'device':20}  reason")
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.received_ms / 1000))
        terminal.echo(f"{r.id:>6}  {when:20}  {r.stage:8}  {(r.device or '-')[:20]:20}  {r.reason[:100]}", one_line=True)
    click.echo(f"{store.count(engine)} dead letters in all")


def _row_json(r) -> dict:
    return {"id": r.id, "received_ms": r.received_ms, "topic": r.topic, "device": r.device, "firmware": r.firmware,
            "stage": r.stage, "reason_kind": r.reason_kind, "reason": r.reason, "payload_size": r.payload_size,
            "payload": r.payload.decode("utf-8", "backslashreplace")[:2000]}


@deadletters.command()
@click.option("--id", "ids", type=int, multiple=True, help="Replay this dead letter (repeatable)")
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter")
def replay(ids, replay_all):
    """Re-run decode and write with the current code; remove what now succeeds."""
    from faultline.wiring import influx_client
    from ingest.config import IngestConfig
    from ingest.replay import replay as run_replay

    if not ids and not replay_all:
        raise click.UsageError("say which: --id N (repeatable) or --all")
    settings = command_settings()
    result = run_replay(IngestConfig.from_settings(settings), influx_client(settings), command_engine(settings),
                        None if replay_all else list(ids))  # page by page
    click.echo(f"replayed {result.replayed}, still failing {result.still_failing}")
    for dl_id, reason in list(result.reasons.items())[:20]:
        terminal.echo(f"  {dl_id}: {reason[:160]}", one_line=True)


DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration_s(text: str) -> float:
    """Seconds in a duration like ``30d``, ``12h``, ``90s``.

    >>> parse_duration_s("30d"), parse_duration_s("1.5h")
    (2592000.0, 5400.0)
    """
    m = DURATION.match(text.strip())
    if not m:
        raise click.BadParameter(f"{text!r} is not a duration like 30d, 12h, 15m, 90s")
    return float(m.group(1)) * UNIT_S[m.group(2)]


@deadletters.command()
@click.option("--older-than", required=True, help="e.g. 30d")
def purge(older_than):
    """Delete dead letters received before the given age."""
    from ingest import deadletters as store

    cutoff = int((time.time() - parse_duration_s(older_than)) * 1000)
    removed = store.purge(command_engine(command_settings()), cutoff)
    click.echo(f"purged {removed} dead letters older than {older_than}")


@click.command()
@click.option("--device", default=None)
@format_option
def ledger(device, fmt):
    """Completeness per device and topic: received, gaps, duplicates, resets."""
    from ingest.ledger import load_entries

    rows = load_entries(command_engine(command_settings()), device)
    data = [{"device": r.device, "topic": r.topic, "received": r.received, "last_seq": r.last_seq,
             "missing": orjson.loads(r.missing), "gaps_total": r.gaps_total, "late": r.late,
             "duplicates": r.duplicates, "resets": r.resets} for r in rows]
    if fmt == "json":
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"{'device':24} {'topic':10} {'received':>9} {'missing':>8} {'dups':>6} {'resets':>6}")
    for d in data:
        missing = sum(hi - lo + 1 for lo, hi in d["missing"])
        terminal.echo(f"{d['device'][:24]:24} {d['topic']:10} {d['received']:>9} {missing:>8} "
                   f"{d['duplicates']:>6} {d['resets']:>6}")
