"""`ApiConfig`: the knobs of the HTTP API and the workspace, read once from settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """API configuration (times in seconds unless named otherwise).

    - `max_body_bytes`: a larger request body is refused with 413 before it is read;
    - `docs_key` / `metrics_key`: when set, /docs, /redoc, /openapi.json and
      /metrics need them; empty: public;
    - `ready_cache_s`: /ready answers from a cache at most this old;
    - `session_hours`, `signin_attempts`, `signin_window_s`: workspace sign-ins
      and their throttle;
    - `recurrence_days`: the ticket stage's recurrence window, for the KPIs;
    - `satisfaction_secret`: the key of the customers' one-time satisfaction
      links; empty disables them.

    Secrets never appear in its repr:

    >>> ApiConfig(docs_key="hunter2")
    ApiConfig(max_body_bytes=1048576, ready_cache_s=2.0, session_hours=12.0, signin_attempts=5, \
signin_window_s=300.0, recurrence_days=7.0)
    """

    max_body_bytes: int = 1_048_576
    docs_key: str = field(default="", repr=False)
    metrics_key: str = field(default="", repr=False)
    ready_cache_s: float = 2.0
    session_hours: float = 12.0
    signin_attempts: int = 5
    signin_window_s: float = 300.0
    recurrence_days: float = 7.0
    satisfaction_secret: str = field(default="", repr=False)

    @classmethod
    def from_settings(cls, settings) -> ApiConfig:
        """The configuration from `faultline.settings.Settings` (any object with its ``api_*``/``ui_*`` fields)."""
        return cls(
            max_body_bytes=settings.api_max_body_bytes,
            docs_key=settings.api_docs_key.get_secret_value(),
            metrics_key=settings.api_metrics_key.get_secret_value(),
            ready_cache_s=settings.ready_cache_s,
            session_hours=settings.ui_session_hours,
            signin_attempts=settings.ui_signin_attempts,
            signin_window_s=settings.ui_signin_window_s,
            recurrence_days=settings.tickets_recurrence_days,
            satisfaction_secret=settings.tickets_satisfaction_secret.get_secret_value(),
        )
