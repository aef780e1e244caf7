"""`faultline user create|list`, argon2 hashes at rest, and the users/sessions tables as migrated."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import text

import api.sessions  # noqa: F401 - the ui_sessions table in Base.metadata, for the comparison below
import api.users  # noqa: F401 - the users table
from database import Base, make_engine
from faultline.cli import main
from faultline.settings import load_settings


def test_user_create_hashes_with_argon2_and_refuses_bad_input(settings_env):
    run = CliRunner().invoke
    made = run(main, ["user", "create", "--role", "technician", "--name", "ana"], env=settings_env,
               input="correct horse battery\ncorrect horse battery\n")
    assert made.exit_code == 0, made.output
    assert "user 1 'ana', role technician" in made.output
    again = run(main, ["user", "create", "--role", "viewer", "--name", "ana", "--password-stdin"], env=settings_env,
                input="another long password\n")
    assert again.exit_code == 1 and "a user named 'ana' exists" in again.output
    weak = run(main, ["user", "create", "--role", "viewer", "--name", "bob", "--password-stdin"], env=settings_env,
               input="short\n")
    assert weak.exit_code == 1 and "10 to 256 characters" in weak.output
    role = run(main, ["user", "create", "--role", "boss", "--name", "bob", "--password-stdin"], env=settings_env)
    assert role.exit_code == 2
    listed = json.loads(run(main, ["user", "list", "--format", "json"], env=settings_env).output)
    assert listed == [{"id": 1, "name": "ana", "role": "technician", "active": True}]
    assert run(main, ["user", "list"], env=settings_env).output.splitlines()[0].split() == ["id", "role", "state",
                                                                                            "name"]
    engine = make_engine(load_settings(settings_env).sql_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    ours = [d for d in diffs if "users" in repr(d) or "ui_sessions" in repr(d)]
    assert ours == []
