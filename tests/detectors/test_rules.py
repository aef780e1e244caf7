"""Static rules: validation with clear errors, and evaluation over the device table."""

from pathlib import Path

import pytest

from detectors.engine import DetectorEngine, EngineConfig
from detectors.rules import RuleError, load_rules, parse_rules
from ingest.records import DeviceEvent, DeviceMeta, DeviceStatus

EXAMPLE = Path(__file__).resolve().parents[2] / "detectors" / "rules.example.yaml"
DAY = 86_400_000
T0 = 1_767_225_600_000


def test_example_file_loads():
    (rule,) = load_rules(EXAMPLE)
    assert rule.name == "px200-monthly-failure"
    assert rule.match == (("model", "PX-200"),) and rule.period_s == 30 * 86400 and rule.max_faulty_share == 0.05


@pytest.mark.parametrize("doc,message", [
    ({"rules": [{"name": "a", "period": "1d", "max_faulty_share": 0.1, "colour": "red"}]}, "unknown key 'colour'"),
    ({"rules": [{"name": "a", "period": "soon", "max_faulty_share": 0.1}]}, "expected a span like 30d"),
    ({"rules": [{"name": "a", "period": "1d", "max_faulty_share": 0.1, "match": {"tier": "gold"}}]},
     "match takes model, firmware and site only"),
    ({"rules": [{"name": "a", "max_faulty_share": 0.1}]}, "period is required"),
    ({"rules": [{"name": "a", "period": "1d", "max_faulty_share": 0.1}] * 2}, "duplicate rule name 'a'"),
    ({"rules": "x"}, "expected a mapping with a list under 'rules'"),
])
def test_bad_rules_are_rejected_naming_the_rule_and_key(doc, message):
    with pytest.raises(RuleError, match=message):
        parse_rules(doc, "rules.yaml")


def test_unreadable_or_invalid_yaml_names_the_file(tmp_path):
    with pytest.raises(RuleError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(RuleError, match="bad.yaml: not valid YAML"):
        load_rules(bad)


def test_rule_fires_when_the_share_of_faulty_devices_is_exceeded():
    rules = parse_rules({"rules": [{"name": "px-month", "match": {"model": "PX-200"}, "period": "30d",
                                    "max_faulty_share": 0.1, "min_devices": 10}]})
    engine = DetectorEngine(EngineConfig(rules=rules, lateness_s=0))
    for i in range(20):
        engine.process(DeviceMeta(f"p{i}", T0, model="PX-200" if i < 15 else "CH-50"))
        engine.process(DeviceStatus(f"p{i}", T0 + 1000, True))
    engine.process(DeviceEvent("p1", T0 + 2000, None, "fault", "E1", "major", "{}"))
    assert not [a for a in engine.tick(T0 + 3_600_000) if a.detector.startswith("rule:")]  # 1 of 15
    engine.process(DeviceEvent("p2", T0 + 3_700_000, None, "fault", "E1", "major", "{}"))
    fired = [a for a in engine.tick(T0 + 2 * 3_600_000) if a.detector.startswith("rule:")]
    assert len(fired) == 1
    a = fired[0]
    assert (a.detector, a.scope, a.subject, a.model) == ("rule:px-month", "cohort", "model=PX-200", "PX-200")
    assert a.observed == pytest.approx(2 / 15) and a.threshold == 0.1 and a.score > 1
    later = engine.tick(T0 + 31 * DAY)  # faults older than the period no longer count
    assert not [x for x in later if x.ts_ms >= T0 + 31 * DAY and x.detector.startswith("rule:")]


def test_engine_config_from_settings_loads_the_rules_file(tmp_path):
    from faultline.settings import load_settings

    settings = load_settings({"FAULTLINE_DATA_DIR": str(tmp_path), "FAULTLINE_RULES_FILE": str(EXAMPLE),
                              "FAULTLINE_DETECTOR_WINDOW_S": "1800", "FAULTLINE_DETECTOR_COHORT_ALPHA": "0.0001"})
    config = EngineConfig.from_settings(settings, shard=(1, 2))
    assert [r.name for r in config.rules] == ["px200-monthly-failure"]
    assert (config.window_s, config.cohort_alpha, config.shard) == (1800.0, 0.0001, (1, 2))
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: x, period: 1d}\n")
    with pytest.raises(RuleError, match="max_faulty_share"):
        EngineConfig.from_settings(load_settings({"FAULTLINE_DATA_DIR": str(tmp_path), "FAULTLINE_RULES_FILE": str(bad)}))
