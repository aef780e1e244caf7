"""The fleet roster: which devices exist, of which model, where, and for whom."""

from __future__ import annotations

import random
from typing import Mapping, Sequence

from simulators.models import MODELS
from simulators.scenario import FleetSpec
from simulators.truth import FleetDevice

CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell",
             "cyberdyne", "soylent", "wonka", "gringotts", "oscorp", "vandelay", "dunder")


def apportion(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Split ``total`` by ``shares`` with the largest-remainder method (exact sum).

    >>> apportion(10, {"a": 0.5, "b": 0.3, "c": 0.2})
    {'a': 5, 'b': 3, 'c': 2}
    >>> apportion(3, {"a": 1, "b": 1})
    {'a': 2, 'b': 1}
    """
    weight = sum(shares.values())
    exact = {k: total * v / weight for k, v in shares.items()}
    counts = {k: int(v) for k, v in exact.items()}
    left = total - sum(counts.values())
    by_remainder = sorted(shares, key=lambda k: (-(exact[k] - counts[k]), list(shares).index(k)))
    for key in by_remainder[:left]:
        counts[key] += 1
    return counts


def customer_names(n: int) -> list[str]:
    """``n`` customer names.

    >>> customer_names(2), customer_names(17)[-1]
    (['acme', 'globex'], 'globex-2')
    """
    return [CUSTOMERS[i % len(CUSTOMERS)] + (f"-{i // len(CUSTOMERS) + 1}" if i >= len(CUSTOMERS) else "")
            for i in range(n)]


def site_names(n: int) -> list[str]:
    """
    >>> site_names(3)
    ['sh-01', 'sh-02', 'sh-03']
    """
    return [f"sh-{i + 1:02d}" for i in range(n)]


def build_fleet(spec: FleetSpec, devices: int, seed: int) -> tuple[FleetDevice, ...]:
    """The devices of a run; the same spec, count and seed give the same fleet."""
    rng = random.Random(f"fleet:{seed}")
    sites = site_names(spec.sites)
    tier_customers = _customers_by_tier(spec, rng)
    tiers = _shuffled(apportion(devices, spec.tiers), rng)
    fleet: list[FleetDevice] = []
    i = 0
    for model_name, count in apportion(devices, spec.models).items():
        model = MODELS[model_name]
        firmware = _shuffled(apportion(count, dict(model.firmware)), rng)
        for n in range(count):
            tier = tiers[i]
            fleet.append(FleetDevice(
                device=f"{model.id_prefix}-{n + 1:04d}", model=model.name, firmware=firmware[n],
                site=rng.choice(sites), customer=rng.choice(tier_customers[tier]), tier=tier,
                hw_rev=rng.choice(model.hw_revs)))
            i += 1
    return tuple(fleet)


def _customers_by_tier(spec: FleetSpec, rng: random.Random) -> dict[str, list[str]]:
    names = customer_names(spec.customers)
    tiers = [t for t, share in spec.tiers.items() if share > 0]
    counts = apportion(len(names), {t: spec.tiers[t] for t in tiers})
    result: dict[str, list[str]] = {}
    rng.shuffle(names)
    for tier in tiers:
        taken, names = names[:counts[tier]], names[counts[tier]:]
        result[tier] = taken or [f"{tier}-customer"]
    return result


def _shuffled(counts: Mapping[str, int], rng: random.Random) -> Sequence[str]:
    items = [key for key, n in counts.items() for _ in range(n)]
    rng.shuffle(items)
    return items
