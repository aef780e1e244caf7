"""docker-compose.yml, the Dockerfile and the broker config for compose, checked without a Docker engine.

`docker-compose config` validates and resolves the file (Debian's
docker-compose 1.29 needs no engine for it); the image's install step is
shown to work by building the wheel the Dockerfile installs and running
`faultline` from a fresh virtualenv that holds only that wheel.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from faultline.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SAMPLE = ROOT / "deploy" / "compose.env.example"
SERVICES = {"broker-init", "influxdb-init", "mosquitto", "influxdb", "grafana", "faultline", "sim"}
REAL = "s3cret0"  # stands for the operator's values in place of the sample's change-me


def _docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return exe


def _project(tmp_path: Path, env_text: str | None) -> Path:
    """A copy of the files compose reads, with an .env beside it."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    if env_text is not None:
        (tmp_path / ".env").write_text(env_text)
    return tmp_path


def _binds(service: dict) -> dict[str, str]:
    """Bind mounts of a resolved service, target -> source (1.29 prints short `src:dst:mode` strings)."""
    out = {}
    for v in service["volumes"]:
        source, target = (v["source"], v["target"]) if isinstance(v, dict) else v.split(":")[:2]
        if source.startswith("/"):
            out[target] = source
    return out


def _config(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_docker_compose(), "--profile", "sim", "config", *args], cwd=project,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def resolved(tmp_path) -> dict:
    result = _config(_project(tmp_path, SAMPLE.read_text().replace("change-me", REAL)))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_config_is_valid_with_the_sample_env(tmp_path):
    result = _config(_project(tmp_path, SAMPLE.read_text()), "-q")
    assert result.returncode == 0, result.stderr


def test_missing_secrets_are_named(tmp_path):
    result = _config(_project(tmp_path, None), "-q")
    assert result.returncode != 0
    assert re.search(r"set [A-Z_]+ in \.env", result.stderr), result.stderr  # the variable is named


def test_every_service_is_healthchecked_and_waits_for_healthy_dependencies(resolved):
    services = resolved["services"]
    assert set(services) == SERVICES
    for name, svc in services.items():
        assert name.endswith("-init") or svc["healthcheck"]["test"], name  # one-shot steps
        for dep, cond in svc.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dep.endswith("-init") else "service_healthy"
            assert cond == {"condition": wanted}, (name, dep)
    assert services["mosquitto"]["depends_on"] == {"broker-init": {"condition": "service_completed_successfully"}}
    assert set(services["faultline"]["depends_on"]) == {"mosquitto", "influxdb", "influxdb-init"}
    assert services["sim"]["profiles"] == ["sim"]
    assert services["sim"]["command"][:4] == ["faultline", "simulate", "--scenario", "firmware-regression"]


def test_images_and_plugins(resolved):
    services = resolved["services"]
    assert services["mosquitto"]["image"] == "eclipse-mosquitto:2.0.20"  # pinned versions
    assert services["influxdb"]["image"] == "influxdb:2.7.11"
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    assert "yesoreyeram-infinity-datasource" in services["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
    assert services["faultline"]["build"]["context"]
    assert services["faultline"]["command"] == ["faultline", "run"]


def test_influx_bucket_is_the_database_faultline_uses(resolved):
    services = resolved["services"]
    influx_env = services["influxdb"]["environment"]
    faultline_env = services["faultline"]["environment"]
    assert influx_env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert influx_env["DOCKER_INFLUXDB_INIT_BUCKET"] == faultline_env["FAULTLINE_INFLUX_DB"] == "faultline"
    admin = influx_env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    grafana_env = services["grafana"]["environment"]
    assert admin not in (faultline_env["FAULTLINE_INFLUX_PASSWORD"], grafana_env["DS_INFLUX_PASSWORD"])  # scoped
    assert (faultline_env["FAULTLINE_INFLUX_USER"], grafana_env["DS_INFLUX_USER"]) == ("faultline", "grafana")
    init = services["influxdb-init"]
    script = init["command"][-1].replace("$$", "$")  # compose's escape for a literal $
    assert init["environment"]["INFLUX_TOKEN"] == admin  # only the init step holds the admin token
    assert 'login faultline "$FAULTLINE_PW" "--read-bucket $id --write-bucket $id"' in script
    assert 'login grafana "$GRAFANA_PW" "--read-bucket $id"' in script  # read only
    assert init["environment"]["FAULTLINE_PW"] == faultline_env["FAULTLINE_INFLUX_PASSWORD"]
    assert init["environment"]["GRAFANA_PW"] == grafana_env["DS_INFLUX_PASSWORD"]


@pytest.mark.parametrize("service", ["faultline", "sim"])
def test_faultline_environment_is_accepted_by_the_strict_settings(resolved, service, tmp_path):
    env = {k: str(v) for k, v in resolved["services"][service]["environment"].items() if k.startswith("FAULTLINE_")}
    env["FAULTLINE_DATA_DIR"] = str(tmp_path)  # the container path is not writable here
    settings = load_settings(env)
    assert settings.mqtt_host == "mosquitto" and settings.influx_url == "http://influxdb:8086"
    assert settings.mqtt_url.startswith(f"mqtt://faultline-ingest:{REAL}@")  # Faultline logs in to the broker


def test_change_me_left_in_the_env_stops_faultline_at_start(tmp_path):
    from faultline.settings import SettingsError

    result = _config(_project(tmp_path, SAMPLE.read_text()))
    assert result.returncode == 0, result.stderr
    env = {k: str(v) for k, v in yaml.safe_load(result.stdout)["services"]["faultline"]["environment"].items()}
    env["FAULTLINE_DATA_DIR"] = str(tmp_path / "data")
    with pytest.raises(SettingsError, match="change-me placeholder") as refused:
        load_settings(env)
    assert "change-me" not in str(refused.value).split("still a")[0]  # the option is named, not its value


def test_the_broker_init_step_and_the_healthcheck_log_in(resolved):
    services = resolved["services"]
    init = " ".join(services["broker-init"]["command"])
    assert "faultline devices certs" in init and "--host mosquitto" in init
    assert "service-user faultline-ingest --password-env MQTT_FAULTLINE_PASSWORD" in init
    assert "service-user faultline-health --password-env MQTT_HEALTHCHECK_PASSWORD" in init
    health = " ".join(services["mosquitto"]["healthcheck"]["test"])
    assert "-u faultline-health" in health and "MQTT_HEALTHCHECK_PASSWORD" in health
    assert services["mosquitto"]["environment"]["MQTT_HEALTHCHECK_PASSWORD"] == REAL
    ports = [str(p.get("target", p)) if isinstance(p, dict) else p for p in services["mosquitto"]["ports"]]
    assert len(ports) == 1 and "8883" in ports[0]  # devices reach the TLS listener only


def test_grafana_gets_every_variable_its_provisioning_reads(resolved):
    provisioning = (ROOT / "grafana" / "provisioning" / "datasources" / "faultline.yaml").read_text()
    body = "\n".join(line for line in provisioning.splitlines() if not line.lstrip().startswith("#"))
    wanted = set(re.findall(r"\$\{(\w+)\}", body))
    grafana = resolved["services"]["grafana"]
    assert wanted and wanted <= set(grafana["environment"]), wanted - set(grafana["environment"])
    mounts = _binds(grafana)
    assert Path(mounts["/etc/grafana/provisioning"]).name == "provisioning"
    provider = yaml.safe_load((ROOT / "grafana" / "provisioning" / "dashboards" / "faultline.yaml").read_text())
    assert Path(mounts[provider["providers"][0]["options"]["path"]]).name == "dashboards"


def test_broker_config_mounted_with_deliberate_limits(resolved):
    mosquitto = resolved["services"]["mosquitto"]
    mounts = _binds(mosquitto)
    conf_path = Path(mounts["/mosquitto/config/mosquitto.conf"])
    assert conf_path.name == "mosquitto.conf" and conf_path.parent.name == "mosquitto"
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    options = dict(line.split(None, 1) for line in conf.splitlines() if line.strip() and not line.startswith("#"))
    assert int(options["max_queued_messages"]) >= 1_000_000
    assert options["allow_anonymous"] == "false" and options["use_username_as_clientid"] == "true"
    assert options["password_file"] == "/mosquitto/auth/passwd" and options["acl_file"] == "/mosquitto/auth/acl"
    assert "listener 8883 0.0.0.0" in conf and options["certfile"] == "/mosquitto/certs/server.pem"
    assert options["persistent_client_expiration"] == "1d"
    assert options["queue_qos0_messages"] == "true"
    assert options["persistence"] == "true"
    assert options["persistence_location"] == "/mosquitto/data/"
    assert "silently" in conf and "max_queued_messages" in conf  # the reason is written down


def test_dockerfile_runs_faultline_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)  # line continuations
    instructions = [line.split(None, 1) for line in joined.splitlines() if line and not line.startswith((" ", "#"))]
    first = {k: v for k, v in reversed(instructions)}
    assert first["FROM"] == "python:3.11-slim"
    assert 'pip install -c /src/deploy/constraints.txt "/src[postgres]"' in text  # pinned versions
    assert "install -d -m 700 -o faultline -g faultline /var/lib/faultline" in text  # the data dir is private
    user_at = text.index("\nUSER faultline")
    assert text.index("pip install") < user_at  # installs as root, runs as faultline
    assert "/health" in first["HEALTHCHECK"]
    assert first["CMD"].strip() == '["faultline", "run"]'
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)


def _declared_packages() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]


def _can_build_in_place() -> bool:
    import importlib.metadata

    try:
        setuptools = tuple(int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    except importlib.metadata.PackageNotFoundError:
        return False
    return setuptools >= (77, 0)  # pyproject's build requirement (an SPDX licence string)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Build in place when this environment can (offline, fast); else as pip
    # does in the image, in an isolated environment with pyproject's build requirements.
    isolation = [] if _can_build_in_place() else ["--no-cache-dir"]
    flags = ["--no-build-isolation"] if not isolation else isolation
    # From a copy of the build context (.dockerignore applied), as the image
    # sees it; building in the checkout would leave build/ behind.
    source = tmp_path_factory.mktemp("context") / "src"
    ignored = [line for line in (ROOT / ".dockerignore").read_text().split() if not line.startswith("#")]
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*[Path(p).name for p in ignored], "build"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *flags, "-w", str(out), str(source)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (whl,) = out.glob("faultline-*.whl")
    return whl


def test_wheel_holds_every_package_and_data_file(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for package in _declared_packages():
        folder = package.replace(".", "/")
        if (ROOT / folder / "__init__.py").exists():
            assert f"{folder}/__init__.py" in names, package
        else:  # a data folder the code reads (migrations, scenarios)
            assert any(n.startswith(folder + "/") for n in names), package
    scenarios = sorted(p.name for p in (ROOT / "simulators" / "scenarios").glob("*.yaml"))
    assert scenarios and all(f"simulators/scenarios/{s}" in names for s in scenarios)
    for path in (ROOT).glob("*/migrations/versions/*.py"):
        assert str(path.relative_to(ROOT)) in names
    assert "faultline/commands/grafana.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "faultline = faultline.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_runs_faultline(wheel, tmp_path):
    """The image's `pip install .` step: the wheel alone in a fresh venv (deps borrowed, read-only)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = Path(subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The project's dependencies, after the venv's own site-packages: the wheel's faultline wins.
    (site / "zz_project_deps.pth").write_text(str(deps) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    where = subprocess.run([str(py), "-c", "import faultline, simulators; print(faultline.__file__, simulators.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert str(ROOT) not in where and str(site) in where
    faultline = venv / "bin" / "faultline"
    result = subprocess.run([str(faultline), "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "grafana" in result.stdout and "ingest" in result.stdout
    result = subprocess.run([str(faultline), "grafana", "annotate", "--help"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0 and "alert_events" in result.stdout


def test_sample_env_and_compose_name_the_same_variables():
    sample = {m.group(1) for m in re.finditer(r"^([A-Z][A-Z0-9_]*)=", SAMPLE.read_text(), flags=re.M)}
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert used == sample, f"undocumented: {used - sample}; unused: {sample - used}"
    assert not any(name.startswith("FAULTLINE_") for name in sample)  # those are Faultline settings, set per container


def test_operator_guide_matches_the_stack():
    guide = (ROOT / "docs" / "operators.md").read_text()
    for name in SERVICES:
        assert f"`{name}`" in guide
    for uid in ("faultline-fleet", "faultline-device", "faultline-tickets", "faultline-influx", "faultline-api"):
        assert uid in guide
    for word in ("FAULTLINE_MQTT_SHARED_GROUP", "max_queued_messages", "queue_qos0_messages", "localhost:3000",
                 "localhost:8000/docs", "localhost:8086"):
        assert word in guide
