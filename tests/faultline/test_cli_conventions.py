"""One way to say things across the command line: --format text|json, header rows, --assignee."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner

from faultline.cli import main

LISTINGS = [("tickets", "list"), ("tickets", "show"), ("tickets", "kpis"), ("deadletters", "list"), ("ledger",),
            ("silence", "list"), ("apikey", "list"), ("stack", "status"), ("eval",)]


def _command(path) -> click.Command:
    ctx = click.Context(main)
    cmd = main
    for name in path:
        cmd = cmd.get_command(ctx, name)
    return cmd


def _all_commands(group=main, path=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, path + (name,))
        else:
            yield path + (name,), cmd


def test_every_listing_command_has_the_one_format_switch():
    for path in LISTINGS:
        (fmt,) = [p for p in _command(path).params if p.name == "fmt"]
        assert fmt.opts == ["--format"] and list(fmt.type.choices) == ["text", "json"], path
        assert fmt.default == "text", path


def test_options_have_one_name_for_one_thing():
    for path, cmd in _all_commands():
        names = {p.name: p.opts for p in cmd.params if isinstance(p, click.Option)}
        assert names.get("assignee", ["--assignee"]) == ["--assignee"], path
        assert "as_json" not in names, path  # --format json, not a --json flag


def test_listings_print_a_header_row_and_json(settings_env):
    run = CliRunner().invoke
    env = settings_env
    assert run(main, ["apikey", "create", "--role", "viewer", "--name", "grafana"], env=env).exit_code == 0
    added = run(main, ["silence", "add", "-m", "site=sh-03", "-c", "maintenance"], env=env)
    assert added.exit_code == 0, added.output
    headers = {("apikey", "list"): ["id", "role", "state"], ("silence", "list"): ["id", "state", "starts"],
               ("deadletters", "list"): ["id", "received"], ("ledger",): ["device", "topic", "received"],
               ("tickets", "list"): ["id", "state", "severity"], ("tickets", "kpis"): ["all", "tickets", "open"]}
    for path, first_words in headers.items():
        text = run(main, [*path], env=env)
        assert text.exit_code == 0, (path, text.output)
        assert text.output.splitlines()[0].split()[:len(first_words)] == first_words, (path, text.output)
        as_json = run(main, [*path, "--format", "json"], env=env)
        assert as_json.exit_code == 0 and json.loads(as_json.output) is not None, path


def test_a_bad_setting_is_a_usage_error_naming_it_in_every_command(settings_env):
    """Each of these reads the settings first; all answer a bad value the same way: exit 2, the setting named."""
    env = {**settings_env, "FAULTLINE_BATCH_SIZE": "many"}
    commands = [["tickets", "list"], ["apikey", "list"], ["silence", "list"],
                ["stack", "status"], ["report", "--from", "2026-01-01", "--to", "2026-01-02"], ["detect"],
                ["devices", "list"], ["ingest"], ["run"]]
    for args in commands:
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 2, (args, result.exit_code, result.output)
        assert "FAULTLINE_BATCH_SIZE" in result.output, (args, result.output)
