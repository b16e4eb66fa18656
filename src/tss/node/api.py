"""The HTTP faces of the coordinator: ``:4000`` (the seed's account-service API) and ``:8081``
(the session-coordinator, which also takes the generic ``POST /api/v1/sessions`` that the
seed's mpc-service called and translates it to the keygen or sign API)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import httpx
from fastapi import FastAPI, Header, Security
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from . import subjects
from .coordinator import (
    Coordinator,
    KeygenRequest,
    RefreshRequest,
    ReshareRequest,
    SignRequest,
)
from .http import ApiError, ApiKeyGuard, BodyLimit, api_key_header, install_errors

__all__ = ["coordinator_app", "session_coordinator_app", "health_app"]

_KEY_DOC = {"401": {"description": "Missing or wrong X-API-Key"}}


def health_app(service: str, *, title: str) -> FastAPI:
    app = FastAPI(title=title, version="1.0")
    install_errors(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"service": service, "status": "healthy"}
    return app


def coordinator_app(coord: Coordinator, api_key: str) -> Any:
    app = FastAPI(title="tss coordinator (account-service)", version="1.0",
                  description="Threshold-ECDSA sessions: keygen, sign, reshare and refresh. "
                              "See docs/node.md.")
    install_errors(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"service": "account", "status": "healthy"}

    @app.post("/api/v1/mpc/keygen", status_code=201, responses=_KEY_DOC)
    async def keygen(req: KeygenRequest,
                     x_api_key: str | None = Security(api_key_header)) -> dict[str, Any]:
        """Create a t-of-n key generation; returns one join token per party."""
        return await coord.create_keygen(req)

    @app.post("/api/v1/mpc/sign", status_code=201, responses=_KEY_DOC)
    async def sign(req: SignRequest,
                   x_api_key: str | None = Security(api_key_header)) -> dict[str, Any]:
        """Create a signing session for a 32-byte message hash."""
        return await coord.create_sign(req)

    @app.post("/api/v1/mpc/reshare", status_code=201,
              responses={**_KEY_DOC, "404": {"description": "Unknown key"},
                         "409": {"description": "Another reshare or refresh of the key runs"}})
    async def reshare(req: ReshareRequest,
                      x_api_key: str | None = Security(api_key_header)) -> dict[str, Any]:
        """Move the key to a new committee and threshold (same public key, epoch + 1). The
        parties switch to the new shares, and old members delete their old ones, only when
        the session completes; a failed reshare leaves the key as it was."""
        return await coord.create_reshare(req)

    @app.post("/api/v1/mpc/refresh", status_code=201,
              responses={**_KEY_DOC, "404": {"description": "Unknown key"},
                         "409": {"description": "Another reshare or refresh of the key runs"}})
    async def refresh(req: RefreshRequest,
                      x_api_key: str | None = Security(api_key_header)) -> dict[str, Any]:
        """New shares of the same key for the same parties (epoch + 1)."""
        return await coord.create_refresh(req)

    @app.get("/api/v1/mpc/sessions/{session_id}", responses=_KEY_DOC)
    async def session(session_id: str,
                      x_api_key: str | None = Security(api_key_header)) -> dict[str, Any]:
        view = await coord.session_view(session_id)
        if view is None:
            raise ApiError(404, "unknown_session", "no such session")
        return view

    @app.get("/api/v1/mpc/keys/{key_id}", responses=_KEY_DOC)
    async def key(key_id: str,
                  x_api_key: str | None = Security(api_key_header)) -> dict[str, Any]:
        view = await coord.key_view(key_id)
        if view is None:
            raise ApiError(404, "unknown_key", "no such key")
        return view

    @app.get("/api/v1/mpc/parties", responses=_KEY_DOC)
    async def parties(x_api_key: str | None = Security(api_key_header)) -> dict[str, Any]:
        """The registered party nodes and the coordinator's public key (to pin)."""
        return {"coordinator_public_key": coord.public_key,
                "parties": [{"party_id": p.get("party_id"), "role": p.get("role"),
                             "ed25519": p.get("ed25519"), "last_seen": p.get("last_seen")}
                            for p in await coord.registered_parties()]}

    guarded = ApiKeyGuard(app, api_key=api_key, prefixes=("/api/",))
    return BodyLimit(guarded, limit=256 << 10)


# ---------------------------------------------------------------------- :8081 translation
_ALIAS = {"populate_by_name": True, "extra": "ignore"}


class GenericParticipant(BaseModel):
    model_config = ConfigDict(**_ALIAS)  # type: ignore[typeddict-item]
    party_id: str = Field(validation_alias=AliasChoices("party_id", "partyId"),
                          pattern=subjects.PARTY_ID_PATTERN)
    device_type: str = Field("server", validation_alias=AliasChoices("device_type",
                                                                     "deviceType"),
                             pattern=r"^[A-Za-z0-9_-]{1,32}$")
    device_id: str | None = Field(None, validation_alias=AliasChoices("device_id", "deviceId"),
                                  max_length=128)


class GenericSessionRequest(BaseModel):
    """The session request of the seed's mpc-service (camelCase or snake_case)."""

    model_config = ConfigDict(**_ALIAS)  # type: ignore[typeddict-item]
    session_type: Literal["keygen", "sign"] = Field(
        validation_alias=AliasChoices("session_type", "sessionType", "type"))
    threshold_n: int | None = Field(None, ge=2, le=16,
                                    validation_alias=AliasChoices("threshold_n", "thresholdN"))
    threshold_t: int | None = Field(None, ge=1, le=16,
                                    validation_alias=AliasChoices("threshold_t", "thresholdT"))
    participants: list[GenericParticipant] | None = Field(None, min_length=1, max_length=16)
    party_id: str | None = Field(None, validation_alias=AliasChoices("party_id", "partyId"),
                                 pattern=subjects.PARTY_ID_PATTERN,
                                 description="The caller's own party: its token is returned "
                                             "as join_token.")
    key_id: str | None = Field(None, validation_alias=AliasChoices("key_id", "keyId"))
    public_key: str | None = Field(None, validation_alias=AliasChoices("public_key",
                                                                       "publicKey"))
    message_hash: str | None = Field(None, validation_alias=AliasChoices("message_hash",
                                                                         "messageHash"))
    derivation_path: str | None = Field(None, validation_alias=AliasChoices(
        "derivation_path", "derivationPath"))
    purpose: str | None = None
    timeout_seconds: int | None = Field(None, validation_alias=AliasChoices(
        "timeout_seconds", "timeoutSeconds"))


def session_coordinator_app(coordinator_url: str, api_key: str, *,
                            transport: httpx.AsyncBaseTransport | None = None) -> Any:
    """``:8081``. Talks to the coordinator over HTTP (``transport`` for in-process use)."""
    app = FastAPI(title="tss session-coordinator", version="1.0",
                  description="Generic session API in front of the coordinator.")
    install_errors(app)
    client = httpx.AsyncClient(base_url=coordinator_url, transport=transport, timeout=30.0)

    async def call(method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        try:
            r = await client.request(method, path, json=body, headers={"X-API-Key": key})
        except httpx.HTTPError:
            raise ApiError(503, "coordinator_unavailable",
                           "the coordinator does not answer") from None
        try:
            data = r.json()
        except ValueError:
            data = {"error": {"code": "bad_gateway", "message": "bad coordinator answer"}}
        return r.status_code, data

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"service": "session-coordinator", "status": "healthy"}

    @app.post("/api/v1/sessions", status_code=201, responses=_KEY_DOC)
    async def create(req: GenericSessionRequest,
                     x_api_key: str | None = Security(api_key_header)) -> Any:
        key = x_api_key or ""
        if req.session_type == "keygen":
            parts = [p.model_dump() for p in req.participants] if req.participants else None
            n = req.threshold_n or (len(parts) if parts else None)
            t = req.threshold_t
            if n is None or t is None:
                raise ApiError(422, "invalid_request", "thresholdN and thresholdT are required")
            if parts is None:
                parts = []
                if req.party_id:
                    parts.append({"party_id": req.party_id, "device_type": "device"})
                st, reg = await call("GET", "/api/v1/mpc/parties", key)
                if st != 200:
                    return JSONResponse(reg, status_code=st)
                regs = sorted(reg.get("parties", []),
                              key=lambda p: (p.get("role") == "backup", p.get("party_id")))
                for p in regs:
                    if len(parts) >= n:
                        break
                    if p.get("party_id") != req.party_id:
                        parts.append({"party_id": p["party_id"],
                                      "device_type": p.get("role") or "server"})
            body: dict[str, Any] = {"threshold_n": n, "threshold_t": t, "participants": parts}
            if req.timeout_seconds is not None:
                body["timeout_seconds"] = req.timeout_seconds
            st, data = await call("POST", "/api/v1/mpc/keygen", key, body)
        else:
            body = {k: v for k, v in {
                "key_id": req.key_id, "public_key": req.public_key,
                "message_hash": req.message_hash, "derivation_path": req.derivation_path,
                "purpose": req.purpose, "timeout_seconds": req.timeout_seconds,
                "participants": [p.party_id for p in req.participants]
                if req.participants else None}.items() if v is not None}
            st, data = await call("POST", "/api/v1/mpc/sign", key, body)
        if st != 201:
            return JSONResponse(data, status_code=st)
        tokens = data.get("join_tokens", {})
        mine = tokens.get(req.party_id) if req.party_id else None
        out = dict(data)
        out.update({"sessionId": data["session_id"], "sessionType": data["session_type"],
                    "thresholdN": data["threshold_n"], "thresholdT": data["threshold_t"],
                    "joinTokens": tokens, "join_token": mine, "joinToken": mine,
                    "partyId": req.party_id, "expiresAt": data.get("expires_at")})
        return JSONResponse(out, status_code=201)

    @app.get("/api/v1/sessions/{session_id}", responses=_KEY_DOC)
    async def get(session_id: str, x_api_key: str | None = Header(None)) -> Any:
        try:
            session_id = str(uuid.UUID(session_id))
        except ValueError:
            raise ApiError(404, "unknown_session", "no such session") from None
        st, data = await call("GET", f"/api/v1/mpc/sessions/{session_id}", x_api_key or "")
        if st == 200:
            data = dict(data)
            data.update({"sessionId": data["session_id"], "sessionType": data["session_type"]})
        return JSONResponse(data, status_code=st)

    guarded = ApiKeyGuard(app, api_key=api_key, prefixes=("/api/",))
    return BodyLimit(guarded, limit=256 << 10)
