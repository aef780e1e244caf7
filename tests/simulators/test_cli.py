"""`faultline simulate` against the real broker."""

import io
import uuid

from click.testing import CliRunner

from faultline.cli import main
from faultline.commands.simulate import ProgressLine
from simulators.publisher import Progress
from simulators.truth import GroundTruth


def test_simulate_publishes_and_writes_the_truth(stack, tmp_path):
    truth_file = tmp_path / "out" / "truth.json"
    result = CliRunner().invoke(main, [
        "simulate", "--scenario", "firmware-regression", "--devices", "12", "--duration", "3h", "--seed", "4",
        "--truth", str(truth_file), "--mqtt-url", stack.mqtt_url, "--topic-prefix", f"cli{uuid.uuid4().hex[:6]}",
        "--quiet"])
    assert result.exit_code == 0, result.output
    truth = GroundTruth.from_json(truth_file.read_text())
    assert (truth.scenario, truth.devices, truth.seed) == ("firmware-regression", 12, 4)
    assert truth.topic_prefix.startswith("cli")
    assert truth.end_ms - truth.start_ms == 3 * 3600 * 1000
    assert "firmware-regression:" in result.output and "messages from 12 devices" in result.output
    assert str(truth_file) in result.output


def test_a_scenario_path_and_a_bad_scenario(stack, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(f"base: healthy\ntopic_prefix: cli{uuid.uuid4().hex[:6]}\nfleet: {{devices: 3}}\nduration: 10m\n")
    ok = CliRunner().invoke(main, ["simulate", "--scenario", str(path), "--mqtt-url", stack.mqtt_url, "--quiet"])
    assert ok.exit_code == 0 and "messages from 3 devices" in ok.output
    path.write_text("fleet: {devices: many}\n")
    bad = CliRunner().invoke(main, ["simulate", "--scenario", str(path), "--mqtt-url", stack.mqtt_url])
    assert bad.exit_code != 0 and str(path) in bad.output and "fleet.devices" in bad.output and "'many'" in bad.output


def test_bad_options_are_refused_before_publishing():
    result = CliRunner().invoke(main, ["simulate", "--duration", "soon", "--mqtt-url", "mqtt://127.0.0.1:1"])
    assert result.exit_code == 2 and "soon" in result.output


def test_progress_line_shows_simulated_time_share_and_rate():
    out = io.StringIO()
    line = ProgressLine(1_764_000_000_000, 1_764_003_600_000, out)
    line(Progress(sim_ms=1_764_001_800_000, messages=12_345, elapsed_s=2.0, rate=6172.5))
    line.clear()
    text = out.getvalue()
    assert "2025-11-24 16:30:00" in text and "50.0%" in text and "12,345" in text and "6,172" in text


def test_realtime_starts_now_on_the_wall_clock(stack, tmp_path):
    import time

    truth_file = tmp_path / "truth.json"
    before = time.time()
    result = CliRunner().invoke(main, [
        "simulate", "--scenario", "healthy", "--devices", "2", "--duration", "2s", "--realtime", "--quiet",
        "--truth", str(truth_file), "--mqtt-url", stack.mqtt_url, "--topic-prefix", f"rt{uuid.uuid4().hex[:6]}"])
    after = time.time()
    assert result.exit_code == 0, result.output
    truth = GroundTruth.from_json(truth_file.read_text())
    assert before - 1 <= truth.start_ms / 1000 <= after
    assert truth.end_ms - truth.start_ms == 2000
