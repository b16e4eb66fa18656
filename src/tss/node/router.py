"""The message router (``:8082``): the devices' way onto the bus. It is a mailbox that cannot
read: it checks join tokens (signature, session, expiry, single use), relays joins, sealed
envelopes and signed reports, and serves each party its own mailbox by long polling. It keeps no
state of its own (access tokens live in the bus key-value table), so several can run.

Endpoints (``Authorization: Bearer <access_token>`` after the join):

* ``POST /api/v1/router/sessions/{sid}/join``  ``{join_token, ed25519, x25519, signature}``
* ``GET  /api/v1/router/sessions/{sid}/events?after=&wait=``   roster and final events
* ``POST /api/v1/router/sessions/{sid}/messages``  ``{messages: [{to, data}]}`` (base64url)
* ``GET  /api/v1/router/sessions/{sid}/messages?after=&wait=``  this party's envelopes
* ``POST /api/v1/router/sessions/{sid}/report``  a signed result or failure
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from typing import Any

from fastapi import FastAPI, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from . import subjects, tokens
from .bus import Bus
from .channel import EnvelopeError, parse_header
from .crypto import CryptoError, b64u, unb64u
from .http import ApiError, BodyLimit, install_errors

__all__ = ["router_app"]

ACCESS_TTL = 3600.0


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    join_token: str = Field(min_length=1, max_length=tokens.MAX_TOKEN)
    ed25519: str = Field(pattern=r"^[0-9a-f]{64}$", description="Identity key (hex).")
    x25519: str = Field(pattern=r"^[0-9a-f]{64}$", description="Fresh session key (hex).")
    signature: str = Field(min_length=1, max_length=200,
                           description="Ed25519 signature of the join binding, base64url.")


class OutMessage(BaseModel):
    to: int = Field(ge=0, le=255)
    data: str = Field(min_length=1, max_length=6 << 20)


class SendRequest(BaseModel):
    messages: list[OutMessage] = Field(min_length=1, max_length=64)


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    report: dict[str, Any]
    signature: str = Field(min_length=1, max_length=200)


def _sid(session_id: str) -> str:
    try:
        return str(uuid.UUID(session_id))
    except ValueError:
        raise ApiError(404, "unknown_session", "no such session") from None


def router_app(bus: Bus, *, coordinator_public_key: str | None = None) -> Any:
    app = FastAPI(title="tss message-router", version="1.0",
                  description="Authenticated mailbox for device parties; sees only sealed "
                              "envelopes.")
    install_errors(app)

    async def coordinator_key() -> str:
        if coordinator_public_key:
            return coordinator_public_key
        entry = await bus.kv_get(subjects.KV_COORD_PUB)
        if entry is None:
            raise ApiError(503, "coordinator_unavailable", "no coordinator has started")
        return entry.value.decode()

    async def access(sid: str, authorization: str | None) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "unauthorized", "missing access token (join first)")
        tok = authorization[len("Bearer "):].strip()
        if not tok or len(tok) > 100:
            raise ApiError(401, "unauthorized", "bad access token")
        entry = await bus.kv_get(subjects.kv_access(hashlib.sha256(tok.encode()).hexdigest()))
        if entry is None:
            raise ApiError(401, "unauthorized", "unknown access token")
        rec = json.loads(entry.value)
        if rec["exp"] < time.time():
            raise ApiError(401, "unauthorized", "access token expired")
        if rec["sid"] != sid:
            raise ApiError(403, "wrong_session", "access token of another session")
        return rec

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"service": "message-router", "status": "healthy"}

    @app.post("/api/v1/router/sessions/{session_id}/join")
    async def join(session_id: str, req: JoinRequest) -> dict[str, Any]:
        sid = _sid(session_id)
        pub = await coordinator_key()
        try:
            claims = tokens.verify(req.join_token, pub, sid=sid)
            sig = unb64u(req.signature, max_len=200)
            tokens.check_join(claims, ed25519=req.ed25519, x25519=req.x25519, signature=sig)
            binding = tokens.join_binding(sid, claims["party_id"], req.ed25519, req.x25519)
            await tokens.claim(bus, claims, binding, strict=True)
        except tokens.TokenError as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from None
        except CryptoError:
            raise ApiError(400, "invalid_join", "signature must be base64url") from None
        join = {"sid": sid, "party_id": claims["party_id"], "token": req.join_token,
                "ed25519": req.ed25519, "x25519": req.x25519, "signature": req.signature,
                "via": "router"}
        await bus.publish(subjects.JOIN, json.dumps(join).encode(),
                          msg_id=f"join.{sid}.{claims['party_id']}")
        access_token = b64u(os.urandom(32))
        exp = time.time() + ACCESS_TTL
        rec = {"sid": sid, "party_id": claims["party_id"], "index": claims["idx"],
               "n": claims["n"], "exp": exp}
        await bus.kv_put(subjects.kv_access(hashlib.sha256(access_token.encode()).hexdigest()),
                         json.dumps(rec).encode())
        return {"access_token": access_token, "session_id": sid,
                "party_id": claims["party_id"], "index": claims["idx"],
                "session_type": claims["typ"], "threshold_n": claims["n"],
                "threshold_t": claims["t"], "coordinator_public_key": pub,
                "expires_at": exp}

    @app.get("/api/v1/router/sessions/{session_id}/events")
    async def events(session_id: str, after: int = Query(0, ge=0),
                     wait: float = Query(0.0, ge=0.0, le=25.0),
                     authorization: str | None = Header(None)) -> dict[str, Any]:
        sid = _sid(session_id)
        await access(sid, authorization)
        msgs = await bus.fetch(subjects.ctl(sid), after=after, limit=50, timeout=wait)
        out = []
        for m in msgs:
            try:
                out.append({"seq": m.seq, "event": json.loads(m.data)})
            except ValueError:
                continue
        return {"events": out, "next": msgs[-1].seq if msgs else after}

    @app.post("/api/v1/router/sessions/{session_id}/messages", status_code=202)
    async def send(session_id: str, req: SendRequest,
                   authorization: str | None = Header(None)) -> dict[str, Any]:
        sid = _sid(session_id)
        me = await access(sid, authorization)
        decoded = []
        for m in req.messages:
            try:
                data = unb64u(m.data)
                h = parse_header(data)
            except (CryptoError, EnvelopeError):
                raise ApiError(400, "invalid_message", "not a sealed envelope") from None
            if h.sid != sid:
                raise ApiError(400, "wrong_session", "message for another session")
            if h.sender != me["index"]:
                raise ApiError(403, "wrong_sender", "a party sends only its own messages")
            if h.recipient != m.to or m.to >= me["n"] or m.to == me["index"]:
                raise ApiError(400, "wrong_recipient", "recipient does not match the envelope")
            decoded.append((m.to, data))
        for to, data in decoded:
            await bus.publish(subjects.mailbox(sid, to), data,
                              msg_id=hashlib.sha256(data[:35]).hexdigest())
        return {"accepted": len(decoded)}

    @app.get("/api/v1/router/sessions/{session_id}/messages")
    async def receive(session_id: str, after: int = Query(0, ge=0),
                      wait: float = Query(0.0, ge=0.0, le=25.0),
                      authorization: str | None = Header(None)) -> dict[str, Any]:
        sid = _sid(session_id)
        me = await access(sid, authorization)
        msgs = await bus.fetch(subjects.mailbox(sid, me["index"]), after=after, limit=100,
                               timeout=wait)
        return {"messages": [{"seq": m.seq, "data": b64u(m.data)} for m in msgs],
                "next": msgs[-1].seq if msgs else after}

    @app.post("/api/v1/router/sessions/{session_id}/report", status_code=202)
    async def report(session_id: str, req: ReportRequest,
                     authorization: str | None = Header(None)) -> dict[str, Any]:
        sid = _sid(session_id)
        me = await access(sid, authorization)
        if req.report.get("sid") != sid or req.report.get("party_id") != me["party_id"]:
            raise ApiError(403, "wrong_sender", "a party reports only for itself")
        kind = req.report.get("kind")
        if kind not in ("result", "failed"):
            raise ApiError(422, "invalid_request", "kind must be result or failed")
        signed = {"report": req.report, "signature": req.signature}
        await bus.publish(subjects.REPORT, json.dumps(signed).encode(),
                          msg_id=f"report.{sid}.{me['party_id']}.{kind}")
        return {"accepted": True}

    return BodyLimit(app, limit=8 << 20)
