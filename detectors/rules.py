"""Static rules from configuration: "model PX-200: devices with faults over 30 days > 5 %".

A YAML file (``FAULTLINE_RULES_FILE``; sample in ``detectors/rules.example.yaml``)::

    rules:
      - name: px200-monthly-failure
        match: {model: PX-200}        # any of model, firmware, site; {} is the fleet
        period: 30d                   # s, m, h or d
        max_faulty_share: 0.05        # share of active devices with at least one fault
        min_devices: 20               # fewer active devices: the rule says nothing

Checked at every window close over the devices active in the period; a
violated rule emits an anomaly with detector ``rule:<name>``, scope
``cohort``, subject the match label, observed and threshold shares, and
score ``observed / threshold``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import yaml

from detectors.anomaly import Anomaly
from detectors.attribution import ATTRIBUTES, label

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_KEYS = {"name", "match", "period", "max_faulty_share", "min_devices", "description"}


class RuleError(ValueError):
    """A rules file problem, naming the file, the rule and the key."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    match: tuple[tuple[str, str], ...]  # ((attribute, value), ...) in model, firmware, site order
    period_s: float
    max_faulty_share: float
    min_devices: int = 10
    description: str = ""

    @property
    def key(self) -> tuple:
        m = dict(self.match)
        return tuple(m.get(a) for a in ATTRIBUTES)


def parse_span(text) -> float:
    """Seconds in a span like ``30d``.

    >>> parse_span("30d"), parse_span("90m"), parse_span(15)
    (2592000.0, 5400.0, 15.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    m = _SPAN.match(str(text))
    if not m:
        raise ValueError(f"expected a span like 30d, 12h, 90m or 45s, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_rules(doc, source: str = "rules") -> tuple[Rule, ...]:
    """Validate a loaded YAML document.

    >>> parse_rules({"rules": [{"name": "r", "match": {"model": "PX-200"}, "period": "30d",
    ...                         "max_faulty_share": 0.05}]})[0].period_s
    2592000.0
    >>> parse_rules({"rules": [{"name": "r", "period": "1d", "max_faulty_share": 2}]})
    Traceback (most recent call last):
    ...
    detectors.rules.RuleError: rules: rule 1 (r): max_faulty_share must be a number in (0, 1], got 2
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules", []), list):
        raise RuleError(f"{source}: expected a mapping with a list under 'rules'")
    rules, names = [], set()
    for i, item in enumerate(doc.get("rules") or [], 1):
        where = f"{source}: rule {i}" + (f" ({item.get('name')})" if isinstance(item, Mapping) else "")
        try:
            rule = _rule(item)
        except (ValueError, TypeError) as exc:
            raise RuleError(f"{where}: {exc}") from None
        if rule.name in names:
            raise RuleError(f"{where}: duplicate rule name {rule.name!r}")
        names.add(rule.name)
        rules.append(rule)
    return tuple(rules)


def _rule(item) -> Rule:
    if not isinstance(item, Mapping):
        raise ValueError("expected a mapping")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; expected {', '.join(sorted(_KEYS))}")
    name = item.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ValueError(f"name must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
    match = item.get("match") or {}
    if not isinstance(match, Mapping) or any(k not in ATTRIBUTES for k in match):
        raise ValueError(f"match takes model, firmware and site only, got {match!r}")
    share = item.get("max_faulty_share")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ValueError(f"max_faulty_share must be a number in (0, 1], got {share!r}")
    min_devices = item.get("min_devices", 10)
    if isinstance(min_devices, bool) or not isinstance(min_devices, int) or min_devices < 1:
        raise ValueError(f"min_devices must be a positive integer, got {min_devices!r}")
    if "period" not in item:
        raise ValueError("period is required (e.g. 30d)")
    return Rule(name, tuple((a, str(match[a])) for a in ATTRIBUTES if a in match), parse_span(item["period"]),
                float(share), min_devices, str(item.get("description", "")))


def load_rules(path) -> tuple[Rule, ...]:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RuleError(f"{path}: cannot read rules file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None
    return parse_rules(doc or {}, str(path))


def evaluate_rules(rules, devices: Mapping, now_ms: int) -> list[Anomaly]:
    """Anomalies for the rules violated at ``now_ms`` over the device table."""
    out = []
    for rule in rules:
        since = now_ms - int(rule.period_s * 1000)
        wanted = dict(rule.match)
        n = m = 0
        for st in devices.values():
            cell = dict(zip(ATTRIBUTES, st.cell))
            if st.last_seen_ms < since or any(cell[a] != v for a, v in wanted.items()):
                continue
            n += 1
            m += st.last_fault_ms >= since
        if n < rule.min_devices or m / n <= rule.max_faulty_share:
            continue
        subject = label(rule.key) or "fleet"
        text = (f"{m} of {n} devices of {subject} had faults in the last {rule.period_s / 86400:g} days "
                f"({m / n:.1%}), above the rule's {rule.max_faulty_share:.1%}")
        out.append(Anomaly(f"rule:{rule.name}", "cohort", subject, "", now_ms, since, (m / n) / rule.max_faulty_share,
                           m / n, rule.max_faulty_share, rule.max_faulty_share, rule.period_s, text,
                           model=wanted.get("model", ""), firmware=wanted.get("firmware", ""),
                           site=wanted.get("site", "")))
    return out
