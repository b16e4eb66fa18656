"""Contract tests: ``tss serve`` (every role, one subprocess, free loopback ports) answers the
seed report's requests, replayed byte for byte, with the report's responses; the new keys sign
and ``cryptography`` verifies the signatures. Then every bad input gets a 4xx with a JSON error
body and stores nothing, and schemathesis finds no 5xx in the published OpenAPI schemas."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from node_support import API_KEY, ServeProcess, verify_der

from tss.node.channel import Header
from tss.node.client import CoordinatorClient, DeviceParty, open_bundle
from tss.node.crypto import IdentityKey, b64u, x25519_public_bytes
from tss.node.tokens import join_binding

# ---- the seed report's requests, byte for byte
SEED_KEYGEN = b'''{
"threshold_n": 3,
"threshold_t": 2,
"participants": [
{"party_id": "server-party-1", "device_type": "server", "device_id": "party1"},
{"party_id": "server-party-2", "device_type": "server", "device_id": "party2"},
{"party_id": "server-party-3", "device_type": "server", "device_id": "party3"}
]
}'''
SEED_AUTO_CREATE = b'''{
"deviceId": "test-device-1733369039",
"deviceName": "WSL Test Device",
"provinceCode": "440000",
"cityCode": "440100"
}'''
SEED_HEADERS = {"X-API-Key": "change_this_api_key_to_match_your_mpc_service_config",
                "Content-Type": "application/json"}
JSON = {"Content-Type": "application/json"}
HEALTH = [
    ("coordinator", "/health", b'{"service":"account","status":"healthy"}'),
    ("session-coordinator", "/health", b'{"service":"session-coordinator","status":"healthy"}'),
    ("router", "/health", b'{"service":"message-router","status":"healthy"}'),
    ("party", "/health", b'{"service":"server-party-api","status":"healthy"}'),
    ("identity", "/api/v1/health",
     b'{"success":true,"data":{"status":"ok","service":"identity-service"}}'),
    ("backup", "/api/v1/health",
     b'{"success":true,"data":{"status":"ok","service":"backup-service"}}'),
    ("mpc-service", "/api/v1/health",
     b'{"success":true,"data":{"status":"ok","service":"mpc-party-service"}}'),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServeProcess]:
    d = tmp_path_factory.mktemp("serve")
    proc = ServeProcess(d / "data", args=("--keygen-timeout", "120", "--join-timeout", "60"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def http(server) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60.0) as c:
        yield c


@pytest.fixture(scope="module")
def short_lived(server, http) -> dict:
    """A device session with a 5-second join window, made early so that it has expired by the
    time the token test runs."""
    r = http.post(server.url("coordinator") + "/api/v1/mpc/keygen", headers=SEED_HEADERS,
                  json={"threshold_n": 2, "threshold_t": 2, "timeout_seconds": 5,
                        "participants": [{"party_id": "dev-x", "device_type": "mobile"},
                                         {"party_id": "dev-y", "device_type": "mobile"}]})
    assert r.status_code == 201, r.text
    out = r.json()
    out["created"] = time.monotonic()
    return out


def _wait(http: httpx.Client, base: str, sid: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = http.get(f"{base}/api/v1/mpc/sessions/{sid}", headers={"X-API-Key": API_KEY})
        assert r.status_code == 200, r.text
        view = r.json()
        if view["status"] in ("completed", "failed", "expired"):
            return view
        time.sleep(0.2)
    raise AssertionError(f"session {sid} did not finish")


def _sessions(server: ServeProcess) -> int:
    con = sqlite3.connect(f"file:{server.data_dir / 'coordinator.db'}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
    finally:
        con.close()


# ---------------------------------------------------------------------- the seed's requests
def test_health_bodies_are_the_reports(server, http, short_lived):
    for role, path, body in HEALTH:
        r = http.get(server.url(role) + path)
        assert r.status_code == 200 and r.content == body, (role, r.content)
        assert r.headers["content-type"] == "application/json"


def test_seed_keygen_then_sign(server, http):
    base = server.url("coordinator")
    t0 = time.monotonic()
    r = http.post(base + "/api/v1/mpc/keygen", headers=SEED_HEADERS, content=SEED_KEYGEN)
    assert time.monotonic() - t0 < 1.0  # "API responds within 100ms" on their machine
    assert r.status_code == 201, r.text
    body = r.json()
    assert list(body)[:6] == ["session_id", "session_type", "threshold_n", "threshold_t",
                              "status", "join_tokens"]
    assert body["session_type"] == "keygen" and body["status"] == "waiting"
    assert (body["threshold_n"], body["threshold_t"]) == (3, 2)
    assert set(body["join_tokens"]) == {"server-party-1", "server-party-2", "server-party-3"}
    uuid.UUID(body["session_id"])
    view = _wait(http, base, body["session_id"])
    assert view["status"] == "completed", view
    assert view["joined"] == ["server-party-1", "server-party-2", "server-party-3"]
    key = view["result"]
    assert len(key["public_key"]) == 66 and len(key["key_id"]) == 32
    # every server party holds a share of it (listed by the party API, never the share)
    parties = http.get(server.url("party") + "/api/v1/parties",
                       headers={"X-API-Key": API_KEY}).json()["parties"]
    assert {p["party_id"] for p in parties} == {"server-party-1", "server-party-2",
                                                "server-party-3"}
    for pid in ("server-party-1", "server-party-2", "server-party-3"):
        keys = http.get(server.url("party") + f"/api/v1/parties/{pid}/keys",
                        headers={"X-API-Key": API_KEY}).json()["keys"]
        assert key["key_id"] in [k["key_id"] for k in keys]
    # sign with the new key (two of the three), verify with cryptography
    mh = hashlib.sha256(b"seed contract").digest()
    r = http.post(base + "/api/v1/mpc/sign", headers=SEED_HEADERS,
                  json={"key_id": key["key_id"], "message_hash": mh.hex(),
                        "participants": ["server-party-2", "server-party-3"]})
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["session_type"] == "sign" and s["status"] == "waiting"
    done = _wait(http, base, s["session_id"])
    assert done["status"] == "completed", done
    res = done["result"]
    verify_der(key["public_key"], mh, bytes.fromhex(res["der"]))
    r_, s_ = decode_dss_signature(bytes.fromhex(res["der"]))
    assert (f"{r_:064x}", f"{s_:064x}") == (res["r"], res["s"])
    assert res["v"] in (0, 1, 2, 3)


def test_seed_auto_create_then_sign(server, http):
    r = http.post(server.url("identity") + "/api/v1/user/auto-create",
                  headers={"Content-Type": "application/json"}, content=SEED_AUTO_CREATE)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["success"] is True
    d = body["data"]
    for field in ("userId", "keyId", "publicKey", "encryptedShare"):
        assert d[field], field
    assert d["deviceId"] == "test-device-1733369039" and d["threshold"] == {"t": 2, "n": 3}
    bundle = open_bundle(d["encryptedShare"], user_id=d["userId"], key_id=d["keyId"],
                         share_key=d["shareKey"])
    assert bundle.share.public_key.hex() == d["publicKey"]
    raw_share = bundle.share.to_bytes()
    # the user's share is stored nowhere in the system, in clear or as handed out
    for db in server.data_dir.glob("*.db*"):
        data = db.read_bytes()
        assert raw_share[-64:] not in data and d["encryptedShare"][:64].encode() not in data
    # the same device again: refused, in the seed's failure format
    again = http.post(server.url("identity") + "/api/v1/user/auto-create", headers=JSON,
                      content=SEED_AUTO_CREATE)
    assert again.status_code == 409
    fail = again.json()
    assert fail["success"] is False and fail["message"] and fail["timestamp"].endswith("Z")
    # the user signs through the mpc-service (user device + server-party-1) ...
    mh = hashlib.sha256(b"user pays").digest()
    r = http.post(server.url("mpc-service") + "/api/v1/mpc/sign",
                  headers={"X-API-Key": API_KEY},
                  json={"userId": d["userId"], "keyId": d["keyId"], "messageHash": mh.hex(),
                        "encryptedShare": d["encryptedShare"], "shareKey": d["shareKey"]})
    assert r.status_code == 200, r.text
    verify_der(d["publicKey"], mh, bytes.fromhex(r.json()["data"]["der"]))

    # ... or as a device party of its own, with the coordinator API and the Python client
    async def device_sign() -> tuple[dict, bytes]:
        mh2 = hashlib.sha256(b"device pays").digest()
        async with CoordinatorClient(server.url("coordinator"), API_KEY) as c:
            s = await c.sign(mh2, key_id=d["keyId"],
                             participants=[bundle.party_id, "server-party-1"])
            phone = DeviceParty(server.url("router"), bundle.party_id,
                                identity=bundle.identity)
            sig = await phone.sign(s["session_id"], s["join_tokens"][bundle.party_id],
                                   bundle.share, timeout=60)
            view = await c.wait(s["session_id"], timeout=30)
            assert view["status"] == "completed", view
            assert sig.to_der().hex() == view["result"]["der"]
            return view, mh2
    view, mh2 = asyncio.run(device_sign())
    verify_der(d["publicKey"], mh2, bytes.fromhex(view["result"]["der"]))


def test_generic_session_api_of_the_report(server, http):
    """The call that failed in the report: POST :8081/api/v1/sessions."""
    body = {"sessionType": "keygen", "thresholdN": 2, "thresholdT": 2, "partyId": "app-1",
            "participants": [{"partyId": "app-1", "deviceType": "mobile"},
                             {"partyId": "app-2", "deviceType": "mobile"}]}
    r = http.post(server.url("session-coordinator") + "/api/v1/sessions", json=body,
                  headers={"X-API-Key": API_KEY})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["session_id"] == out["sessionId"] and out["status"] == "waiting"
    assert out["joinToken"] == out["join_tokens"]["app-1"] == out["join_token"]
    g = http.get(server.url("session-coordinator") + f"/api/v1/sessions/{out['sessionId']}",
                 headers={"X-API-Key": API_KEY})
    assert g.status_code == 200 and g.json()["status"] == "waiting"
    no = http.post(server.url("session-coordinator") + "/api/v1/sessions", json=body)
    assert no.status_code == 401 and no.json()["error"]["code"] == "unauthorized"


# ---------------------------------------------------------------------- bad input
KEYGEN_OK = {"threshold_n": 2, "threshold_t": 2,
             "participants": [{"party_id": "dev-a", "device_type": "mobile"},
                              {"party_id": "dev-b", "device_type": "mobile"}]}


def _bad_keygen(**change) -> bytes:
    body = json.loads(json.dumps(KEYGEN_OK))
    body.update(change)
    return json.dumps(body).encode()


BAD_COORDINATOR = [
    ("no api key", "POST", "/api/v1/mpc/keygen", {}, _bad_keygen(), 401),
    ("wrong api key", "POST", "/api/v1/mpc/keygen", {"X-API-Key": "change_this"},
     _bad_keygen(), 401),
    ("wrong api key, bad body", "POST", "/api/v1/mpc/keygen", {"X-API-Key": "x"}, b"{", 401),
    ("malformed json", "POST", "/api/v1/mpc/keygen", None, b'{"threshold_n": 3,', 400),
    ("not an object", "POST", "/api/v1/mpc/keygen", None, b"[1, 2]", 422),
    ("t > n", "POST", "/api/v1/mpc/keygen", None, _bad_keygen(threshold_t=3), 422),
    ("t < 1", "POST", "/api/v1/mpc/keygen", None, _bad_keygen(threshold_t=0), 422),
    ("n does not match", "POST", "/api/v1/mpc/keygen", None, _bad_keygen(threshold_n=3), 422),
    ("duplicate party_id", "POST", "/api/v1/mpc/keygen", None, _bad_keygen(participants=[
        {"party_id": "dev-a", "device_type": "mobile"},
        {"party_id": "dev-a", "device_type": "mobile"}]), 422),
    ("bad party_id", "POST", "/api/v1/mpc/keygen", None, _bad_keygen(participants=[
        {"party_id": "a.b", "device_type": "mobile"},
        {"party_id": "c", "device_type": "mobile"}]), 422),
    ("unknown server party", "POST", "/api/v1/mpc/keygen", None, _bad_keygen(participants=[
        {"party_id": "server-party-9", "device_type": "server"},
        {"party_id": "c", "device_type": "mobile"}]), 422),
    ("threshold as text", "POST", "/api/v1/mpc/keygen", None,
     _bad_keygen(threshold_n="two"), 422),
    ("huge body", "POST", "/api/v1/mpc/keygen", None, b"[" + b"1," * 300_000 + b"1]", 413),
    ("unknown session", "GET", f"/api/v1/mpc/sessions/{uuid.uuid4()}", None, b"", 404),
    ("not a session id", "GET", "/api/v1/mpc/sessions/../../etc", None, b"", 404),
    ("short message_hash", "POST", "/api/v1/mpc/sign", None,
     json.dumps({"key_id": "0" * 32, "message_hash": "ab" * 31}).encode(), 422),
    ("long message_hash", "POST", "/api/v1/mpc/sign", None,
     json.dumps({"key_id": "0" * 32, "message_hash": "ab" * 33}).encode(), 422),
    ("no key", "POST", "/api/v1/mpc/sign", None,
     json.dumps({"message_hash": "ab" * 32}).encode(), 422),
    ("unknown key", "POST", "/api/v1/mpc/sign", None,
     json.dumps({"key_id": "0" * 32, "message_hash": "ab" * 32}).encode(), 404),
    ("bad path", "POST", "/api/v1/mpc/sign", None,
     json.dumps({"key_id": "0" * 32, "message_hash": "ab" * 32,
                 "derivation_path": "m/0'/1"}).encode(), 422),
    ("unknown route", "GET", "/api/v1/nothing", None, b"", 404),
    ("wrong method", "DELETE", "/health", {}, b"", 405),
]


@pytest.mark.parametrize("name,method,path,headers,body,status", BAD_COORDINATOR,
                         ids=[b[0] for b in BAD_COORDINATOR])
def test_bad_coordinator_input(server, http, name, method, path, headers, body, status):
    before = _sessions(server)
    h = {"X-API-Key": API_KEY, "Content-Type": "application/json"} if headers is None else {
        "Content-Type": "application/json", **headers}
    r = http.request(method, server.url("coordinator") + path, headers=h, content=body)
    assert r.status_code == status, (name, r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["code"] and err["message"] and "Traceback" not in r.text
    assert _sessions(server) == before


def test_bad_identity_input(server, http):
    base = server.url("identity") + "/api/v1/user/auto-create"
    for body, status in [(b'{"deviceName": "x"}', 422), (b"{", 400),
                         (b'{"deviceId": ""}', 422), (b'{"deviceId": 5}', 422)]:
        r = http.post(base, headers=JSON, content=body)
        assert r.status_code == status, r.text
        j = r.json()
        assert j["success"] is False and j["message"] and j["timestamp"]
    r = http.get(server.url("identity") + "/api/v1/user/nobody")
    assert r.status_code == 401 and r.json()["success"] is False


def _join(http: httpx.Client, server: ServeProcess, sid: str, token: str,
          ident: IdentityKey | None = None, party: str = "dev-a") -> httpx.Response:
    ident = ident or IdentityKey()
    x = x25519_public_bytes(X25519PrivateKey.generate()).hex()
    sig = ident.sign(join_binding(sid, party, ident.public_hex, x))
    return http.post(server.url("router") + f"/api/v1/router/sessions/{sid}/join",
                     json={"join_token": token, "ed25519": ident.public_hex, "x25519": x,
                           "signature": b64u(sig)})


def test_join_tokens_forged_expired_reused_or_elsewhere(server, http, short_lived):
    base = server.url("coordinator")
    a = http.post(base + "/api/v1/mpc/keygen", headers=SEED_HEADERS, json=KEYGEN_OK).json()
    b = http.post(base + "/api/v1/mpc/keygen", headers=SEED_HEADERS, json=KEYGEN_OK).json()
    tok = a["join_tokens"]["dev-a"]
    # forged: a claim changed, or signed by someone else
    head, payload, sig = tok.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["party_id"] = "dev-b"
    forged = f"{head}.{b64u(json.dumps(claims).encode())}.{sig}"
    for bad in (forged, "v1.abc.def", "not a token", tok[:-4] + "AAAA"):
        r = _join(http, server, a["session_id"], bad)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "invalid_token"
    # a valid token on another session's path
    r = _join(http, server, b["session_id"], tok)
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_session"
    # the first use works, a second one is refused
    first = _join(http, server, a["session_id"], tok)
    assert first.status_code == 200, first.text
    assert first.json()["party_id"] == "dev-a" and first.json()["index"] == 0
    again = _join(http, server, a["session_id"], tok)
    assert again.status_code == 409 and again.json()["error"]["code"] == "token_used"
    # expired
    wait = short_lived["created"] + 6.0 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    r = _join(http, server, short_lived["session_id"], short_lived["join_tokens"]["dev-x"],
              party="dev-x")
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    assert _wait(http, base, short_lived["session_id"], 10)["status"] == "expired"

    # messages: only to this session, from this party, with an access token of this session
    access = {"Authorization": f"Bearer {first.json()['access_token']}"}
    router = server.url("router") + "/api/v1/router/sessions"

    def env(sid: str, sender: int = 0, to: int = 1) -> str:
        return b64u(Header(sid, "keygen", 1, sender, to, 0, False).to_bytes() + b"\0" * 32)
    r = http.post(f"{router}/{a['session_id']}/messages", headers=access,
                  json={"messages": [{"to": 1, "data": env(b["session_id"])}]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "wrong_session"
    r = http.post(f"{router}/{b['session_id']}/messages", headers=access,
                  json={"messages": [{"to": 1, "data": env(b["session_id"])}]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_session"
    r = http.post(f"{router}/{a['session_id']}/messages", headers=access,
                  json={"messages": [{"to": 1, "data": env(a["session_id"], sender=1, to=0)}]})
    assert r.status_code in (400, 403)
    r = http.post(f"{router}/{a['session_id']}/messages", headers=access,
                  json={"messages": [{"to": 1, "data": "!!not base64!!"}]})
    assert r.status_code == 400
    r = http.get(f"{router}/{a['session_id']}/messages", params={"wait": 0})
    assert r.status_code == 401
    ok = http.post(f"{router}/{a['session_id']}/messages", headers=access,
                   json={"messages": [{"to": 1, "data": env(a["session_id"])}]})
    assert ok.status_code == 202


@pytest.mark.skipif(shutil.which("schemathesis", path=str(Path(sys.executable).parent)) is None,
                    reason="schemathesis is not installed")
def test_schemathesis_finds_no_server_error(server, tmp_path):
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    for role in ("coordinator", "router"):
        proc = subprocess.run(
            [st, "run", server.url(role) + "/openapi.json", "--checks", "not_a_server_error",
             "-H", f"X-API-Key: {API_KEY}", "--max-time", "6", "--workers", "1",
             "--phases", "examples,coverage,fuzzing", "--request-timeout", "30",
             "--suppress-health-check", "all", "--warnings", "off"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, (role, proc.stdout[-4000:], proc.stderr[-2000:],
                                      server.tail())
