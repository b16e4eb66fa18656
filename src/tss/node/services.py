"""The seed's backend services, answering in their ``{"success": ..., ...}`` envelope.

* identity-service ``:3000``: ``POST /api/v1/user/auto-create`` (the seed's body) creates an
  account with a real 2-of-3 key: user device (played by the mpc-service), ``server-party-1``
  and ``backup``. The user's share comes back once, encrypted (to ``devicePublicKey`` if the
  device sent one, else under a one-time ``shareKey`` returned beside it); neither service
  stores it.
* mpc-service ``:3006`` (``mpc-party-service``): runs the user's party. It creates sessions
  through the session-coordinator's generic ``POST /api/v1/sessions`` (the call that failed in
  the seed) and joins them through the router with :class:`tss.node.client.DeviceParty`.
* backup-service ``:3002``: hosts the ``backup`` party (its own store and key-encryption key).
* server-party-api ``:8083``: health and an admin view of the local server parties.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

import httpx
from fastapi import FastAPI, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from .client import (
    ClientError,
    DeviceBundle,
    DeviceParty,
    _raise_for,
    bundle_context,
    open_bundle,
)
from .crypto import CryptoError, b64u, seal_to_code, seal_to_x25519
from .http import ApiError, ApiKeyGuard, BodyLimit, api_key_header, install_errors, iso
from .party import PartyNode
from .store import SqlStore

__all__ = ["identity_app", "mpc_service_app", "backup_app", "party_api_app"]

log = logging.getLogger("tss.node.services")
_KEY_DOC = {"401": {"description": "Missing or wrong X-API-Key"}}
USER_PARTY = "user-device"


def _ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"success": True, "data": data}, status_code=status)


def _health(app: FastAPI, service: str) -> None:
    @app.get("/api/v1/health")
    async def health() -> dict[str, Any]:
        return {"success": True, "data": {"status": "ok", "service": service}}


# ---------------------------------------------------------------------- mpc-service (:3006)
class UserKeygenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    userId: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    deviceId: str = Field(min_length=1, max_length=128)
    devicePublicKey: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    thresholdN: int = Field(3, ge=2, le=16)
    thresholdT: int = Field(2, ge=1, le=16)


class UserSignRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    userId: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    keyId: str = Field(pattern=r"^[0-9a-f]{32}$")
    messageHash: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    encryptedShare: str = Field(min_length=1, max_length=1 << 20)
    shareKey: str = Field(min_length=16, max_length=200)
    derivationPath: str | None = Field(None, pattern=r"^m(/[0-9]{1,10})*$", max_length=256)
    participants: list[str] | None = Field(None, min_length=1, max_length=16)


def mpc_service_app(*, session_coordinator_url: str, router_url: str, api_key: str,
                    user_parties: tuple[str, ...] = ("server-party-1", "backup"),
                    timeout: float = 180.0) -> Any:
    app = FastAPI(title="tss mpc-service (mpc-party-service)", version="1.0")
    install_errors(app, style="envelope")
    _health(app, "mpc-party-service")

    async def create_session(body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=session_coordinator_url, timeout=30.0) as http:
            try:
                r = await http.post("/api/v1/sessions", json=body,
                                    headers={"X-API-Key": api_key})
                return _raise_for(r)
            except httpx.HTTPError:
                raise ApiError(502, "coordinator_unavailable",
                               "the session-coordinator does not answer") from None
            except ClientError as exc:
                status = exc.status if 400 <= exc.status < 500 else 502
                raise ApiError(status, exc.code or "session_refused",
                               f"session refused: {exc}") from None

    @app.post("/api/v1/mpc/keygen", status_code=201, responses=_KEY_DOC)
    async def keygen(req: UserKeygenRequest,
                     x_api_key: str | None = Security(api_key_header)) -> Any:
        """Run a keygen as the user's party; return the user's share bundle encrypted."""
        parts = [{"partyId": USER_PARTY, "deviceType": "mobile", "deviceId": req.deviceId}]
        for pid in user_parties[:req.thresholdN - 1]:
            parts.append({"partyId": pid,
                          "deviceType": "backup" if pid.startswith("backup") else "server"})
        if len(parts) != req.thresholdN:
            raise ApiError(422, "invalid_request", "not enough server parties configured")
        created = await create_session({"sessionType": "keygen", "thresholdN": req.thresholdN,
                                        "thresholdT": req.thresholdT, "partyId": USER_PARTY,
                                        "participants": parts})
        device = DeviceParty(router_url, USER_PARTY)
        try:
            share = await device.keygen(created["sessionId"], created["joinToken"],
                                        timeout=timeout)
        except ClientError as exc:
            raise ApiError(502, "keygen_failed", f"MPC keygen failed: {exc}") from None
        bundle = DeviceBundle(share, device.identity, USER_PARTY).to_bytes()
        ad = bundle_context(req.userId, share.key_id)
        enc: dict[str, Any] = {"scheme": "chacha20poly1305", "kdf": "hkdf-sha256",
                               "aad": ad.decode()}
        out: dict[str, Any] = {"sessionId": created["sessionId"], "keyId": share.key_id,
                               "publicKey": share.public_key.hex(), "partyId": USER_PARTY,
                               "partyIndex": share.index, "threshold": {
                                   "t": req.thresholdT, "n": req.thresholdN}}
        if req.devicePublicKey:
            try:
                blob = seal_to_x25519(bytes.fromhex(req.devicePublicKey), bundle, ad)
            except CryptoError:
                raise ApiError(422, "invalid_request", "bad devicePublicKey") from None
            enc["scheme"] = "x25519-hkdf-sha256-chacha20poly1305"
        else:
            code = os.urandom(32)
            blob = seal_to_code(code, bundle, ad)
            out["shareKey"] = b64u(code)
        out["encryptedShare"] = b64u(blob)
        out["shareEncryption"] = enc
        del bundle, share
        return _ok(out, 201)

    @app.post("/api/v1/mpc/sign", responses=_KEY_DOC)
    async def sign(req: UserSignRequest,
                   x_api_key: str | None = Security(api_key_header)) -> Any:
        """Sign as the user's party with the user's encrypted share (decrypted in memory)."""
        try:
            bundle = open_bundle(req.encryptedShare, user_id=req.userId, key_id=req.keyId,
                                 share_key=req.shareKey)
        except (CryptoError, ClientError):
            raise ApiError(422, "bad_share", "the share does not decrypt with this key"
                           ) from None
        parts = req.participants or [bundle.party_id, user_parties[0]]
        created = await create_session({"sessionType": "sign", "keyId": req.keyId,
                                        "messageHash": req.messageHash.lower(),
                                        "derivationPath": req.derivationPath,
                                        "partyId": bundle.party_id,
                                        "participants": [{"partyId": p} for p in parts]})
        device = DeviceParty(router_url, bundle.party_id, identity=bundle.identity)
        try:
            sig = await device.sign(created["sessionId"], created["joinToken"], bundle.share,
                                    timeout=timeout)
        except ClientError as exc:
            raise ApiError(502, "sign_failed", f"MPC sign failed: {exc}") from None
        return _ok({"sessionId": created["sessionId"], "r": f"{sig.r:064x}",
                    "s": f"{sig.s:064x}", "v": sig.recovery_id, "der": sig.to_der().hex()})

    guarded = ApiKeyGuard(app, api_key=api_key, prefixes=("/api/v1/mpc/",), style="envelope")
    return BodyLimit(guarded, limit=2 << 20, style="envelope")


# ---------------------------------------------------------------------- identity (:3000)
class AutoCreateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    deviceId: str = Field(min_length=1, max_length=128)
    deviceName: str | None = Field(None, max_length=128)
    provinceCode: str | None = Field(None, max_length=32)
    cityCode: str | None = Field(None, max_length=32)
    devicePublicKey: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$",
                                        description="X25519 key (hex) to encrypt the share "
                                                    "to; without it a one-time shareKey is "
                                                    "returned.")


def identity_app(store: SqlStore, *, mpc_service_url: str, api_key: str,
                 timeout: float = 200.0) -> Any:
    app = FastAPI(title="tss identity-service", version="1.0")
    install_errors(app, style="envelope")
    _health(app, "identity-service")

    @app.post("/api/v1/user/auto-create", status_code=201)
    async def auto_create(req: AutoCreateRequest) -> Any:
        """Create an account for a device: a 2-of-3 key (device, server, backup)."""
        user_id = str(uuid.uuid4())
        now = time.time()
        reserved = await store.put_record("device", req.deviceId,
                                          {"deviceId": req.deviceId, "userId": user_id,
                                           "status": "creating", "createdAt": now})
        if not reserved:
            raise ApiError(409, "device_exists", "this device already has an account")
        body = {"userId": user_id, "deviceId": req.deviceId, "thresholdN": 3, "thresholdT": 2}
        if req.devicePublicKey:
            body["devicePublicKey"] = req.devicePublicKey
        try:
            async with httpx.AsyncClient(base_url=mpc_service_url, timeout=timeout) as http:
                r = await http.post("/api/v1/mpc/keygen", json=body,
                                    headers={"X-API-Key": api_key})
            data = r.json()
            if r.status_code != 201 or not data.get("success"):
                raise ApiError(502 if r.status_code >= 500 else r.status_code,
                               str(data.get("code", "keygen_failed")),
                               str(data.get("message", "MPC keygen failed")))
        except (httpx.HTTPError, ValueError):
            await store.delete_record("device", req.deviceId)
            raise ApiError(502, "mpc_unavailable", "MPC keygen failed: mpc-service does not "
                           "answer") from None
        except ApiError:
            await store.delete_record("device", req.deviceId)
            raise
        d = data["data"]
        user = {"userId": user_id, "deviceId": req.deviceId, "deviceName": req.deviceName,
                "provinceCode": req.provinceCode, "cityCode": req.cityCode,
                "keyId": d["keyId"], "publicKey": d["publicKey"], "partyId": d["partyId"],
                "createdAt": iso(now)}
        await store.put_record("user", user_id, user)
        await store.put_record("device", req.deviceId, {"deviceId": req.deviceId,
                                                        "userId": user_id, "status": "active",
                                                        "createdAt": now}, create=False)
        out = dict(user)
        out.update({"encryptedShare": d["encryptedShare"],
                    "shareEncryption": d["shareEncryption"],
                    "partyIndex": d["partyIndex"], "threshold": d["threshold"],
                    "sessionId": d["sessionId"]})
        if "shareKey" in d:
            out["shareKey"] = d["shareKey"]
        return _ok(out, 201)

    @app.get("/api/v1/user/{user_id}", responses=_KEY_DOC)
    async def get_user(user_id: str,
                       x_api_key: str | None = Security(api_key_header)) -> Any:
        user = await store.get_record("user", user_id)
        if user is None:
            raise ApiError(404, "unknown_user", "no such user")
        return _ok(user)

    guarded = ApiKeyGuard(app, api_key=api_key, prefixes=("/api/v1/user/",), style="envelope")

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        # auto-create is public in the seed; the other user routes need the API key
        if scope["type"] == "http" and scope["path"] == "/api/v1/user/auto-create":
            await app(scope, receive, send)
        else:
            await guarded(scope, receive, send)
    return BodyLimit(asgi, limit=64 << 10, style="envelope")


# ---------------------------------------------------------------------- backup (:3002)
def backup_app(party: PartyNode | None, api_key: str) -> Any:
    app = FastAPI(title="tss backup-service", version="1.0")
    install_errors(app, style="envelope")
    _health(app, "backup-service")

    @app.get("/api/v1/backup/keys", responses=_KEY_DOC)
    async def keys(x_api_key: str | None = Security(api_key_header)) -> Any:
        if party is None:
            raise ApiError(404, "no_party", "no backup party here")
        shares = await party.store.list_shares(party.party_id)
        return _ok({"partyId": party.party_id,
                    "identityKey": party.identity.public_hex if party.identity else None,
                    "keys": [{"keyId": s["key_id"], "publicKey": s["public_key"],
                              "createdAt": iso(s["created_at"])} for s in shares]})

    guarded = ApiKeyGuard(app, api_key=api_key, prefixes=("/api/v1/backup/",),
                          style="envelope")
    return BodyLimit(guarded, limit=64 << 10, style="envelope")


# ---------------------------------------------------------------------- party API (:8083)
def party_api_app(parties: list[PartyNode], api_key: str) -> Any:
    app = FastAPI(title="tss server-party-api", version="1.0")
    install_errors(app)
    by_id = {p.party_id: p for p in parties}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"service": "server-party-api", "status": "healthy"}

    @app.get("/api/v1/parties", responses=_KEY_DOC)
    async def list_parties(x_api_key: str | None = Security(api_key_header)) -> Any:
        out = []
        for p in parties:
            out.append({"party_id": p.party_id, "role": p.role,
                        "ed25519": p.identity.public_hex if p.identity else None,
                        "keys": len({s["key_id"] for s in await p.store.list_shares(p.party_id)
                                     if s["state"] == "active"}),
                        "active_sessions": len(p.active), "completed": p.completed,
                        "failed": p.failed})
        return {"parties": out}

    @app.get("/api/v1/parties/{party_id}/keys", responses=_KEY_DOC)
    async def party_keys(party_id: str,
                         x_api_key: str | None = Security(api_key_header)) -> Any:
        p = by_id.get(party_id)
        if p is None:
            raise ApiError(404, "unknown_party", "no such party here")
        shares = await p.store.list_shares(party_id)
        return {"party_id": party_id,
                "keys": [{"key_id": s["key_id"], "public_key": s["public_key"],
                          "session_id": s["session_id"], "version": s["version"],
                          "state": s["state"], "created_at": iso(s["created_at"])}
                         for s in shares]}

    guarded = ApiKeyGuard(app, api_key=api_key, prefixes=("/api/",))
    return BodyLimit(guarded, limit=64 << 10)

