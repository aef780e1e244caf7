import re
from pathlib import Path

import pytest

from faultline.settings import Settings, SettingsError, load_settings

SAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def sample_options() -> dict[str, str]:
    options = {}
    for line in SAMPLE.read_text().splitlines():
        m = re.match(r"^#?\s*(FAULTLINE_[A-Z0-9_]+)=([^#]*?)\s*(#.*)?$", line)
        if m:
            options[m.group(1)] = m.group(2)
    return options


def test_sample_lists_every_option_and_nothing_else():
    documented = set(sample_options())
    known = {"FAULTLINE_" + name.upper() for name in Settings.model_fields}
    assert documented == known, f"missing: {known - documented}; unknown: {documented - known}"


def test_sample_defaults_match_the_code():
    for option, value in sample_options().items():
        field = Settings.model_fields[option.removeprefix("FAULTLINE_").lower()]
        default = field.default
        default = default.get_secret_value() if hasattr(default, "get_secret_value") else default
        assert str(default) == value, option


def test_sample_loads_as_settings(tmp_path):
    env = {k: v for k, v in sample_options().items()}
    env["FAULTLINE_DATA_DIR"] = str(tmp_path)
    settings = load_settings(env)
    assert settings.influx_db == "faultline"


def test_unknown_option_is_named():
    with pytest.raises(SettingsError, match="FAULTLINE_INFLUX_DATABSE"):
        load_settings({"FAULTLINE_INFLUX_DATABSE": "x"})


@pytest.mark.parametrize("option,value", [
    ("FAULTLINE_MQTT_URL", "http://broker"),
    ("FAULTLINE_INFLUX_URL", "influx:8086"),
    ("FAULTLINE_BATCH_SIZE", "zero"),
    ("FAULTLINE_API_PORT", "70000"),
    ("FAULTLINE_LOG_LEVEL", "LOUD"),
    ("FAULTLINE_MQTT_PROTOCOL", "3.1"),
    ("FAULTLINE_MQTT_PROTOCOL", "mqttv5"),
])
def test_bad_value_names_option_and_value(option, value, tmp_path):
    with pytest.raises(SettingsError) as err:
        load_settings({option: value, "FAULTLINE_DATA_DIR": str(tmp_path)})
    assert option in str(err.value) and value in str(err.value)


def test_the_mqtt_protocol_reaches_ingest_s_subscriber(tmp_path):
    from faultline.run import Faultline
    from faultline.wiring import ingest_service

    settings = load_settings({"FAULTLINE_MQTT_PROTOCOL": "3.1.1", "FAULTLINE_DATA_DIR": str(tmp_path)})
    service = ingest_service(settings)
    assert (service.config.mqtt_protocol, service.subscriber.protocol) == ("3.1.1", "3.1.1")
    assert service.flush_messages == 5000  # the batch size (half the broker's bound of 20,000 is more)
    told = load_settings({"FAULTLINE_MQTT_PROTOCOL": "3.1.1", "FAULTLINE_MQTT_BROKER_MAX_INFLIGHT": "100",
                          "FAULTLINE_DATA_DIR": str(tmp_path)})
    assert ingest_service(told).flush_messages == 50
    assert ingest_service(load_settings({"FAULTLINE_DATA_DIR": str(tmp_path)})).subscriber.protocol == "5"
    assert Faultline(settings, serve_api=False).ingest.subscriber.protocol == "3.1.1"  # `faultline run`


def test_password_never_printed(tmp_path):
    s = load_settings({"FAULTLINE_INFLUX_PASSWORD": "s3cret-token", "FAULTLINE_DATA_DIR": str(tmp_path)})
    assert "s3cret-token" not in repr(s)
    assert s.influx_password.get_secret_value() == "s3cret-token"


def test_default_database_is_sqlite_in_data_dir(tmp_path):
    s = load_settings({"FAULTLINE_DATA_DIR": str(tmp_path)})
    assert s.sql_url == f"sqlite:///{tmp_path.resolve()}/database"


def test_readme_names_the_settings_it_documents():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    known = {"FAULTLINE_" + name.upper() for name in Settings.model_fields}
    mentioned = set(re.findall(r"(?<![A-Z_])FAULTLINE_[A-Z0-9_]+", readme))
    assert mentioned <= known, f"README mentions unknown options: {mentioned - known}"
    assert ".env.example" in readme
