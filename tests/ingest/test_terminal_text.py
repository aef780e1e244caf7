"""Device text printed by the CLI cannot drive the operator's terminal (escape sequences are shown, not sent)."""

from __future__ import annotations

from click.testing import CliRunner

from faultline.cli import main
from database import make_engine, migrate
from faultline.settings import load_settings
from ingest import deadletters
from ingest.deadletters import DeadLetter

HOSTILE = "pump\x1b]0;owned\x07\x1b[2J-1"


def test_dead_letter_listing_escapes_control_characters(settings_env):
    settings = load_settings(settings_env)
    migrate(settings.sql_url)
    engine = make_engine(settings.sql_url)
    deadletters.add(engine, [DeadLetter(1_767_225_600_000, f"devices/{HOSTILE}/logs", b"{",
                                        "decode", "json", f"bad JSON from {HOSTILE}\nfake row")])
    engine.dispose()
    result = CliRunner().invoke(main, ["deadletters", "list"], env=settings_env)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]0;owned\\x07" in result.output and "\\x0afake row" in result.output
