"""One typed settings object, read from ``FAULTLINE_*`` environment variables and ``.env``.

Strict: an unknown ``FAULTLINE_*`` variable (in the environment or in the
``.env`` file) or a bad value fails at start with a message that names the
option and the value. ``.env.example`` at the repository root documents every
option; a test keeps the two in sync. Relative paths are resolved once, here,
against the project folder (`faultline.project`), so every command and every
child process sees the same absolute paths.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from faultline.project import ENV_FILE, project_dir, read_env_file

ENV_PREFIX = "FAULTLINE_"
MQTT_PROTOCOLS = ("5", "3.1.1")  # the sessions of ingest and detect: MQTT 5, or MQTT 3.1.1 (see `ingest.mqtt`)


class SettingsError(ValueError):
    """A configuration problem, worded for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, case_sensitive=False
    )

    # --- MQTT -----------------------------------------------------------------
    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="Broker URL, mqtt://user:pass@host:port (mqtts:// for TLS)")
    mqtt_client_id: str = Field("faultline-ingest", description="Fixed client id of the persistent session")
    mqtt_topic_prefix: str = Field("devices", description="Topic prefix of the device contract")
    mqtt_shared_group: str = Field("", description="Shared-subscription group ($share/<group>/..., MQTT 5, or MQTT 3.1.1 on Mosquitto); empty for a plain subscription")
    mqtt_keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive in seconds")
    mqtt_ca_file: str = Field("", description="CA certificate (PEM) that verifies the broker for mqtts://; empty: the system's CAs")
    mqtt_auth_dir: str = Field("", description="Folder of the broker's password and ACL files that `faultline devices` regenerates; empty: the local stack's (<data dir>/stack/auth)")
    registry_authoritative: bool = Field(False, description="Cohort attributes pinned in the registry (faultline devices provision --model/--firmware/--site) win over a device's meta; a contradicting meta is stored and flagged, not applied")
    mqtt_max_inflight: int = Field(20000, ge=1, le=65535, description="Unacknowledged QoS 1 messages the broker may send us at once (MQTT 5 receive maximum)")
    mqtt_broker_max_inflight: int = Field(20000, ge=1, le=65535, description="The broker's max_inflight_messages (20000 in every broker config Faultline ships): over MQTT 3.1.1 it alone bounds the unacknowledged QoS 1 messages, and ingest flushes a batch at half of it; keep the two equal (unused over MQTT 5)")
    mqtt_protocol: str = Field("5", description="MQTT version of the sessions of faultline ingest, run and detect: 5 or 3.1.1 (what differs is in docs/operators.md)")

    # --- InfluxDB -------------------------------------------------------------
    influx_url: str = Field("http://127.0.0.1:8086", description="InfluxDB base URL")
    influx_db: str = Field("faultline", description="Database (bucket on 2.x/3.x)")
    influx_user: str = Field("", description="InfluxDB user (any name on 2.x with a token)")
    influx_password: SecretStr = Field(SecretStr(""), description="InfluxDB password, or the token on 2.x/3.x")
    influx_timeout_s: float = Field(10.0, gt=0, description="HTTP timeout for InfluxDB requests")

    # --- Storage --------------------------------------------------------------
    data_dir: Path = Field(Path(".faultline"), validate_default=True, description="Spool, dead letters, checkpoints, local stack; a relative path is taken under the project folder")
    database_url: str = Field("", description="SQLAlchemy URL for tickets and registry; default SQLite file in the data dir")

    # --- Ingest ---------------------------------------------------------------
    ingest_workers: int = Field(0, ge=0, le=64, description="Processes of `faultline ingest` (its --workers): 0, the default, is one writer per core, up to 8, fed by one MQTT session (one process on one core); 1 is one process; N > 1 is N writers. With FAULTLINE_MQTT_SHARED_GROUP or FAULTLINE_DETECTOR_HANDOFF, or in a data dir a shared pool ran in, the workers are N sessions on one shared subscription, asked for by their number (0 there: one process, or the pool last run there; docs/operators.md)")
    batch_size: int = Field(5000, ge=1, le=1_000_000, description="Points per InfluxDB write")
    linger_ms: int = Field(200, ge=0, le=60_000, description="Longest wait before a partial batch is written")
    max_payload_bytes: int = Field(262_144, ge=64, description="Largest accepted MQTT payload")
    max_clock_skew_s: float = Field(300.0, ge=0, description="Timestamps further in the future are stored at receipt time")
    max_age_days: float = Field(365.0, gt=0, description="Timestamps older than this are stored at receipt time")
    spool_max_mb: int = Field(1024, ge=1, description="Disk spool bound; when full, ingest applies backpressure")
    gap_grace_s: float = Field(60.0, ge=0, description="A seq gap still open this long is confirmed and written to ingest_gaps")
    stats_interval_s: float = Field(10.0, gt=0, description="Seconds between ingest_stats and ledger flushes")

    # --- Limits (what a device can make Faultline hold) -------------------------
    mqtt_max_packet_bytes: int = Field(1_048_576, ge=1024, le=268_435_455, description="Maximum Packet Size announced to the broker; keep it equal to the broker's max_packet_size, so a larger message is refused to its publisher instead of dropped")
    inbox_max_mb: int = Field(32, ge=1, description="Bytes of received messages waiting for the pipeline (ingest) or the detectors (faultline detect); beyond, reading the socket pauses (backpressure for QoS 0 and 1)")
    batch_max_mb: int = Field(8, ge=1, description="Payload bytes per batch; a batch is flushed when it holds this much")
    max_metrics_per_device: int = Field(100, ge=1, le=100_000, description="Distinct metric names a device may write; a reading with names past it is dead-lettered")
    metric_allowlist_file: str = Field("", description="YAML of model -> allowed metric names or glob patterns; readings with other names are dead-lettered; empty: only the per-device limit")
    deadletter_retention_days: float = Field(30.0, gt=0, description="Dead letters older than this are removed")
    deadletter_max_per_device: int = Field(1000, ge=1, description="Dead letters kept per device (the oldest go first)")
    deadletter_max_mb: int = Field(1024, ge=1, description="Stored dead-letter payload in all (the oldest go first)")
    device_idle_days: float = Field(7.0, gt=0, description="In-memory state (registry, ledger, metric names, detectors) of a device silent this long is dropped; SQL keeps it")
    detector_max_devices: int = Field(500_000, ge=100, description="Devices the detectors keep state for; beyond, the longest silent is dropped")
    stop_timeout_s: float = Field(20.0, ge=1, le=300, description="A stop flushes and acknowledges what is durable within this many seconds, then exits (compose grants 30 s)")
    ready_stall_s: float = Field(60.0, gt=0, description="/ready answers 503 when messages wait and no batch completed for this long")
    ready_cache_s: float = Field(2.0, ge=0, le=60, description="/ready answers from a cache this many seconds old at most")

    # --- API ------------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="API bind address")
    api_port: int = Field(8000, ge=0, le=65535, description="API port")
    api_max_body_bytes: int = Field(1_048_576, ge=1024, le=1_073_741_824, description="Largest request body; a larger one is refused with 413 before it is read or its key checked")
    api_docs_key: SecretStr = Field(SecretStr(""), description="When set, /docs, /redoc and /openapi.json need it (HTTP Basic password or Bearer); empty: public")
    api_metrics_key: SecretStr = Field(SecretStr(""), description="When set, /metrics needs it (Bearer or HTTP Basic password); empty: public")
    ui_signin_attempts: int = Field(5, ge=1, le=1000, description="Failed workspace sign-ins allowed per user "
                                    "name and per client address within FAULTLINE_UI_SIGNIN_WINDOW_S")
    ui_signin_window_s: float = Field(300.0, gt=0, le=86_400, description="Window of the sign-in throttle (s)")
    ui_session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a workspace sign-in lasts")

    # --- Grafana --------------------------------------------------------------
    grafana_url: str = Field("", description="Grafana base URL for `faultline grafana annotate`, e.g. http://127.0.0.1:3000; empty disables it")
    grafana_token: SecretStr = Field(SecretStr(""), description="Grafana service-account token (Editor) sent as a Bearer header")

    # --- Tickets --------------------------------------------------------------
    tickets_recurrence_days: float = Field(7.0, gt=0, description="An alert key firing again within this many days of its ticket's resolution reopens it; later it opens a new ticket")
    tickets_auto_resolve: bool = Field(True, description="Resolve an unacknowledged ticket when its alert resolves (root cause: auto-resolved: quiet)")
    tickets_grafana_link: str = Field("http://127.0.0.1:3000/d/faultline-device/device?orgId=1&var-device={device}&from={from_ms}&to={to_ms}", description="Grafana link on each ticket; placeholders {device} {subject} {key} {model} {firmware} {site} {code} {from_ms} {to_ms}")
    tickets_routing_file: str = Field("", description="YAML routing rules, see tickets/routing.example.yaml; empty: no team or assignee")
    tickets_webhook_url: str = Field("", description="Receives a signed JSON per ticket change; empty disables the webhook")
    tickets_webhook_secret: SecretStr = Field(SecretStr(""), validate_default=True, description="HMAC-SHA256 key of the X-Faultline-Signature header; required when the URL is set")
    tickets_webhook_secret: SecretStr = Field(SecretStr(""), description="HMAC-SHA256 key of the X-Faultline-Signature header")
    tickets_satisfaction_secret: SecretStr = Field(SecretStr(""), description="HMAC-SHA256 key of the customers' one-time satisfaction links; empty disables the links")
    report_schedule: str = Field("", description="Reviews rendered into <data dir>/reports and announced through the webhook: weekly, monthly, weekly,monthly; empty: none")
    report_format: str = Field("pdf", pattern="^(pdf|html|md)$", description="Format of the scheduled reviews: pdf, html or md")
    tickets_evidence_log_lines: int = Field(50, ge=1, le=1000, description="Log lines kept as ticket evidence, ERROR and FATAL first")

    # --- Alerts ---------------------------------------------------------------
    alert_min_count: int = Field(2, ge=1, le=1000, description="Anomalies an alert needs before it fires (with the pending time)")
    alert_pending_s: float = Field(60.0, ge=0, description="Seconds an alert stays pending after its first anomaly before it may fire")
    alert_resolve_after_s: float = Field(300.0, gt=0, description="Seconds without an anomaly (at or above the re-arm level) that resolve a firing alert; never less than 1.5 detector windows")
    alert_rearm_ratio: float = Field(0.8, gt=0, le=1, description="Hysteresis: anomalies scoring at least this fraction of the threshold keep a firing alert firing")
    alert_flap_window_s: float = Field(1800.0, gt=0, description="Window in which on/off changes of an alert's condition are counted for flapping; at least 20 detector windows")
    alert_flap_start_changes: int = Field(6, ge=2, description="Changes within the window that mark an alert flapping (held firing, one ticket)")
    alert_flap_stop_changes: int = Field(2, ge=0, description="An alert stops flapping when at most this many changes remain in the window (below the start count)")
    alert_repeat_interval_s: float = Field(900.0, gt=0, description="A firing alert is handed to tickets again at most this often while anomalies keep coming")

    # --- Detectors ------------------------------------------------------------
    detector_window_s: float = Field(3600.0, ge=60, description="Event-time window of the fault-rate detectors, in seconds")
    detector_lateness_s: float = Field(300.0, ge=0, description="A window closes when event time is this far past its end")
    detector_device_threshold: float = Field(6.0, gt=0, description="Device fault-rate surprise (-log10 tail probability) that raises an anomaly")
    detector_cohort_alpha: float = Field(0.001, gt=0, lt=1, description="Cohort fault rate: false-alarm probability per window over all cohorts tested (Bonferroni)")
    detector_cohort_min_devices: int = Field(5, ge=2, description="Cohorts with fewer active devices are not tested")
    detector_telemetry_threshold: float = Field(6.0, gt=0, description="Lowest telemetry score (robust standard deviations; a frozen run scores 0.6 per decade of improbability) that opens an episode; each series raises its own from the tail of its scores")
    detector_checkpoint_s: float = Field(300.0, gt=0, description="Seconds between detector state checkpoints in the data dir (also written on shutdown)")
    detector_warmup_days: float = Field(0.0, ge=0, description="Days of fault history read from InfluxDB on a cold start; 0 disables warm-up")
    detector_mqtt_client_id: str = Field("faultline-detect", description="Client id of the persistent session of faultline detect")
    detector_handoff: int = Field(0, ge=0, le=256, description="Detector shards fed by ingest: with n > 0, `faultline ingest` (each worker) hands the records of every durable batch to the shard that owns the device, on faultline/handoff/<topic prefix>/n/i, and `faultline detect --shard i/n` reads that instead of the device topics (set the same n on both; `faultline run` detects in-process and ignores it); 0: every shard reads the device topics itself")
    rules_file: str = Field("", description="YAML static detector rules, see detectors/rules.example.yaml; empty: no rules")

    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_summary_s: float = Field(60.0, ge=0, description="Seconds between the summary lines of a running service (stored, spooled, dead letters, late records, anomalies, open tickets); 0: none")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *args, **kwargs):
        # `load_settings` is the one reader of the environment (it checks for
        # unknown keys first), so the object itself takes only what it is given.
        return (init_settings,)

    @field_validator("report_schedule")
    @classmethod
    def _check_report_schedule(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [p for p in parts if p not in ("weekly", "monthly")]
        if unknown:
            raise ValueError(f"expected weekly, monthly or both (comma-separated), not {', '.join(unknown)}")
        return ",".join(parts)

    @field_validator("mqtt_protocol")
    @classmethod
    def _check_mqtt_protocol(cls, value: str) -> str:
        if value.strip() not in MQTT_PROTOCOLS:
            raise ValueError(f"expected {' or '.join(MQTT_PROTOCOLS)}")
        return value.strip()

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "tcp") or not parts.hostname:
            raise ValueError("expected mqtt://[user:pass@]host[:port]")
        return value

    @field_validator("influx_url")
    @classmethod
    def _check_influx_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected http(s)://host[:port]")
        return value.rstrip("/")

    @field_validator("grafana_url")
    @classmethod
    def _check_grafana_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("expected http(s)://host[:port] or empty")
        return value.rstrip("/")

    @field_validator("tickets_webhook_secret")
    @classmethod
    def _webhook_needs_a_secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("tickets_webhook_url") and not value.get_secret_value():
            raise ValueError("FAULTLINE_TICKETS_WEBHOOK_URL is set: deliveries must be signed, give a secret")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # `load_settings` has already resolved a relative path against the project
        # folder; an object built directly resolves against the current folder.
        return value.expanduser().absolute()

    @property
    def sql_url(self) -> str:
        """The SQLAlchemy URL in use (the SQLite default lives in the data dir)."""
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def sqlite_path(self) -> Path | None:
        """The default SQLite file in the data dir, or None when ``database_url`` is set."""
        return None if self.database_url else self.data_dir / "database"

    @property
    def broker_auth_dir(self) -> Path:
        """Where the broker's generated password and ACL files live."""
        return Path(self.mqtt_auth_dir) if self.mqtt_auth_dir else self.data_dir / "stack" / "auth"

    @property
    def mqtt_host(self) -> str:
        return urlsplit(self.mqtt_url).hostname or "127.0.0.1"

    @property
    def mqtt_port(self) -> int:
        parts = urlsplit(self.mqtt_url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)


PATH_OPTIONS = ("data_dir", "rules_file", "tickets_routing_file", "mqtt_ca_file", "mqtt_auth_dir")


def load_settings(environ: dict[str, str] | None = None, *, project: Path | None = None, **overrides) -> Settings:
    """Read settings; raise `SettingsError` naming the option.

    With ``environ`` None, the process environment is read over the project's
    ``.env`` file (the environment wins); a given ``environ`` is taken as the
    whole source. Relative paths resolve against ``project`` (default: the
    project folder, see `faultline.project`). Options left unset for the broker
    and InfluxDB fall back to the ports of the local stack (``faultline stack
    up``) when it is running in the data dir.
    """
    project = Path(project) if project is not None else project_dir()
    env = dict(os.environ if environ is None else environ)
    if environ is None:
        env_file = project / ENV_FILE
        from_file = read_env_file(env_file)
        _refuse_unknown(from_file, f" in {env_file}")
        env = {**from_file, **env}
    _refuse_unknown(env, "")
    values = {k[len(ENV_PREFIX):].lower(): v for k, v in env.items() if k.upper().startswith(ENV_PREFIX)}
    values.update(overrides)
    for name in PATH_OPTIONS:
        if values.get(name):
            values[name] = str(_under(project, values[name]))
    values.setdefault("data_dir", str(_under(project, Settings.model_fields["data_dir"].default)))
    _fill_from_local_stack(values)
    _refuse_placeholders(values)
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        option = ENV_PREFIX + name.upper()
        raise SettingsError(f"bad value for {option}={_shown(name, values.get(name))}: {err['msg']}") from None


SECRET_OPTIONS = frozenset(name for name, field in Settings.model_fields.items() if field.annotation is SecretStr)


def _shown(name: str, value) -> str:
    """How a bad value is echoed: secrets hidden, and a URL's password too.

    >>> _shown("influx_password", "hunter2"), _shown("mqtt_url", "mqtt://u:hunter2@broker:1883x")
    ("'<hidden>'", "'mqtt://u:<hidden>@broker:1883x'")
    """
    if name in SECRET_OPTIONS:
        return repr("<hidden>")
    text = str(value)
    return repr(re.sub(r"(://[^:/@\s]*:)[^@/\s]*@", r"\1<hidden>@", text))


PLACEHOLDER = "change-me"


def _refuse_placeholders(values: dict) -> None:
    """A sample's ``change-me`` left in a secret or a URL's password stops the start, naming the option.

    >>> _refuse_placeholders({"influx_password": "change-me-long-random-token"})
    Traceback (most recent call last):
    faultline.settings.SettingsError: FAULTLINE_INFLUX_PASSWORD is still a change-me placeholder: set a real secret
    """
    for name in sorted(values):
        value = str(values[name])
        if PLACEHOLDER in value and (name in SECRET_OPTIONS or name.endswith("_url")):
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} is still a {PLACEHOLDER} placeholder: set a real secret")


def _refuse_unknown(env: dict[str, str], where: str) -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(k for k in env if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
    if unknown:
        raise SettingsError(f"unknown option {unknown[0]}{where}; "
                            "known options are listed in .env.example")


def _under(project: Path, value) -> Path:
    """``value`` as an absolute path, a relative one taken under ``project``.

    >>> str(_under(Path("/srv/app"), ".faultline")), str(_under(Path("/srv/app"), "/var/lib/f"))
    ('/srv/app/.faultline', '/var/lib/f')
    """
    path = Path(value).expanduser()
    return path if path.is_absolute() else project / path


def _fill_from_local_stack(values: dict) -> None:
    """Use the local stack's ports for the broker and InfluxDB URLs left unset."""
    state_file = Path(values["data_dir"]) / "stack" / "state.json"
    if not state_file.exists():
        return
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return
    if "mqtt_url" not in values and state.get("mqtt_url"):
        values["mqtt_url"] = state["mqtt_url"]
        if "mqtt_ca_file" not in values and state.get("mqtt_ca_file"):  # the stack's CA goes with its URL
            values["mqtt_ca_file"] = state["mqtt_ca_file"]
    if "influx_url" not in values and state.get("influx_url"):
        values["influx_url"] = state["influx_url"]
