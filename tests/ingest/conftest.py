import uuid

import pytest


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own: retained messages of other tests never reach it."""
    return f"t{uuid.uuid4().hex[:8]}/devices"


@pytest.fixture
def env(settings_env, prefix) -> dict[str, str]:
    return {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}
