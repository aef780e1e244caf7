"""`faultline silence ...` end to end on a SQLite file, and the settings → config path."""

from __future__ import annotations

import json

from click.testing import CliRunner

from alerts.config import AlertConfig
from faultline.cli import main
from faultline.settings import load_settings


def invoke(env, *args):
    result = CliRunner().invoke(main, ["silence", *args], env=env, catch_exceptions=False)
    return result


def test_add_list_expire(tmp_path):
    env = {"FAULTLINE_DATA_DIR": str(tmp_path), "FAULTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    added = invoke(env, "add", "--match", "device=pump-7", "--match", "code=E214", "--duration", "2h",
                   "--comment", "bearing swap", "--created-by", "ana")
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()

    listed = invoke(env, "list", "--format", "json")
    [row] = json.loads(listed.output)
    assert row["id"] == silence_id and row["state"] == "active"
    assert row["matchers"] == ["device=pump-7", "code=E214"] and row["comment"] == "bearing swap"
    assert row["ends_at_ms"] - row["starts_at_ms"] == 2 * 3_600_000
    assert "device=pump-7 code=E214" in invoke(env, "list").output

    expired = invoke(env, "expire", silence_id)
    assert expired.exit_code == 0 and silence_id in expired.output
    assert json.loads(invoke(env, "list", "--format", "json").output) == []
    assert json.loads(invoke(env, "list", "--all", "--format", "json").output)[0]["state"] == "expired"


def test_bad_input_is_explained(tmp_path):
    env = {"FAULTLINE_DATA_DIR": str(tmp_path), "FAULTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    bad_label = invoke(env, "add", "--match", "colour=red", "--comment", "x")
    assert bad_label.exit_code == 1 and "colour" in bad_label.output
    bad_duration = invoke(env, "add", "--match", "device=a", "--duration", "soon", "--comment", "x")
    assert bad_duration.exit_code == 2 and "bad duration" in bad_duration.output
    missing = invoke(env, "expire", "nope")
    assert missing.exit_code == 1 and "no silence" in missing.output


def test_config_from_settings(tmp_path):
    settings = load_settings({"FAULTLINE_DATA_DIR": str(tmp_path), "FAULTLINE_ALERT_RESOLVE_AFTER_S": "90",
                              "FAULTLINE_ALERT_MIN_COUNT": "3"})
    config = AlertConfig.from_settings(settings)
    assert (config.resolve_after_ms, config.min_count, config.pending_s) == (90_000, 3, 60.0)
