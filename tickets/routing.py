"""Routing: which team owns a ticket, at which severity, and who in the team gets it.

Rules live in a YAML file (setting ``FAULTLINE_TICKETS_ROUTING_FILE``; see
``tickets/routing.example.yaml``). The first rule whose ``match`` holds wins;
a match is a mapping of attribute → shell-style pattern (``E2*``, ``sh-0?``)
or a list of patterns, over ``code``, ``detector``, ``scope``, ``model``,
``firmware``, ``site``, ``customer``, ``tier`` and ``severity`` (an attribute
a rule does not name matches anything). Teams list their members and how to
pick one: ``least_open`` (fewest active tickets; ties to the first listed)
or ``round_robin`` (members in turn, counted over the team's tickets).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from sqlalchemy import Connection, func, select

from tickets.models import ACTIVE_STATES, TicketRow

T = TicketRow.__table__
ATTRIBUTES = ("code", "detector", "scope", "model", "firmware", "site", "customer", "tier", "severity")
STRATEGIES = ("least_open", "round_robin")
SEVERITIES = ("info", "minor", "major", "critical")
MAX_NAME = 128  # the width of the assignee and team columns


class RoutingError(ValueError):
    """The routing file is invalid (names the rule and the problem; not retryable)."""


@dataclass(frozen=True, slots=True)
class RouteInput:
    code: str = ""
    detector: str = ""
    scope: str = ""
    model: str = ""
    firmware: str = ""
    site: str = ""
    customer: str = ""
    tier: str = ""
    severity: str = ""


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    members: tuple[str, ...]
    strategy: str = "least_open"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    match: tuple[tuple[str, tuple[str, ...]], ...]
    team: str
    severity: str | None = None

    def matches(self, inp: RouteInput) -> bool:
        """True when every named attribute matches one of its patterns.

        >>> r = Rule("fw", (("code", ("E2*",)), ("tier", ("gold", "platinum"))), "firmware")
        >>> r.matches(RouteInput(code="E214", tier="gold")), r.matches(RouteInput(code="E214", tier="basic"))
        (True, False)
        """
        return all(any(fnmatchcase(getattr(inp, attr), p) for p in pats) for attr, pats in self.match)


@dataclass(frozen=True, slots=True)
class Route:
    rule: str
    team: str
    severity: str | None
    members: tuple[str, ...]
    strategy: str


@dataclass(frozen=True, slots=True)
class Router:
    rules: tuple[Rule, ...]
    teams: tuple[Team, ...]

    def route(self, inp: RouteInput) -> Route | None:
        """The first matching rule's route, or None when no rule matches."""
        teams = {t.name: t for t in self.teams}
        for rule in self.rules:
            if rule.matches(inp):
                team = teams[rule.team]
                return Route(rule.name, team.name, rule.severity, team.members, team.strategy)
        return None

    @classmethod
    def from_file(cls, path: str | Path) -> "Router":
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RoutingError(f"cannot read routing file {path}: {exc}") from None
        return cls.from_dict(data or {})

    @classmethod
    def from_dict(cls, data: dict) -> "Router":
        """Validate and build; `RoutingError` names the rule or team at fault."""
        teams = tuple(_team(name, spec) for name, spec in (data.get("teams") or {}).items())
        names = {t.name for t in teams}
        rules = tuple(_rule(i, spec, names) for i, spec in enumerate(data.get("rules") or ()))
        return cls(rules, teams)


def _team(name: str, spec: dict) -> Team:
    members = tuple(str(m) for m in (spec or {}).get("members") or ())
    too_long = [n for n in (str(name), *members) if len(n) > MAX_NAME]
    if too_long:
        raise RoutingError(f"team {name!r}: name {too_long[0][:40]!r}... is longer than {MAX_NAME} characters")
    strategy = (spec or {}).get("strategy", "least_open")
    if strategy not in STRATEGIES:
        raise RoutingError(f"team {name!r}: strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    return Team(str(name), members, strategy)


def _rule(index: int, spec: dict, teams: set[str]) -> Rule:
    name = str(spec.get("name") or f"rule {index + 1}")
    if spec.get("team") not in teams:
        raise RoutingError(f"{name}: team {spec.get('team')!r} is not defined under teams")
    severity = spec.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise RoutingError(f"{name}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    match = []
    for attr, pats in (spec.get("match") or {}).items():
        if attr not in ATTRIBUTES:
            raise RoutingError(f"{name}: unknown match attribute {attr!r}; known: {', '.join(ATTRIBUTES)}")
        match.append((attr, tuple(str(p) for p in (pats if isinstance(pats, list) else [pats]))))
    return Rule(name, tuple(match), spec["team"], severity)


def pick_assignee(conn: Connection, route: Route) -> str | None:
    """A member of the route's team by its strategy; None for a team without members."""
    if not route.members:
        return None
    if route.strategy == "round_robin":
        routed = conn.execute(select(func.count()).select_from(T).where(
            T.c.team == route.team, T.c.assignee.is_not(None))).scalar_one()
        return route.members[routed % len(route.members)]
    rows = conn.execute(select(T.c.assignee, func.count()).where(
        T.c.assignee.in_(route.members), T.c.state.in_(ACTIVE_STATES)).group_by(T.c.assignee))
    load = dict(rows.all())
    return min(route.members, key=lambda m: (load.get(m, 0), route.members.index(m)))
