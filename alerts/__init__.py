"""The alerting stage: anomalies in, one alert per condition out.

Identity
    An alert is identified by its key, ``detector|scope|subject|code``
    (`detectors.anomaly.Anomaly.key`), e.g.
    ``device_fault_rate|device|pump-7|E214`` or
    ``cohort_fault_rate|cohort|model=PX-200,firmware=2.1.0|E214``. The key is
    stable across episodes and restarts and is the ticket's idempotency key.

Lifecycle (`alerts.lifecycle`, knobs in `alerts.config.AlertConfig`)
    pending → firing after ``min_count`` anomalies at or above threshold and
    ``pending_s``; a pending alert whose detector goes quiet is dropped (a
    blip). Firing → resolved after ``resolve_after_s`` (and at least 1.5
    detector steps; a cohort finding: its whole evidence window) with no anomaly scoring at least ``rearm_ratio`` ×
    threshold (hysteresis: a score hovering just under the threshold neither
    opens nor closes an alert). Many on/off changes within ``flap_window_s``
    mark the alert flapping and hold it firing (`alerts.flapping`). A new
    episode after a resolve keeps the key.

Severity (`alerts.severity`)
    score / threshold: below 1 info, from 1 minor, from 2 major, from 4
    critical; cohort alerts one level higher; the highest of the episode.

Grouping (`alerts.inhibit`), silences (`alerts.silences`), persistence
(`alerts.store`), ``alert_events`` (`alerts.events`), the stage itself
(`alerts.manager.AlertManager`), the active alerts in listing order
(`alerts.active`) and ``faultline silence`` (`faultline.commands.silence`).
"""
