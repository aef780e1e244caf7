"""API keys: stored hashed, roles, revocation, management routes (admin only)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from api.keys import KeyStore, UnknownApiKey

pytestmark = pytest.mark.sql("sqlite", "postgresql")


def test_key_is_stored_only_as_its_sha256(engine, clock):
    store = KeyStore(engine, clock)
    key, plain = store.create("grafana", "viewer")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_keys WHERE id = :i"), {"i": key.id}).mappings().one()
    assert plain not in " ".join(str(v) for v in stored.values())
    assert stored["key_hash"] == hashlib.sha256(plain.encode()).hexdigest()
    assert plain.startswith("flk_") and len(plain) >= 40
    assert store.authenticate(plain) == key


def test_unknown_malformed_and_revoked_keys_do_not_authenticate(engine, clock):
    store = KeyStore(engine, clock)
    key, plain = store.create("ops", "admin")
    assert store.authenticate(plain[:-1] + ("A" if plain[-1] != "A" else "B")) is None
    assert store.authenticate("not-a-key") is None
    assert store.authenticate("") is None
    clock.ms += 5
    revoked = store.revoke(key.id)
    assert revoked.revoked_ms == clock.ms and not revoked.active
    assert store.authenticate(plain) is None
    assert store.revoke(key.id).revoked_ms == revoked.revoked_ms  # idempotent


def test_store_rejects_bad_role_and_name_and_unknown_id(engine, clock):
    store = KeyStore(engine, clock)
    with pytest.raises(ValueError, match="role"):
        store.create("x", "root")
    with pytest.raises(ValueError, match="name"):
        store.create("   ", "viewer")
    with pytest.raises(UnknownApiKey, match="999"):
        store.revoke(999)


def test_each_key_is_different(engine, clock):
    store = KeyStore(engine, clock)
    plains = {store.create(f"k{i}", "viewer")[1] for i in range(20)}
    assert len(plains) == 20


def test_admin_creates_lists_and_revokes_keys_over_http(client, auth):
    created = client.post("/api/v1/apikeys", json={"name": "dashboard", "role": "viewer"}, headers=auth("admin"))
    assert created.status_code == 201
    body = created.json()
    assert body["role"] == "viewer" and body["key"].startswith(body["prefix"])
    new_key = {"Authorization": f"Bearer {body['key']}"}
    assert client.get("/api/v1/apikeys", headers=new_key).status_code == 403  # a viewer
    listed = client.get("/api/v1/apikeys", headers=auth("admin")).json()
    assert "dashboard" in [k["name"] for k in listed]
    assert all("key" not in k for k in listed)
    revoked = client.delete(f"/api/v1/apikeys/{body['id']}", headers=auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    refused = client.get("/api/v1/apikeys", headers=new_key)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"


def test_key_management_errors(client, auth):
    bad_role = client.post("/api/v1/apikeys", json={"name": "x", "role": "root"}, headers=auth("admin"))
    assert bad_role.status_code == 422 and "role" in bad_role.json()["detail"]
    no_name = client.post("/api/v1/apikeys", json={"role": "viewer"}, headers=auth("admin"))
    assert no_name.status_code == 422 and no_name.json()["errors"][0]["field"] == "name"
    blank = client.post("/api/v1/apikeys", json={"name": "   ", "role": "viewer"}, headers=auth("admin"))
    assert blank.status_code == 422 and blank.json()["detail"] == "name: String should have at least 1 character"
    unknown = client.delete("/api/v1/apikeys/424242", headers=auth("admin"))
    assert unknown.status_code == 404 and "424242" in unknown.json()["detail"]
    not_int = client.delete("/api/v1/apikeys/abc", headers=auth("admin"))
    assert not_int.status_code == 422 and not_int.json()["errors"][0]["field"] == "key_id"
