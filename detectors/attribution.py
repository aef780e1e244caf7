"""Which cohort attribute explains a fault excess: the "batch problem" answer.

A cohort key is a ``(model, firmware, site, hw_rev)`` tuple where ``None``
means "any"; a cell is a fully specified tuple. Every cohort the detector tests
(each single attribute, each pair, the full combination) is a union of cells,
so any question "is there excess left in these cells once those are set
aside?" is answered from cell counts alone.

The rule, in two passes over the significant cohorts:

1. *Explain away, general first.* Walk the significant cohorts from the most
   general (one attribute) to the most specific, best score first; keep a
   cohort only if the cells it adds beyond the cohorts already kept still
   show a significant excess. A site whose excess comes from the firmware-2.1.0
   devices installed there drops out once ``firmware=2.1.0`` is kept.
2. *Narrow when the excess is concentrated.* A kept cohort is replaced by a
   more specific significant cohort inside it when the rest of it (with
   enough devices to tell) shows no excess: firmware 2.1.0 failing only on
   PX-200 becomes ``model=PX-200,firmware=2.1.0``. Without enough devices
   outside the narrower cohort, the general one stays (it explains as much).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable, Mapping

ATTRIBUTES = ("model", "firmware", "site", "hw_rev")
Cell = tuple[str, ...]  # (model, firmware, site, hw_rev)
CohortKey = tuple  # (model | None, firmware | None, site | None, hw_rev | None)
# model, firmware, site, their pairs and the full combination; a hardware revision on its own
# (revisions are named per model: "B" is a batch of one model's boards)
LEVELS = ((0,), (1,), (2,), (3,), (0, 1), (0, 2), (1, 2), (0, 1, 2))


@lru_cache(maxsize=65_536)
def _keys_of(cell: Cell) -> tuple[CohortKey, ...]:
    out = []
    for level in LEVELS:
        if all(i < len(cell) and cell[i] for i in level):
            out.append(tuple(cell[i] if i in level else None for i in range(len(cell))))
    return tuple(out)


def keys_of(cell: Cell) -> list[CohortKey]:
    """The cohort keys a cell belongs to (attributes with empty values are skipped).

    >>> keys_of(("PX-200", "2.1.0", "", "B"))[:4]
    [('PX-200', None, None, None), (None, '2.1.0', None, None), (None, None, None, 'B'), ('PX-200', '2.1.0', None, None)]
    """
    return list(_keys_of(cell))


def generality(key: CohortKey) -> int:
    """Number of attributes fixed by the key (1 is the most general).

    >>> generality(("PX-200", None, "sh-03"))
    2
    """
    return sum(v is not None for v in key)


def label(key: CohortKey) -> str:
    """The subject label, attributes in the order model, firmware, site.

    >>> label(("PX-200", "2.1.0", None))
    'model=PX-200,firmware=2.1.0'
    """
    return ",".join(f"{a}={v}" for a, v in zip(ATTRIBUTES, key) if v is not None)


def shared_key(cells: Iterable[Cell]) -> CohortKey:
    """The attributes every cell agrees on.

    >>> shared_key([("PX-200", "2.1.0", "sh-01"), ("PX-200", "2.1.0", "sh-03")])
    ('PX-200', '2.1.0', None)
    """
    cells = list(cells)
    if not cells:
        return (None, None, None)
    return tuple(v if v and all(c[i] == v for c in cells) else None for i, v in enumerate(cells[0]))


Excess = Callable[[frozenset, frozenset], bool]  # (cells tested, cells left out of the baseline)


def explain(ranked: list[CohortKey], cells_of: Mapping[CohortKey, frozenset],
            excess: Excess, enough: Callable[[frozenset], bool],
            concentrated: Excess | None = None) -> list[CohortKey]:
    """The cohorts that explain the significant excess (see the module docstring).

    ``ranked`` lists the significant cohorts, best score first;
    ``concentrated(rest, child)``, where given, must also hold to narrow to
    ``child``: the rest has clearly less excess than the child (not merely
    too little evidence to show one).

    >>> cells = {("A", None, None): frozenset({1, 2}), (None, None, "s"): frozenset({2, 3})}
    >>> bad = {1, 2}
    >>> excess = lambda tested, _: bool(tested & bad) and tested <= bad
    >>> explain([(None, None, "s"), ("A", None, None)], cells, excess, lambda c: len(c) > 0)
    [('A', None, None)]
    """
    order = sorted(ranked, key=lambda k: (generality(k), ranked.index(k)))
    kept: list[CohortKey] = []
    covered: set = set()
    for key in order:
        rest = cells_of[key] - covered
        if rest and excess(frozenset(rest), frozenset(covered)):
            kept.append(key)
            covered |= cells_of[key]
    return [_general(_narrow(key, ranked, cells_of, excess, enough, concentrated), ranked, cells_of)
            for key in kept]


def _general(key, ranked, cells_of) -> CohortKey:
    """The most general tested cohort with exactly the same devices (firmware 2.1.0 on PX-200 only)."""
    same = [k for k in cells_of if cells_of[k] == cells_of[key]]
    return min(same, key=lambda k: (generality(k), ranked.index(k) if k in ranked else len(ranked)))


def _narrow(key, ranked, cells_of, excess, enough, concentrated=None) -> CohortKey:
    while True:
        inner = [k for k in ranked
                 if generality(k) > generality(key) and cells_of[k] < cells_of[key]
                 and all(v is None or v == k[i] for i, v in enumerate(key))]
        for child in inner:
            rest = cells_of[key] - cells_of[child]
            if enough(rest) and not excess(rest, cells_of[child]) and (
                    concentrated is None or concentrated(rest, cells_of[child])):
                key = child
                break
        else:
            return key
