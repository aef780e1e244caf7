"""Routing rules from YAML, and assignee balancing within a team on real SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.records import DeviceMeta
from support.tickets import make_alert
from tickets.routing import RouteInput, Router, RoutingError
from tickets.service import TicketService
from tickets.workflow import Workflow

EXAMPLE = Path(__file__).resolve().parents[2] / "tickets" / "routing.example.yaml"


def test_example_file_routes_by_scope_code_tier_model_and_site():
    r = Router.from_file(EXAMPLE)
    assert r.route(RouteInput(scope="cohort", detector="cohort_fault_rate")).rule == "cohort regressions"
    premium = r.route(RouteInput(code="E214", tier="platinum"))
    assert (premium.team, premium.severity, premium.strategy) == ("field-service", "critical", "round_robin")
    assert r.route(RouteInput(code="E214", tier="basic", model="PX-200", site="sh-03")).rule == "PX-200 on shanghai sites"
    assert r.route(RouteInput(code="E500", model="PX-200", site="de-01")).team == "noc"


@pytest.mark.parametrize("data,message", [
    ({"teams": {"a": {"members": ["x"]}}, "rules": [{"name": "r", "team": "b"}]}, "r: team 'b' is not defined"),
    ({"teams": {"a": {}}, "rules": [{"name": "r", "team": "a", "match": {"colour": "red"}}]}, "unknown match attribute 'colour'"),
    ({"teams": {"a": {"strategy": "random"}}}, "strategy 'random'"),
    ({"teams": {"a": {}}, "rules": [{"team": "a", "severity": "urgent"}]}, "rule 1: severity 'urgent'"),
    ({"teams": {"a": {"members": ["x" * 129]}}}, "longer than 128 characters"),
])
def test_bad_routing_files_name_the_problem(data, message):
    with pytest.raises(RoutingError, match=message):
        Router.from_dict(data)


def test_unreadable_routing_file_is_named(tmp_path):
    with pytest.raises(RoutingError, match="nope.yaml"):
        Router.from_file(tmp_path / "nope.yaml")


def _router(strategy: str) -> Router:
    return Router.from_dict({"teams": {"t": {"members": ["ann", "ben", "cy"][: 2 if strategy == "least_open" else 3],
                                             "strategy": strategy}},
                             "rules": [{"name": "all", "team": "t", "severity": "minor"}]})


def test_least_open_gives_the_next_ticket_to_the_least_loaded(engine, clock):
    svc = TicketService(engine, None, _router("least_open"), None, now=clock)
    got = [svc.apply(make_alert(f"pump-{i}")) for i in range(4)]
    assert [t.assignee for t in got] == ["ann", "ben", "ann", "ben"]
    assert {(t.team, t.severity) for t in got} == {("t", "minor")}
    flow = Workflow(engine, now=clock)
    for t in got:
        if t.assignee == "ann":
            flow.resolve(t.id, "ann", "loose wire", "fixed")
    assert svc.apply(make_alert("pump-9")).assignee == "ann"  # ann has 0 open, ben 2


def test_round_robin_takes_members_in_turn(engine, clock):
    svc = TicketService(engine, None, _router("round_robin"), None, now=clock)
    assert [svc.apply(make_alert(f"pump-{i}")).assignee for i in range(4)] == ["ann", "ben", "cy", "ann"]


def test_routing_uses_the_device_registry_for_customer_tier(engine, clock):
    registry = {"pump-1": DeviceMeta("pump-1", 0, "PX-200", "2.1.0", "de-01", "B", "acme", "gold")}
    svc = TicketService(engine, None, Router.from_file(EXAMPLE), None, now=clock, registry=registry.get)
    t = svc.apply(make_alert("pump-1", code="E214", severity="major"))
    assert (t.team, t.severity, t.customer, t.tier, t.site) == ("field-service", "critical", "acme", "gold", "de-01")
    assert t.assignee == "carol"
    other = svc.apply(make_alert("pump-2", code="E214", site="de-02"))  # not registered: anomaly attributes
    assert (other.team, other.tier) == ("noc", "")
