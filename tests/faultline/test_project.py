"""The project folder: `.env` is read, relative paths resolve once, every command finds the same data."""

from __future__ import annotations

import os

import pytest

from faultline.project import project_dir, source_checkout
from faultline.settings import SettingsError, load_settings
from support.processes import faultline_cli


@pytest.fixture
def no_faultline_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("FAULTLINE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def project(tmp_path):
    """A project folder whose `.env` keeps the data dir relative, as the default does."""
    root = tmp_path / "project"
    (root / "deep" / "below").mkdir(parents=True)
    (root / ".env").write_text("# copied from .env.example\nFAULTLINE_DATA_DIR=.faultline  # relative\n"
                               "FAULTLINE_API_PORT=8123\nGRAFANA_ADMIN_USER=admin  # a compose variable\n")
    return root


def test_env_file_is_read_and_the_environment_wins(project, no_faultline_env, monkeypatch):
    settings = load_settings(project=project)
    assert settings.api_port == 8123 and settings.data_dir == project / ".faultline"
    monkeypatch.setenv("FAULTLINE_API_PORT", "8124")
    assert load_settings(project=project).api_port == 8124


def test_unknown_key_in_env_file_is_refused_by_name(project, no_faultline_env):
    (project / ".env").write_text("FAULTLINE_API_PROT=8000\n")
    with pytest.raises(SettingsError, match=r"unknown option FAULTLINE_API_PROT in .*\.env"):
        load_settings(project=project)
    result = faultline_cli(["tickets", "list"], cwd=project)
    assert result.returncode == 2 and "FAULTLINE_API_PROT" in result.stderr and ".env" in result.stderr


def test_project_folder_is_where_the_env_file_is(project):
    assert project_dir(project / "deep" / "below") == project
    assert project_dir(project) == project


def test_without_env_file_the_checkout_is_the_project(tmp_path):
    checkout = source_checkout()
    assert checkout is not None and (checkout / "pyproject.toml").exists()
    assert project_dir(tmp_path) == checkout  # an unrelated folder: the code's own checkout
    settings = load_settings({}, project=tmp_path)
    assert settings.data_dir == tmp_path / ".faultline" and settings.data_dir.is_absolute()


def test_relative_paths_resolve_once_against_the_project(project, no_faultline_env):
    settings = load_settings({"FAULTLINE_DATA_DIR": "state", "FAULTLINE_RULES_FILE": "rules.yaml"}, project=project)
    assert settings.data_dir == project / "state"
    assert settings.rules_file == str(project / "rules.yaml")
    assert settings.sql_url == f"sqlite:///{project}/state/database"


def test_cli_finds_the_same_data_from_another_folder(project):
    created = faultline_cli(["apikey", "create", "--role", "viewer", "--name", "from-the-top"], cwd=project)
    assert created.returncode == 0, created.stderr
    assert (project / ".faultline" / "database").exists()
    listed = faultline_cli(["apikey", "list"], cwd=project / "deep" / "below")
    assert listed.returncode == 0 and "from-the-top" in listed.stdout
    assert not (project / "deep" / "below" / ".faultline").exists()


def test_reading_where_nothing_ran_is_refused_and_creates_nothing(tmp_path):
    elsewhere = tmp_path / "nothing-here"
    result = faultline_cli(["tickets", "list"], cwd=tmp_path, env={"FAULTLINE_DATA_DIR": str(elsewhere)})
    assert result.returncode == 1
    assert f"no Faultline data in {elsewhere}" in result.stderr and "FAULTLINE_DATA_DIR" in result.stderr
    assert not elsewhere.exists()


def test_tests_and_benchmarks_find_their_files_in_the_repository():
    """Files a test or benchmark reads live in the repository (or come from a documented setting)."""
    root = source_checkout()
    outside = ("/work/", "../shared", "/shared/data", "/shared/peers")
    offenders = [f"{path.relative_to(root)}: {needle}"
                 for folder in ("tests", "bench") for path in sorted((root / folder).rglob("*.py"))
                 if path.name != "test_project.py"
                 for needle in outside if needle in path.read_text()]
    assert offenders == []
    assert (root / "tests" / "influx" / "vectors" / "LICENSE").exists()
