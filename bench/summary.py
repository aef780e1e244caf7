"""Medians with their spread: every figure the benchmark reports is one of these.

>>> s = Summary.of([3.0, 1.0, 2.0])
>>> (s.median, s.min, s.max, s.n)
(2.0, 1.0, 3.0, 3)
>>> s.text(0)
'2 (1–3, n=3)'
>>> Summary.of([]).median is None
True
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Summary:
    median: float | None
    min: float | None
    max: float | None
    n: int
    values: tuple[float, ...] = ()

    @classmethod
    def of(cls, values) -> "Summary":
        vals = tuple(float(v) for v in values if v is not None)
        if not vals:
            return cls(None, None, None, 0)
        return cls(statistics.median(vals), min(vals), max(vals), len(vals), vals)

    def text(self, digits: int = 1) -> str:
        if self.median is None:
            return "n/a"
        fmt = f"{{:,.{digits}f}}"
        return f"{fmt.format(self.median)} ({fmt.format(self.min)}–{fmt.format(self.max)}, n={self.n})"

    def to_json(self, digits: int = 3) -> dict:
        r = (lambda v: None if v is None else round(v, digits))
        return {"median": r(self.median), "min": r(self.min), "max": r(self.max), "n": self.n,
                "values": [r(v) for v in self.values]}


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing.

    >>> ratio(1.0, 4.0), ratio(None, 2.0), ratio(1.0, 0.0)
    (0.25, None, None)
    """
    if a is None or not b:
        return None
    return a / b


def paired_ratios(numerators, denominators) -> Summary:
    """Ratios of same-repetition pairs (a fair ratio under noisy neighbours)."""
    return Summary.of(ratio(a, b) for a, b in zip(numerators, denominators))
