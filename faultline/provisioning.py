"""Provisioning: a device's credential, its operator-given cohort, and the broker's files, changed together.

`Provisioner` ties `ingest.credentials` (what the broker accepts), the
device registry (cohort attributes pinned by the operator, audited) and
`faultline.broker_auth` (files regenerated, broker reloaded) into the steps
of ``faultline devices ...``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, select

from faultline import broker_auth
from ingest import credentials
from ingest.decode import tag_value_problem
from ingest.registry import DeviceRow, _upsert

COHORT = ("model", "firmware", "site")


@dataclass
class Provisioner:
    engine: Engine
    auth_dir: Path
    prefix: str
    broker_pid: Callable[[], int | None]
    now: Callable[[], int]
    actor: str = "operator"
    reloaded: bool = False  # whether the last change reached a running broker

    def provision(self, device: str, cohort: dict[str, str] | None = None) -> str:
        """Issue a credential for `device`, pin its given cohort attributes; the password (shown once)."""
        cohort = {k: v for k, v in (cohort or {}).items() if v}
        self._check_cohort(cohort)
        password = credentials.issue(self.engine, device, "device", self.now(), self.actor, replace=False)
        if cohort:
            self.pin(device, cohort)
        self.apply()
        return password

    def service_user(self, name: str) -> str:
        return self._issued(credentials.issue(self.engine, name, "service", self.now(), self.actor, replace=False))

    def set_service_password(self, name: str, password: str) -> None:
        credentials.set_password(self.engine, name, "service", password, self.now(), self.actor)
        self.apply()

    def rotate(self, name: str) -> str:
        kind = "service" if name.startswith(credentials.SERVICE_PREFIX) else "device"
        return self._issued(credentials.issue(self.engine, name, kind, self.now(), self.actor, replace=True))

    def revoke(self, name: str) -> None:
        credentials.revoke(self.engine, name, self.now(), self.actor)
        self.apply()

    def import_csv(self, text: str) -> list[tuple[str, str]]:
        """Provision every row of a CSV with a ``device`` column (and optional model, firmware, site)."""
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and "device" not in rows[0]:
            raise credentials.CredentialError("the CSV needs a header row with a 'device' column")
        for n, row in enumerate(rows, start=2):
            try:
                credentials.check_name((row.get("device") or "").strip(), "device")
                self._check_cohort({k: (row.get(k) or "").strip() for k in COHORT})
            except credentials.CredentialError as exc:
                raise credentials.CredentialError(f"line {n}: {exc}") from None
        issued = []
        for row in rows:  # all rows checked first: a bad file provisions nothing
            device = row["device"].strip()
            password = credentials.issue(self.engine, device, "device", self.now(), self.actor, replace=False)
            cohort = {k: (row.get(k) or "").strip() for k in COHORT if (row.get(k) or "").strip()}
            if cohort:
                self.pin(device, cohort)
            issued.append((device, password))
        self.apply()
        return issued

    def pin(self, device: str, cohort: dict[str, str]) -> None:
        """Set `device`'s cohort attributes as the registry's authority, with an audit row."""
        with self.engine.connect() as conn:
            row = conn.execute(select(DeviceRow).where(DeviceRow.device == device)).first()
        before = {k: getattr(row, k) for k in COHORT} if row else {}
        _upsert(self.engine, [{"device": device, **cohort, "pinned": True}], [*cohort, "pinned"])
        with self.engine.begin() as conn:
            credentials.audit(conn, device, self.now(), self.actor, "cohort",
                              {"before": before, "after": {**before, **cohort}, "source": "registry"})

    def apply(self) -> bool:
        """Regenerate the broker's files and reload it; whether a running broker was told."""
        broker_auth.write_files(self.engine, self.auth_dir, self.prefix)
        self.reloaded = broker_auth.reload_broker(self.broker_pid())
        return self.reloaded

    def _issued(self, password: str) -> str:
        self.apply()
        return password

    @staticmethod
    def _check_cohort(cohort: dict[str, str]) -> None:
        for name, value in cohort.items():
            problem = value and tag_value_problem(value)
            if problem:
                raise credentials.CredentialError(f"bad {name} {value!r}: {problem}")
