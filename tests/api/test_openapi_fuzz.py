"""Schemathesis against the API's own OpenAPI document: generated requests (valid and invalid) to
every operation, as an admin, on a real SQL database and the session's InfluxDB.

Checks on every answer: never a 5xx, the status is one the document declares for the operation,
the body matches the declared schema (the real 422, 401/403/404/409/503 bodies included).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from ingest import fields
from ingest.records import DeviceMeta
from ingest.registry import DeviceRegistry

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(app, engine, clock, open_ticket, make_alert):
    """The app's schema, on a database with a little of everything for ids to hit."""
    DeviceRegistry(engine).persist([DeviceMeta("pump-1", clock.ms, "PX-200", "2.1.0", "sh-03")], [])
    fields.persist(engine, [("pump-1", "temp_c", clock.ms)])
    for device in ("pump-1", "pump-2", "fan-1"):
        open_ticket(device)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


EXAMPLES = 15  # per operation and mode: about 1,100 requests in all


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_every_generated_request_gets_a_declared_answer_and_never_a_server_error(app, api_schema, auth, mode):
    headers = auth("admin")
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in app.openapi()["paths"].values())
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            call()
        except Unsatisfiable:  # nothing invalid to send (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.parametrize("method,path,body,field", [
    ("GET", "/api/v1/tickets?offset=9223372036854775808", None, "offset"),
    ("GET", "/api/v1/tickets/9223372036854775808", None, "ticket_id"),
    ("GET", "/api/v1/devices/pump-1/telemetry?end_ms=99999999999999999", None, "end_ms"),
    ("GET", "/api/v1/devices/pump-1/telemetry?metric=a%0Ab", None, "metric"),
    ("GET", "/api/v1/kpis?from=9223372036854775807", None, "from"),
    ("POST", "/api/v1/deadletters/replay", {"ids": [2**63]}, "ids.0"),
    ("POST", "/api/v1/deadletters/replay", {"all": True, "after_id": 2**64}, "after_id"),
    ("POST", "/api/v1/silences", {"matchers": ["site=a"], "starts_at_ms": 2**62, "duration_s": 60}, "starts_at_ms"),
])
def test_out_of_range_integers_are_422_naming_the_field(client, auth, method, path, body, field):
    response = client.request(method, path, json=body, headers=auth("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
