"""`faultline ...`: the command line. Each stage owns its commands; they load lazily."""

from __future__ import annotations

import importlib
import importlib.util

import click

# command name -> "module:attribute" of a click command
COMMANDS = {
    "stack": "faultline.commands.stack:stack",
    "devices": "faultline.commands.devices:devices",
    "ingest": "faultline.commands.ingest:ingest",
    "deadletters": "faultline.commands.ingest:deadletters",
    "ledger": "faultline.commands.ingest:ledger",
    "simulate": "faultline.commands.simulate:simulate",
    "detect": "faultline.commands.detect:detect",
    "eval": "faultline.commands.detect:evaluate",
    "silence": "faultline.commands.silence:silence",
    "apikey": "faultline.commands.api:apikey",
    "user": "faultline.commands.user:user",
    "api": "faultline.commands.api:api",
    "tickets": "faultline.commands.tickets:tickets",
    "report": "faultline.commands.report:report",
    "run": "faultline.commands.run:run",
    "demo": "faultline.commands.demo:demo",
    "grafana": "faultline.commands.grafana:grafana",
}


class LazyGroup(click.Group):
    """Import a command's module only when that command runs."""

    def list_commands(self, ctx):
        return sorted(name for name in COMMANDS if self._importable(name))

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    @staticmethod
    def _importable(name: str) -> bool:
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None


def format_option(fn):
    """``--format text|json``: the one output switch of every listing command."""
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                        help="text: a table with a header row, for people; json: for programs")(fn)


def command_settings():
    """The settings of a shell command; a configuration problem is a usage error (exit code 2)."""
    from faultline.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def command_engine(settings, *, create: bool = False):
    """The migrated SQL engine of a shell command.

    ``create=False`` (commands that read or change what a service stored)
    refuses a default SQLite file that does not exist, instead of creating
    an empty one in a wrong place and printing nothing.
    """
    from database import make_engine, migrate

    path = settings.sqlite_path
    if not create and path is not None and not path.exists():
        raise click.ClickException(
            f"no Faultline data in {settings.data_dir} (no {path.name}): nothing has run with this data dir yet. "
            "Run the command in the project folder (or below it), set FAULTLINE_DATA_DIR to the data dir "
            "(e.g. .faultline/demo for the demo's), or start `faultline run` first")
    migrate(settings.sql_url)
    return make_engine(settings.sql_url)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="faultline")
def main():
    """Faultline: IoT telemetry and fault alerting."""
