"""`faultline apikey ...` and `faultline api` as a real uvicorn process over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from faultline.cli import main
from faultline.stack import free_port

FAULTLINE = str(Path(sys.executable).with_name("faultline"))


@pytest.fixture
def cli_env(settings_env, monkeypatch):
    for name in list(os.environ):
        if name.startswith("FAULTLINE_"):
            monkeypatch.delenv(name)
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    return settings_env


def test_apikey_create_list_revoke(cli_env):
    runner = CliRunner()
    created = runner.invoke(main, ["apikey", "create", "--role", "technician", "--name", "night shift"])
    assert created.exit_code == 0, created.output
    plain = created.stdout.strip().splitlines()[0]
    assert plain.startswith("flk_")
    listed = runner.invoke(main, ["apikey", "list"])
    assert listed.exit_code == 0
    assert "technician\tactive" in listed.stdout and "night shift" in listed.stdout
    assert plain not in listed.stdout
    revoked = runner.invoke(main, ["apikey", "revoke", "1"])
    assert revoked.exit_code == 0 and "revoked 1" in revoked.stdout
    assert "technician\trevoked" in runner.invoke(main, ["apikey", "list"]).stdout


def test_apikey_errors_are_named(cli_env):
    runner = CliRunner()
    bad_role = runner.invoke(main, ["apikey", "create", "--role", "root", "--name", "x"])
    assert bad_role.exit_code == 2 and "--role" in bad_role.output
    nothing_yet = runner.invoke(main, ["apikey", "revoke", "31337"])
    assert nothing_yet.exit_code == 1 and "no Faultline data in" in nothing_yet.output
    assert not (Path(cli_env["FAULTLINE_DATA_DIR"]) / "database").exists()
    assert runner.invoke(main, ["apikey", "create", "--role", "viewer", "--name", "x"]).exit_code == 0
    unknown = runner.invoke(main, ["apikey", "revoke", "31337"])
    assert unknown.exit_code == 1 and "31337 not found" in unknown.output


def _get(url: str, key: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _wait_until_serving(proc: subprocess.Popen) -> None:
    """Block on the log until it says it is serving (or the process ends)."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "faultline api: serving on" in line:
            return
    raise AssertionError(f"faultline api exited with {proc.wait()}: {''.join(seen)}")


def test_faultline_api_serves_over_http(cli_env):
    runner = CliRunner()
    admin_key = runner.invoke(main, ["apikey", "create", "--role", "admin", "--name", "ops"]).stdout.split()[0]
    port = free_port()
    env = dict(os.environ, FAULTLINE_API_PORT=str(port))
    proc = subprocess.Popen([FAULTLINE, "api"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(proc)
        assert _get(base + "/ready") == (200, {"status": "ready", "checks": {"sql": "ok", "influxdb": "ok"}})
        status, body = _get(base + "/api/v1/apikeys")
        assert status == 401 and "missing API key" in body["detail"]
        status, body = _get(base + "/api/v1/apikeys", admin_key)
        assert status == 200 and [k["name"] for k in body] == ["ops"]
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught
    assert "Application shutdown complete" in rest
    assert proc.returncode in (0, -15)


def _children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except FileNotFoundError:
        return set()


def _running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_faultline_api_with_two_workers_serves_from_two_processes_and_stops_them(cli_env):
    from support.waiting import wait_until

    runner = CliRunner()
    viewer_key = runner.invoke(main, ["apikey", "create", "--role", "viewer", "--name", "grafana"]).stdout.split()[0]
    port = free_port()
    env = dict(os.environ, FAULTLINE_API_PORT=str(port))
    proc = subprocess.Popen([FAULTLINE, "api", "--workers", "2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(proc)

        def answering():
            try:
                return _get(base + "/api/v1/tickets?limit=5", viewer_key)[0] == 200
            except OSError:  # the workers are still starting
                return False

        wait_until(answering, 60, what="the workers answering")
        workers = wait_until(lambda: _children(proc.pid) if len(_children(proc.pid)) >= 2 else None, 30,
                             what="two worker processes")
        assert all(_get(base + "/ready")[0] == 200 for _ in range(10))
        assert _get(base + "/api/v1/tickets")[0] == 401  # keys checked in every worker
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=60)
    assert "Application shutdown complete" in rest
    assert proc.returncode in (0, -15)
    wait_until(lambda: not any(_running(pid) for pid in workers), 30,
               what="the workers (and the pool's helper process) gone with the parent")
