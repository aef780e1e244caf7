"""The benchmark's output: headline keys, details with spread, and the table printed on stdout."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bench.summary import Summary


@dataclass
class Report:
    mode: str
    machine: dict
    headline: dict = field(default_factory=dict)  # the keys the brief names: medians
    details: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)  # (what, Summary | str, unit, note)
    errors: list = field(default_factory=list)

    def figure(self, key: str | None, what: str, summary: Summary, unit: str, note: str = "",
               digits: int = 1, section: str = "") -> None:
        """One measured figure: a table row, its spread in details, its median as a headline key."""
        self.rows.append((what, summary, unit, note, digits))
        if key:
            self.headline[key] = None if summary.median is None else round(summary.median, 3)
            self.details.setdefault(section or "figures", {})[key] = summary.to_json()

    def note(self, section: str, **values) -> None:
        self.details.setdefault(section, {}).update(values)

    def failed(self, section: str, error: str) -> None:
        self.errors.append(f"{section}: {error}")
        self.rows.append((f"{section}: FAILED", error[:90], "", "", 0))

    def table(self) -> str:
        lines = [f"{'benchmark':44} {'median':>12} {'min':>12} {'max':>12} {'n':>3}  unit / note", "-" * 112]
        for what, s, unit, note, digits in self.rows:
            if isinstance(s, Summary):
                f = (lambda v: "n/a" if v is None else f"{v:,.{digits}f}")
                lines.append(f"{what[:44]:44} {f(s.median):>12} {f(s.min):>12} {f(s.max):>12} {s.n:>3}  "
                             f"{unit}{'; ' + note if note else ''}")
            else:
                lines.append(f"{what:44} {s}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"mode": self.mode, "machine": self.machine, **self.headline, "details": self.details,
                "errors": self.errors}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
