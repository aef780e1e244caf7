import uuid

import pytest

from support.postgres import postgres_database


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own: retained messages of other tests never reach it."""
    return f"t{uuid.uuid4().hex[:8]}/devices"


@pytest.fixture
def env(settings_env, prefix) -> dict[str, str]:
    return {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}


@pytest.fixture
def database_url(database):
    """"" for the default SQLite file in the data dir, or a throwaway PostgreSQL database."""
    if database == "sqlite":
        yield ""
        return
    with postgres_database("faultline_workers") as url:
        yield url
