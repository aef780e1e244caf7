"""The role matrix: every route, called with no key, an unknown key and each role.

Below the route's role: 401 (with ``WWW-Authenticate: Bearer``) without a
valid key, 403 with a valid key of a lower role. At or above it: the route's
success status, on a database prepared so that every action is allowed.
"""

from __future__ import annotations

import pytest

from api.keys import ROLES, KeyStore, role_rank
from ingest.records import DeviceMeta
from ingest.registry import DeviceRegistry

ROUTES = [  # method, path, least role, body, success status
    ("GET", "/api/v1/tickets", "viewer", None, 200),
    ("GET", "/api/v1/tickets/{ticket}", "viewer", None, 200),
    ("GET", "/api/v1/tickets/{ticket}/similar-by-signature", "viewer", None, 200),
    ("POST", "/api/v1/tickets", "technician", {"device": "pump-1", "customer": "acme", "symptom": "hums",
                                               "reported_at": "2026-01-01T00:00:00Z", "frequency": "daily",
                                               "impact": "degraded", "contact": "ann@acme.example"}, 201),
    ("POST", "/api/v1/tickets/{ticket}/ack", "technician", None, 200),
    ("POST", "/api/v1/tickets/{ticket}/assign", "technician", {"assignee": "ana", "team": "east"}, 200),
    ("POST", "/api/v1/tickets/{ticket}/comments", "technician", {"text": "on my way"}, 201),
    ("POST", "/api/v1/tickets/{ticket}/resolve", "technician", {"root_cause": "a", "resolution": "b"}, 200),
    ("POST", "/api/v1/tickets/{resolved}/reopen", "technician", {"reason": "back again"}, 200),
    ("POST", "/api/v1/tickets/{resolved}/close", "technician", None, 200),
    ("POST", "/api/v1/tickets/{reported}/satisfaction-link", "technician", None, 200),
    ("GET", "/api/v1/alerts", "viewer", None, 200),
    ("GET", "/api/v1/silences", "viewer", None, 200),
    ("GET", "/api/v1/silences/{silence}", "viewer", None, 200),
    ("POST", "/api/v1/silences", "technician", {"matchers": ["site=sh-03"], "duration_s": 600}, 201),
    ("DELETE", "/api/v1/silences/{silence}", "technician", None, 200),
    ("GET", "/api/v1/kpis", "viewer", None, 200),
    ("GET", "/api/v1/devices", "viewer", None, 200),
    ("GET", "/api/v1/devices/pump-1", "viewer", None, 200),
    ("GET", "/api/v1/devices/pump-1/telemetry", "viewer", None, 200),
    ("GET", "/api/v1/devices/pump-1/metrics", "viewer", None, 200),
    ("GET", "/api/v1/devices/pump-1/logs", "viewer", None, 200),
    ("GET", "/api/v1/devices/pump-1/events", "viewer", None, 200),
    ("GET", "/api/v1/deadletters", "viewer", None, 200),
    ("POST", "/api/v1/deadletters/replay", "admin", {"all": True}, 200),
    ("GET", "/api/v1/apikeys", "admin", None, 200),
    ("POST", "/api/v1/apikeys", "admin", {"name": "grafana", "role": "viewer"}, 201),
    ("DELETE", "/api/v1/apikeys/{key}", "admin", None, 200),
]
CALLERS = (None, "unknown", *ROLES)
PUBLIC = [("POST", "/api/v1/satisfaction/{token}")]  # the customer's one-time link: the token is the credential


@pytest.fixture
def world(client, auth, engine, clock, open_ticket):
    DeviceRegistry(engine).persist([DeviceMeta("pump-1", clock.ms, "PX-200", "2.1.0", "sh-03")], [])
    resolved = open_ticket("pump-9")
    client.post(f"/api/v1/tickets/{resolved}/resolve", json={"root_cause": "x", "resolution": "y"},
                headers=auth("technician"))
    silence = client.post("/api/v1/silences", json={"matchers": ["device=pump-2"], "duration_s": 60},
                          headers=auth("technician")).json()["id"]
    key, _ = KeyStore(engine, clock).create("spare", "viewer")
    DeviceRegistry(engine).persist([DeviceMeta("pump-3", clock.ms, "PX-200", "2.1.0", "sh-03")], [])
    reported = client.post("/api/v1/tickets", json={**next(r[3] for r in ROUTES if r[:2] == ("POST", "/api/v1/tickets")), "device": "pump-3"},
                           headers=auth("technician")).json()["id"]
    client.post(f"/api/v1/tickets/{reported}/resolve", json={"root_cause": "x", "resolution": "y"},
                headers=auth("technician"))
    return {"ticket": open_ticket("pump-1"), "resolved": resolved, "silence": silence, "key": key.id,
            "reported": reported}


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "no-key")
@pytest.mark.parametrize("method,path,least,body,success", ROUTES,
                         ids=[f"{m} {p}" for m, p, *_ in ROUTES])
def test_role_matrix(client, api_keys, world, method, path, least, body, success, caller):
    headers = {}
    if caller == "unknown":
        headers = {"Authorization": "Bearer flk_" + "A" * 43}
    elif caller is not None:
        headers = {"Authorization": f"Bearer {api_keys[caller]}"}
    response = client.request(method, path.format(**world), json=body, headers=headers)
    if caller in (None, "unknown"):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    elif role_rank(caller) < role_rank(least):
        assert response.status_code == 403
        assert f"needs '{least}'" in response.json()["detail"]
    else:
        assert response.status_code == success, response.text


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "flk_abc", "Token flk_abc"])
def test_malformed_authorization_headers_are_401(client, world, header):
    response = client.get("/api/v1/tickets", headers={"Authorization": header})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_the_satisfaction_link_needs_no_key_but_a_valid_token(client):
    response = client.post("/api/v1/satisfaction/1.nonce.forged", json={"rating": 5})
    assert response.status_code == 403 and "not a satisfaction link" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", "/docs", "/openapi.json"])
def test_probes_and_docs_need_no_key(client, path):
    assert client.get(path).status_code == 200


def test_the_matrix_covers_every_api_route(app):
    served = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
              if path.startswith("/api/") for method in operations}
    placeholders = {"{ticket}": "{ticket_id}", "{resolved}": "{ticket_id}", "{reported}": "{ticket_id}", "{silence}": "{silence_id}",
                    "{key}": "{key_id}", "pump-1": "{device_id}"}
    covered = set(PUBLIC)
    for method, path, *_ in ROUTES:
        for ours, theirs in placeholders.items():
            path = path.replace(ours, theirs)
        covered.add((method, path))
    assert served == covered
