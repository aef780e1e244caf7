"""Scenario files: every shipped one validates; a broken one is reported by file, field and value."""

import pytest

from simulators.fleet import Simulation
from simulators.scenario import ScenarioError, load_scenario, scenario_names

REQUIRED = {"healthy", "firmware-regression", "site-fault", "hw-batch", "firmware-regression-site", "device-degradation", "stuck-sensor", "offline", "flapping",
            "message-storm", "malformed", "clock-skew"}


def test_the_required_scenarios_ship():
    assert REQUIRED <= set(scenario_names())


@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_validates_and_plans(name):
    scenario = load_scenario(name)
    assert scenario.name == name and scenario.description
    truth = Simulation(scenario, devices=40, seed=1, duration_s=6 * 3600, start_ms=1_764_000_000_000).truth()
    assert [i.id for i in truth.incidents] == scenario.incident_ids()
    for incident in truth.incidents:
        assert incident.affected_devices, incident.id
        assert incident.start_ms < incident.end_ms


def test_composition_takes_base_settings_and_included_incidents():
    mixed = load_scenario("mixed-incidents")
    assert mixed.fleet == load_scenario("healthy").fleet
    assert mixed.telemetry.batch == 5
    assert [i.kind for i in mixed.incidents] == [
        "firmware-regression", "device-degradation", "flapping", "offline", "offline"]


def broken_copy(tmp_path, name, old, new):
    source = load_scenario.__globals__["SCENARIO_DIR"] / f"{name}.yaml"
    text = source.read_text()
    assert old in text
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace(old, new))
    return path


def test_a_bad_value_names_file_field_and_value(tmp_path):
    path = broken_copy(tmp_path, "firmware-regression", "multiplier: 6", "multiplier: lots")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert str(path) in message and "incidents.0.multiplier" in message and "'lots'" in message


def test_an_unknown_key_is_rejected(tmp_path):
    path = broken_copy(tmp_path, "healthy", "sites: 6", "sites: 6\n  regions: 3")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and "fleet.regions" in str(err.value) and "3" in str(err.value)


def test_a_bad_span_and_an_unknown_model_are_rejected(tmp_path):
    path = broken_copy(tmp_path, "device-degradation", "ramp: 6h", "ramp: a while")
    with pytest.raises(ScenarioError, match=r"incidents\.0\.ramp.*'a while'"):
        load_scenario(path)
    path = broken_copy(tmp_path, "healthy", "PX-200: 0.5", "PX-900: 0.5")
    with pytest.raises(ScenarioError, match=r"fleet\.models.*PX-900"):
        load_scenario(path)


def test_an_include_cycle_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("include: [b]\n")
    (tmp_path / "b.yaml").write_text("base: a\n")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.yaml")


def test_an_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="healthy"):
        load_scenario("no-such-scenario")


def test_a_scenario_that_does_not_fit_the_fleet_says_why():
    from simulators.planner import PlanError

    with pytest.raises(PlanError, match="incident 'condenser-fan-flap': no free CH-50 in a fleet of 1"):
        Simulation("flapping", devices=1, seed=0, duration_s=3600, start_ms=1_764_000_000_000).truth()
