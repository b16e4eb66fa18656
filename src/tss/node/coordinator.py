"""The coordinator (the seed's account-service, :4000): sessions, policy, join tokens, rosters
and results. It never sees a key share or a protocol message in clear.

Life of a session
    ``POST /api/v1/mpc/keygen`` or ``/sign`` -> status ``waiting``; a signed, expiring,
    single-use join token per party (only its hash is stored); server parties get theirs as an
    invitation on the bus and join by themselves, a device joins through the router.
    All joined -> the coordinator signs the roster (parties, indices, identity and X25519 keys,
    message, deadline) and publishes it -> ``in_progress``.
    Keygen completes when every party has reported (signed) the same public key; sign completes
    with the first reported signature that verifies. A refusal, a proven protocol fault, a
    disagreement or the deadline -> ``failed`` with ``error {code, reason, culprits}``; nobody
    joining in time -> ``expired``.

``threshold_t`` is the number of parties needed to sign (2 in 2-of-3), the library's own
convention: :func:`library_threshold` is the one place that would convert it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from pydantic import BaseModel, ConfigDict, Field, model_validator

import tss

from . import subjects, tokens
from .bus import Bus, BusError
from .crypto import IdentityKey, unb64u
from .http import ApiError, iso
from .party import seal_invite
from .run import sign_roster, verify_report
from .store import SqlStore, StoreConflict

__all__ = ["Coordinator", "KeygenRequest", "SignRequest", "Participant", "library_threshold"]

log = logging.getLogger("tss.node.coordinator")

SERVER_TYPES = ("server", "backup")
FINAL = ("completed", "failed", "expired")
GRACE = 3.0


def library_threshold(threshold_t: int) -> int:
    """The API's ``threshold_t`` (parties needed to sign) as ``tss.Keygen``'s ``threshold``.
    Both count signers, so this is the identity; mpcium's t means "t+1 sign" (issue #129)."""
    return threshold_t


class Participant(BaseModel):
    model_config = ConfigDict(extra="ignore")
    party_id: str = Field(pattern=subjects.PARTY_ID_PATTERN,
                          description="Unique in the session: letters, digits, - and _.")
    device_type: str = Field("server", pattern=r"^[A-Za-z0-9_-]{1,32}$",
                             description='"server" and "backup" parties join by themselves; '
                                         "any other type is a device that joins with its "
                                         "token through the router.")
    device_id: str | None = Field(None, max_length=128)


class KeygenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    threshold_n: int = Field(ge=2, le=16, description="Number of parties.")
    threshold_t: int = Field(ge=1, le=16, description="Parties needed to sign.")
    participants: list[Participant] = Field(min_length=2, max_length=16)
    timeout_seconds: int | None = Field(None, ge=5, le=3600)

    @model_validator(mode="after")
    def _check(self) -> KeygenRequest:
        if self.threshold_t > self.threshold_n:
            raise ValueError("threshold_t must not exceed threshold_n")
        if len(self.participants) != self.threshold_n:
            raise ValueError("participants must list exactly threshold_n parties")
        ids = [p.party_id for p in self.participants]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate party_id")
        return self


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    public_key: str | None = Field(None, pattern=r"^0[23][0-9a-fA-F]{64}$",
                                   description="Compressed SEC1, hex.")
    message_hash: str = Field(pattern=r"^[0-9a-fA-F]{64}$",
                              description="The 32-byte hash to sign, 64 hex characters.")
    participants: list[str | Participant] | None = Field(None, min_length=1, max_length=16)
    derivation_path: str | None = Field(None, pattern=r"^m(/[0-9]{1,10})*$", max_length=256)
    purpose: str | None = Field(None, pattern=r"^[a-z_]{1,32}$",
                                description='"recovery" lets the backup party sign.')
    timeout_seconds: int | None = Field(None, ge=5, le=3600)

    @model_validator(mode="after")
    def _check(self) -> SignRequest:
        if self.key_id is None and self.public_key is None:
            raise ValueError("key_id or public_key is required")
        if self.participants is not None:
            ids = [p if isinstance(p, str) else p.party_id for p in self.participants]
            if len(set(ids)) != len(ids):
                raise ValueError("duplicate party_id")
            for i in ids:
                if not subjects.PARTY_ID.match(i):
                    raise ValueError("bad party_id")
        return self

    def participant_ids(self) -> list[str] | None:
        if self.participants is None:
            return None
        return [p if isinstance(p, str) else p.party_id for p in self.participants]


def _json(data: bytes) -> dict[str, Any]:
    try:
        v = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return v if isinstance(v, dict) else {}


class Coordinator:
    def __init__(self, bus: Bus, store: SqlStore, signing_key: IdentityKey, *,
                 level: str = "standard", keygen_timeout: float = 120.0,
                 sign_timeout: float = 60.0, join_timeout: float = 60.0,
                 require_registered: bool = True, sweep_interval: float = 0.5) -> None:
        self.bus = bus
        self.store = store
        self.key = signing_key
        self.public_key = signing_key.public_hex
        self.level = level
        self.keygen_timeout = keygen_timeout
        self.sign_timeout = sign_timeout
        self.join_timeout = join_timeout
        self.require_registered = require_registered
        self.sweep_interval = sweep_interval
        self._tasks: list[asyncio.Task[Any]] = []
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        await self.bus.kv_put(subjects.KV_COORD_PUB, self.public_key.encode())
        for doc in await self.store.list_sessions(["in_progress"]):
            if doc.get("roster"):
                await self._publish_ctl(doc["session_id"], {"type": "roster",
                                                            "signed": doc["roster"]},
                                        msg_id=f"roster.{doc['session_id']}")
        self._tasks = [asyncio.create_task(self._events(), name="coordinator-events"),
                       asyncio.create_task(self._sweeper(), name="coordinator-sweeper")]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks = []

    # ------------------------------------------------------------------ API: create
    async def registered_parties(self) -> list[dict[str, Any]]:
        """The party nodes that announced themselves on the bus."""
        entry = await self.bus.kv_get(subjects.KV_PARTY_INDEX)
        names = json.loads(entry.value) if entry is not None else []
        out = []
        for name in names:
            reg = await self.party_registration(name)
            if reg is not None:
                out.append(reg)
        return out

    async def party_registration(self, party_id: str) -> dict[str, Any] | None:
        entry = await self.bus.kv_get(subjects.kv_party(party_id))
        return None if entry is None else _json(entry.value)

    async def create_keygen(self, req: KeygenRequest) -> dict[str, Any]:
        pinned: dict[str, str] = {}
        for p in req.participants:
            if p.device_type in SERVER_TYPES:
                reg = await self.party_registration(p.party_id)
                if reg is None and self.require_registered:
                    raise ApiError(422, "unknown_party", f"no {p.device_type} party "
                                   f"{p.party_id!r} is registered")
                if reg is not None and reg.get("ed25519"):
                    # only the registered node can use the token, not the API client
                    pinned[p.party_id] = str(reg["ed25519"])
        now = time.time()
        timeout = float(req.timeout_seconds or self.keygen_timeout)
        parties = [{"party_id": p.party_id, "device_type": p.device_type,
                    "device_id": p.device_id, "index": i, "pinned": pinned.get(p.party_id)}
                   for i, p in enumerate(req.participants)]
        doc = self._new_doc("keygen", now, timeout, req.threshold_n,
                            library_threshold(req.threshold_t), parties)
        return await self._create(doc)

    async def create_sign(self, req: SignRequest) -> dict[str, Any]:
        key = None
        if req.key_id is not None:
            key = await self.store.get_key(key_id=req.key_id)
        if key is None and req.public_key is not None:
            key = await self.store.get_key(public_key=req.public_key.lower())
        if key is None or (req.public_key is not None and
                           key["public_key"] != req.public_key.lower()) or (
                req.key_id is not None and key["key_id"] != req.key_id):
            raise ApiError(404, "unknown_key", "no such key")
        by_id = {p["party_id"]: p for p in key["parties"]}
        wanted = req.participant_ids()
        t, n = int(key["threshold_t"]), int(key["threshold_n"])
        if wanted is None:
            order = sorted(key["parties"], key=lambda p: (p["device_type"] == "backup",
                                                          p["index"]))
            wanted = [p["party_id"] for p in order[:t]]
        for pid in wanted:
            if pid not in by_id:
                raise ApiError(422, "unknown_party", f"{pid!r} holds no share of this key")
        if len(wanted) < t:
            raise ApiError(422, "not_enough_parties",
                           f"this key needs {t} parties to sign, got {len(wanted)}")
        path = req.derivation_path
        if path:
            try:
                derived = tss.derive_public_key(bytes.fromhex(key["public_key"]),
                                                bytes.fromhex(key["chain_code"]), path)
            except (tss.TssError, ValueError):
                raise ApiError(422, "invalid_derivation_path",
                               "derivation_path must be non-hardened indices below 2^31"
                               ) from None
        else:
            derived = bytes.fromhex(key["public_key"])
        parties = sorted(({"party_id": pid, "device_type": by_id[pid]["device_type"],
                           "device_id": by_id[pid].get("device_id"),
                           "index": by_id[pid]["index"], "pinned": by_id[pid]["ed25519"]}
                          for pid in wanted), key=lambda p: p["index"])
        now = time.time()
        timeout = float(req.timeout_seconds or self.sign_timeout)
        doc = self._new_doc("sign", now, timeout, n, t, parties)
        doc.update({"key_id": key["key_id"], "public_key": key["public_key"],
                    "chain_code": key["chain_code"], "message_hash": req.message_hash.lower(),
                    "derivation_path": path, "signing_public_key": derived.hex(),
                    "purpose": req.purpose})
        return await self._create(doc)

    def _new_doc(self, typ: str, now: float, timeout: float, n: int, t: int,
                 parties: list[dict[str, Any]]) -> dict[str, Any]:
        for p in parties:
            p.update({"joined_at": None, "ed25519": None, "x25519": None, "report": None})
        return {"session_id": str(uuid.uuid4()), "session_type": typ, "status": "waiting",
                "threshold_n": n, "threshold_t": t, "level": self.level, "participants": parties,
                "created_at": now, "join_deadline": now + min(self.join_timeout, timeout),
                "deadline": now + timeout, "result": None, "error": None, "roster": None}

    async def _create(self, doc: dict[str, Any]) -> dict[str, Any]:
        sid = doc["session_id"]
        issued: dict[str, str] = {}
        invite_keys = {}
        for p in doc["participants"]:
            if p["device_type"] in SERVER_TYPES:
                reg = await self.party_registration(p["party_id"]) or {}
                invite_keys[p["party_id"]] = reg.get("x25519")
        hashes_: list[tuple[str, str, float]] = []
        for p in doc["participants"]:
            token, _claims = tokens.issue(
                self.key, sid=sid, party_id=p["party_id"], idx=p["index"],
                role=p["device_type"], typ=doc["session_type"], n=doc["threshold_n"],
                t=doc["threshold_t"], ttl=doc["join_deadline"] - doc["created_at"],
                now=doc["created_at"], ed25519=p.get("pinned"))
            issued[p["party_id"]] = token
            hashes_.append((tokens.token_hash(token), p["party_id"], doc["join_deadline"]))
        await self.store.create_session(doc, hashes_)
        for p in doc["participants"]:
            if p["device_type"] in SERVER_TYPES:
                inv = {"sid": sid, "type": doc["session_type"],
                       "deadline": doc["join_deadline"], "key_id": doc.get("key_id"),
                       "purpose": doc.get("purpose"),
                       **seal_invite(invite_keys.get(p["party_id"]), issued[p["party_id"]],
                                     sid, p["party_id"])}
                try:
                    await self.bus.publish(subjects.invite(p["party_id"]),
                                           json.dumps(inv).encode(),
                                           msg_id=f"invite.{sid}.{p['party_id']}")
                except BusError as exc:
                    log.warning("session %s: invitation to %s failed: %s", sid,
                                p["party_id"], exc)
        log.info("session %s: %s created (%d of %d)", sid, doc["session_type"],
                 doc["threshold_t"], doc["threshold_n"])
        out: dict[str, Any] = {"session_id": sid, "session_type": doc["session_type"],
                               "threshold_n": doc["threshold_n"],
                               "threshold_t": doc["threshold_t"], "status": "waiting",
                               "join_tokens": issued, "expires_at": iso(doc["join_deadline"]),
                               "deadline": iso(doc["deadline"])}
        if doc["session_type"] == "sign":
            out.update({"key_id": doc["key_id"], "public_key": doc["public_key"],
                        "message_hash": doc["message_hash"],
                        "derivation_path": doc["derivation_path"],
                        "participants": [p["party_id"] for p in doc["participants"]]})
        return out

    # ------------------------------------------------------------------ API: read
    async def session_view(self, sid: str) -> dict[str, Any] | None:
        try:
            sid = str(uuid.UUID(sid))
        except ValueError:
            return None
        got = await self.store.get_session(sid)
        if got is None:
            return None
        return self.view(got[0])

    @staticmethod
    def view(doc: dict[str, Any]) -> dict[str, Any]:
        parts = [{"party_id": p["party_id"], "device_type": p["device_type"],
                  "device_id": p.get("device_id"), "index": p["index"],
                  "joined": p["joined_at"] is not None} for p in doc["participants"]]
        out: dict[str, Any] = {
            "session_id": doc["session_id"], "session_type": doc["session_type"],
            "status": doc["status"], "threshold_n": doc["threshold_n"],
            "threshold_t": doc["threshold_t"], "participants": parts,
            "joined": [p["party_id"] for p in doc["participants"] if p["joined_at"]],
            "result": doc["result"], "error": doc["error"],
            "created_at": iso(doc["created_at"]), "expires_at": iso(doc["join_deadline"]),
            "deadline": iso(doc["deadline"]), "finished_at": iso(doc.get("finished_at")),
        }
        if doc["session_type"] == "sign":
            out.update({"key_id": doc["key_id"], "public_key": doc["public_key"],
                        "message_hash": doc["message_hash"],
                        "derivation_path": doc["derivation_path"]})
        return out

    async def key_view(self, key_id: str) -> dict[str, Any] | None:
        key = await self.store.get_key(key_id=key_id)
        if key is None:
            return None
        return {"key_id": key["key_id"], "public_key": key["public_key"],
                "threshold_t": key["threshold_t"], "threshold_n": key["threshold_n"],
                "parties": [{"party_id": p["party_id"], "device_type": p["device_type"],
                             "index": p["index"]} for p in key["parties"]],
                "created_at": iso(key["created_at"]), "session_id": key["session_id"]}

    # ------------------------------------------------------------------ state changes
    async def _mutate(self, sid: str, fn: Any) -> dict[str, Any] | None:
        """Apply ``fn(doc) -> bool`` (True: changed) with compare-and-set; the new doc or None."""
        async with self._lock:
            for _ in range(20):
                got = await self.store.get_session(sid)
                if got is None:
                    return None
                doc, ver = got
                if not fn(doc):
                    return None
                if await self.store.update_session(doc, ver):
                    return doc
            log.error("session %s: could not update (contention)", sid)  # pragma: no cover
            return None

    async def _publish_ctl(self, sid: str, event: dict[str, Any], *,
                           msg_id: str | None = None) -> None:
        try:
            await self.bus.publish(subjects.ctl(sid), json.dumps(event).encode(),
                                   msg_id=msg_id)
        except BusError as exc:
            log.warning("session %s: control event not published: %s", sid, exc)

    async def _finish(self, sid: str, status: str, *, result: dict[str, Any] | None = None,
                      error: dict[str, Any] | None = None,
                      only_from: tuple[str, ...] = ("waiting", "in_progress")) -> bool:
        def fn(doc: dict[str, Any]) -> bool:
            if doc["status"] not in only_from:
                return False
            doc["status"] = status
            doc["result"] = result
            doc["error"] = error
            doc["finished_at"] = time.time()
            return True
        doc = await self._mutate(sid, fn)
        if doc is None:
            return False
        if status == "completed" and doc["session_type"] == "keygen" and result is not None:
            key = {"key_id": result["key_id"], "public_key": result["public_key"],
                   "chain_code": doc["chain_code_agreed"], "threshold_t": doc["threshold_t"],
                   "threshold_n": doc["threshold_n"], "session_id": sid,
                   "created_at": time.time(),
                   "parties": [{"party_id": p["party_id"], "device_type": p["device_type"],
                                "device_id": p.get("device_id"), "index": p["index"],
                                "ed25519": p["ed25519"]} for p in doc["participants"]]}
            try:
                await self.store.put_key(key)
            except StoreConflict:
                log.warning("session %s: key %s exists already", sid, result["key_id"])
        await self._publish_ctl(sid, {"type": status, "result": result, "error": error},
                                msg_id=f"final.{sid}")
        log.info("session %s: %s%s", sid, status,
                 f" ({error['code']}: {error['reason']})" if error else "")
        return True

    # ------------------------------------------------------------------ bus events
    async def _events(self) -> None:
        sub = self.bus.subscribe(subjects.COORDINATOR, durable="coordinator")
        while True:
            try:
                msg = await sub.next(5.0)
            except BusError as exc:
                log.warning("coordinator: bus error: %s", exc)
                await asyncio.sleep(1.0)
                continue
            if msg is None:
                continue
            try:
                if msg.subject == subjects.JOIN:
                    await self._on_join(_json(msg.data))
                elif msg.subject == subjects.REPORT:
                    await self._on_report(_json(msg.data))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad event must not stop the loop
                log.exception("coordinator: event on %s failed", msg.subject)
            await sub.ack(msg)

    async def _on_join(self, j: dict[str, Any]) -> None:
        try:
            claims = tokens.verify(j.get("token"), self.public_key, sid=str(j.get("sid")))
            sig = unb64u(str(j.get("signature", "")), max_len=200)
            ed, xk = str(j.get("ed25519", "")), str(j.get("x25519", ""))
            tokens.check_join(claims, ed25519=ed, x25519=xk, signature=sig)
            binding = tokens.join_binding(claims["sid"], claims["party_id"], ed, xk)
            await tokens.claim(self.bus, claims, binding)
        except (tokens.TokenError, Exception) as exc:  # noqa: BLE001
            log.warning("join refused: %s", getattr(exc, "code", type(exc).__name__))
            return
        sid, pid = claims["sid"], claims["party_id"]
        state = await self.store.use_token(tokens.token_hash(j["token"]))
        if state not in ("ok", "used"):
            log.warning("session %s: join of %s refused (%s token)", sid, pid, state)
            return

        def fn(doc: dict[str, Any]) -> bool:
            if doc["status"] != "waiting" or time.time() > doc["join_deadline"]:
                return False
            for p in doc["participants"]:
                if p["party_id"] == pid and p["index"] == claims["idx"]:
                    if p["joined_at"] is not None:
                        return False
                    if p.get("pinned") and p["pinned"] != ed:
                        return False
                    p.update({"joined_at": time.time(), "ed25519": ed, "x25519": xk})
                    break
            else:
                return False
            if all(p["joined_at"] for p in doc["participants"]):
                doc["status"] = "in_progress"
                doc["roster"] = sign_roster(self.key, self._roster(doc))
            return True
        doc = await self._mutate(sid, fn)
        if doc is None:
            return
        log.info("session %s: %s joined", sid, pid)
        if doc["status"] == "in_progress":
            await self._publish_ctl(sid, {"type": "roster", "signed": doc["roster"]},
                                    msg_id=f"roster.{sid}")

    def _roster(self, doc: dict[str, Any]) -> dict[str, Any]:
        roster: dict[str, Any] = {
            "v": 1, "sid": doc["session_id"], "type": doc["session_type"],
            "threshold_t": doc["threshold_t"], "threshold_n": doc["threshold_n"],
            "level": doc["level"], "deadline": doc["deadline"],
            "parties": [{"party_id": p["party_id"], "index": p["index"],
                         "device_type": p["device_type"], "ed25519": p["ed25519"],
                         "x25519": p["x25519"]} for p in doc["participants"]],
        }
        if doc["session_type"] == "sign":
            roster.update({"key_id": doc["key_id"], "public_key": doc["public_key"],
                           "message_hash": doc["message_hash"],
                           "derivation_path": doc["derivation_path"]})
        return roster

    async def _on_report(self, signed: dict[str, Any]) -> None:
        raw = signed.get("report")
        if not isinstance(raw, dict):
            return
        sid, pid, kind = str(raw.get("sid")), str(raw.get("party_id")), raw.get("kind")
        got = await self.store.get_session(sid)
        if got is None:
            return
        doc = got[0]
        if doc["status"] in FINAL:
            return
        entry = next((p for p in doc["participants"] if p["party_id"] == pid), None)
        if entry is None:
            return
        if kind == "declined":
            reg = await self.party_registration(pid)
            ed = entry.get("ed25519") or (reg or {}).get("ed25519")
            report = verify_report(signed, ed) if ed else None
            if report is None:
                return
            await self._finish(sid, "failed", error={
                "code": "party_declined", "culprits": [pid],
                "reason": f"{pid} declined: {str(report.get('reason', ''))[:200]}"})
            return
        if not entry.get("ed25519"):
            return
        report = verify_report(signed, entry["ed25519"])
        if report is None:
            log.warning("session %s: report of %s does not verify", sid, pid)
            return
        if kind == "failed":
            await self._on_failure(sid, pid, report)
        elif kind == "result":
            if doc["session_type"] == "keygen":
                await self._on_keygen_result(sid, pid, report)
            else:
                await self._on_sign_result(sid, pid, report)

    async def _on_failure(self, sid: str, pid: str, report: dict[str, Any]) -> None:
        code = str(report.get("code", "failed"))[:64]
        reason = str(report.get("reason", ""))[:500]
        culprits = [str(c)[:64] for c in report.get("culprits") or []][:16]
        if code != "timeout":
            await self._finish(sid, "failed", error={
                "code": code, "reason": f"{pid}: {reason}", "culprits": culprits})
            return

        def fn(doc: dict[str, Any]) -> bool:
            for p in doc["participants"]:
                if p["party_id"] == pid and p["report"] is None:
                    p["report"] = {"kind": "failed", "code": code, "reason": reason,
                                   "culprits": culprits, "round": report.get("round")}
                    return True
            return False
        doc = await self._mutate(sid, fn)
        if doc is not None and all(p["report"] for p in doc["participants"]):
            await self._fail_deadline(doc)

    async def _on_keygen_result(self, sid: str, pid: str, report: dict[str, Any]) -> None:
        def fn(doc: dict[str, Any]) -> bool:
            for p in doc["participants"]:
                if p["party_id"] == pid and p["report"] is None:
                    p["report"] = {"kind": "result", "key_id": str(report.get("key_id")),
                                   "public_key": str(report.get("public_key")),
                                   "chain_code": str(report.get("chain_code")),
                                   "index": report.get("index")}
                    return True
            return False
        doc = await self._mutate(sid, fn)
        if doc is None or not all(p["report"] for p in doc["participants"]):
            return
        reps = [p["report"] for p in doc["participants"]]
        if any(r["kind"] != "result" for r in reps):
            await self._fail_deadline(doc)
            return
        triples = {(r["key_id"], r["public_key"], r["chain_code"]) for r in reps}
        bad_index = [p["party_id"] for p in doc["participants"]
                     if p["report"].get("index") != p["index"]]
        if len(triples) != 1 or bad_index:
            await self._finish(sid, "failed", error={
                "code": "result_mismatch", "culprits": bad_index,
                "reason": "the parties reported different public keys"})
            return
        key_id, public_key, chain_code = triples.pop()

        def agree(d: dict[str, Any]) -> bool:
            d["chain_code_agreed"] = chain_code
            return True
        await self._mutate(sid, agree)
        await self._finish(sid, "completed", result={"key_id": key_id,
                                                     "public_key": public_key})

    async def _on_sign_result(self, sid: str, pid: str, report: dict[str, Any]) -> None:
        got = await self.store.get_session(sid)
        if got is None:
            return
        doc = got[0]
        try:
            r = int(str(report["r"]), 16)
            s = int(str(report["s"]), 16)
            v = int(report["v"])
            if not (0 < r < tss.params.CURVE_ORDER and 0 < s < tss.params.CURVE_ORDER
                    and 0 <= v < 4):
                raise ValueError
            der = encode_dss_signature(r, s)
            pub = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256K1(), bytes.fromhex(doc["signing_public_key"]))
            pub.verify(der, bytes.fromhex(doc["message_hash"]),
                       ec.ECDSA(Prehashed(hashes.SHA256())))
        except Exception:  # noqa: BLE001 - InvalidSignature, ValueError, KeyError
            await self._finish(sid, "failed", error={
                "code": "invalid_signature", "culprits": [pid],
                "reason": f"{pid} reported a signature that does not verify"})
            return
        await self._finish(sid, "completed", result={
            "r": f"{r:064x}", "s": f"{s:064x}", "v": v, "der": der.hex(),
            "signature": f"{r:064x}{s:064x}{v:02x}",
            "public_key": doc["signing_public_key"]})

    # ------------------------------------------------------------------ deadlines
    async def _fail_deadline(self, doc: dict[str, Any]) -> None:
        silent = [p["party_id"] for p in doc["participants"] if not p["report"]]
        blamed: set[str] = set(silent)
        rounds = set()
        for p in doc["participants"]:
            rep = p["report"]
            if rep and rep.get("kind") == "failed":
                blamed.update(rep.get("culprits") or [])
                if rep.get("round"):
                    rounds.add(str(rep["round"]))
        parts = []
        if silent:
            parts.append(f"no report from {', '.join(silent)}")
        waited = sorted(blamed - set(silent))
        if waited:
            parts.append(f"parties waited for {', '.join(waited)}")
        if rounds:
            parts.append(f"in {', '.join(sorted(rounds))}")
        await self._finish(doc["session_id"], "failed", error={
            "code": "deadline_exceeded", "culprits": sorted(blamed),
            "reason": "the session did not finish before its deadline: " +
                      ("; ".join(parts) or "no progress")})

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("coordinator: sweep failed")

    async def sweep(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for doc in await self.store.list_sessions(["waiting"]):
            if doc["join_deadline"] < now:
                missing = [p["party_id"] for p in doc["participants"] if not p["joined_at"]]
                await self._finish(doc["session_id"], "expired", only_from=("waiting",),
                                   error={"code": "join_timeout", "culprits": missing,
                                          "reason": f"{', '.join(missing)} did not join "
                                                    "before the deadline"})
        for doc in await self.store.list_sessions(["in_progress"],
                                                  deadline_before=now - GRACE):
            await self._fail_deadline(doc)
