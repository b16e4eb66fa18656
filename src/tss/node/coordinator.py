"""The coordinator (the seed's account-service, :4000): sessions, policy, join tokens, rosters
and results. It never sees a key share or a protocol message in clear.

Life of a session
    ``POST /api/v1/mpc/keygen`` or ``/sign`` -> status ``waiting``; a signed, expiring,
    single-use join token per party (only its hash is stored); server parties get theirs as an
    invitation on the bus and join by themselves, a device joins through the router.
    All joined -> the coordinator signs the roster (parties, indices, identity and X25519 keys,
    message, deadline) and publishes it -> ``in_progress``.
    Keygen completes when every party has reported (signed) the same public key; sign completes
    with the first reported signature that verifies; reshare and refresh complete when every
    new share is reported with the same public data and every old member of a reshare reports
    the same receipt (all new members acknowledged), and only then is the key record switched
    to the new committee, threshold and epoch. A refusal, a proven protocol fault, a
    disagreement or the deadline -> ``failed`` with ``error {code, reason, culprits}``; nobody
    joining in time -> ``expired``. The final event is signed: parties switch or drop shares
    only on a verified one.

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
from collections import Counter
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from pydantic import BaseModel, ConfigDict, Field, model_validator

import tss

from . import subjects, tokens
from .bus import Bus, BusError
from .crypto import IdentityKey, canonical_json, unb64u
from .http import ApiError, iso
from .party import seal_invite
from .run import CHANGE_TYPES, sign_final, sign_roster, verify_report
from .store import SqlStore, StoreConflict

__all__ = ["Coordinator", "KeygenRequest", "SignRequest", "ReshareRequest", "RefreshRequest",
           "Participant", "library_threshold"]

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


def _party_ids(items: list[str | Participant] | None) -> list[str] | None:
    if items is None:
        return None
    return [p if isinstance(p, str) else p.party_id for p in items]


class ReshareRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    public_key: str | None = Field(None, pattern=r"^0[23][0-9a-fA-F]{64}$",
                                   description="Compressed SEC1, hex.")
    new_threshold_t: int = Field(ge=1, le=16, description="Parties needed to sign after the "
                                                          "reshare.")
    new_threshold_n: int | None = Field(None, ge=2, le=16,
                                        description="If given, must be the number of "
                                                    "new_participants.")
    new_participants: list[Participant] = Field(
        min_length=2, max_length=16, description="The new committee, as keygen's "
        "participants; a party of the key keeps its identity key.")
    old_participants: list[str | Participant] | None = Field(
        None, min_length=1, max_length=16, description="The parties of the key that take part "
        "(at least its threshold); default: every party that holds a share.")
    timeout_seconds: int | None = Field(None, ge=5, le=3600)

    @model_validator(mode="after")
    def _check(self) -> ReshareRequest:
        if self.key_id is None and self.public_key is None:
            raise ValueError("key_id or public_key is required")
        n = len(self.new_participants)
        if self.new_threshold_n is not None and self.new_threshold_n != n:
            raise ValueError("new_participants must list exactly new_threshold_n parties")
        if self.new_threshold_t > n:
            raise ValueError("new_threshold_t must not exceed the number of new participants")
        ids = [p.party_id for p in self.new_participants]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate party_id in new_participants")
        old = _party_ids(self.old_participants)
        if old is not None:
            if len(set(old)) != len(old):
                raise ValueError("duplicate party_id in old_participants")
            for i in old:
                if not subjects.PARTY_ID.match(i):
                    raise ValueError("bad party_id")
        return self


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    public_key: str | None = Field(None, pattern=r"^0[23][0-9a-fA-F]{64}$")
    timeout_seconds: int | None = Field(None, ge=5, le=3600)

    @model_validator(mode="after")
    def _check(self) -> RefreshRequest:
        if self.key_id is None and self.public_key is None:
            raise ValueError("key_id or public_key is required")
        return self


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
        self._key_lock = asyncio.Lock()

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

    async def _lookup_key(self, key_id: str | None, public_key: str | None
                          ) -> dict[str, Any]:
        key = None
        if key_id is not None:
            key = await self.store.get_key(key_id=key_id)
        if key is None and public_key is not None:
            key = await self.store.get_key(public_key=public_key.lower())
        if key is None or (public_key is not None and
                           key["public_key"] != public_key.lower()) or (
                key_id is not None and key["key_id"] != key_id):
            raise ApiError(404, "unknown_key", "no such key")
        return key

    async def create_sign(self, req: SignRequest) -> dict[str, Any]:
        key = await self._lookup_key(req.key_id, req.public_key)
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
                    "purpose": req.purpose, "epoch": int(key.get("epoch", 0))})
        return await self._create(doc)

    # ------------------------------------------------------------------ API: reshare, refresh
    async def _claim_key(self, key: dict[str, Any], sid: str) -> None:
        """Mark ``key`` as being changed by session ``sid``: one reshare or refresh of a key at
        a time (two would both start from the same epoch). 409 while another one runs."""
        busy = key.get("change_session")
        if busy:
            got = await self.store.get_session(busy)
            if got is not None and got[0]["status"] not in FINAL:
                raise ApiError(409, "key_busy", f"session {busy} is changing this key",
                               {"session_id": busy})
        key["change_session"] = sid
        await self.store.update_key(key)

    async def create_reshare(self, req: ReshareRequest) -> dict[str, Any]:
        async with self._key_lock:
            key = await self._lookup_key(req.key_id, req.public_key)
            if not key.get("key_info"):
                raise ApiError(409, "key_info_unknown", "the coordinator has no public data of "
                               "this key's sharing (made before reshare support)")
            by_id = {p["party_id"]: p for p in key["parties"]}
            t_old = int(key["threshold_t"])
            old_ids = _party_ids(req.old_participants)
            if old_ids is None:
                old_ids = [p["party_id"] for p in key["parties"]]
            for pid in old_ids:
                if pid not in by_id:
                    raise ApiError(422, "unknown_party", f"{pid!r} holds no share of this key")
            if len(old_ids) < t_old:
                raise ApiError(422, "not_enough_parties", f"this key needs {t_old} old "
                               f"parties to reshare, got {len(old_ids)}")
            old_set = set(old_ids)
            new_pos = {p.party_id: j for j, p in enumerate(req.new_participants)}
            parties: list[dict[str, Any]] = []
            for kp in sorted((by_id[pid] for pid in old_set), key=lambda p: p["index"]):
                parties.append({"party_id": kp["party_id"], "device_type": kp["device_type"],
                                "device_id": kp.get("device_id"), "old_index": kp["index"],
                                "new_index": new_pos.get(kp["party_id"]),
                                "pinned": kp["ed25519"]})
            for j, np in enumerate(req.new_participants):
                if np.party_id in old_set:
                    continue
                kp = by_id.get(np.party_id)
                if kp is not None:  # a party of the key keeps its type and identity key
                    entry = {"device_type": kp["device_type"], "device_id": kp.get("device_id"),
                             "pinned": kp["ed25519"]}
                else:
                    pinned = None
                    if np.device_type in SERVER_TYPES:
                        reg = await self.party_registration(np.party_id)
                        if reg is None and self.require_registered:
                            raise ApiError(422, "unknown_party", f"no {np.device_type} party "
                                           f"{np.party_id!r} is registered")
                        pinned = str(reg["ed25519"]) if reg and reg.get("ed25519") else None
                    entry = {"device_type": np.device_type, "device_id": np.device_id,
                             "pinned": pinned}
                parties.append({"party_id": np.party_id, "old_index": None, "new_index": j,
                                **entry})
            for i, p in enumerate(parties):
                p["index"] = i
            n2, t2 = len(req.new_participants), req.new_threshold_t
            now = time.time()
            timeout = float(req.timeout_seconds or self.keygen_timeout)
            doc = self._new_doc("reshare", now, timeout, n2, t2, parties)
            doc.update({"key_id": key["key_id"], "public_key": key["public_key"],
                        "chain_code": key["chain_code"], "epoch": int(key.get("epoch", 0)),
                        "key_info": key["key_info"], "old_threshold_t": t_old,
                        "old_threshold_n": int(key["threshold_n"]), "new_threshold_t": t2,
                        "new_threshold_n": n2, "slots": len(parties),
                        "old_participants": [p["party_id"] for p in parties
                                             if p["old_index"] is not None],
                        "new_participants": [p.party_id for p in req.new_participants]})
            await self._claim_key(key, doc["session_id"])
            return await self._create(doc)

    async def create_refresh(self, req: RefreshRequest) -> dict[str, Any]:
        async with self._key_lock:
            key = await self._lookup_key(req.key_id, req.public_key)
            parties = [{"party_id": p["party_id"], "device_type": p["device_type"],
                        "device_id": p.get("device_id"), "index": p["index"],
                        "pinned": p["ed25519"]}
                       for p in sorted(key["parties"], key=lambda p: p["index"])]
            now = time.time()
            timeout = float(req.timeout_seconds or self.keygen_timeout)
            doc = self._new_doc("refresh", now, timeout, int(key["threshold_n"]),
                                int(key["threshold_t"]), parties)
            doc.update({"key_id": key["key_id"], "public_key": key["public_key"],
                        "chain_code": key["chain_code"], "epoch": int(key.get("epoch", 0))})
            await self._claim_key(key, doc["session_id"])
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
                role=p["device_type"], typ=doc["session_type"],
                n=int(doc.get("slots", doc["threshold_n"])),
                t=doc["threshold_t"], ttl=doc["join_deadline"] - doc["created_at"],
                now=doc["created_at"], ed25519=p.get("pinned"))
            issued[p["party_id"]] = token
            hashes_.append((tokens.token_hash(token), p["party_id"], doc["join_deadline"]))
        await self.store.create_session(doc, hashes_)
        for p in doc["participants"]:
            if p["device_type"] in SERVER_TYPES:
                inv = {"sid": sid, "type": doc["session_type"],
                       "deadline": doc["join_deadline"], "key_id": doc.get("key_id"),
                       "purpose": doc.get("purpose"), "epoch": doc.get("epoch"),
                       **seal_invite(invite_keys.get(p["party_id"]), issued[p["party_id"]],
                                     sid, p["party_id"])}
                if doc["session_type"] == "reshare":
                    inv.update({"old": p["old_index"] is not None,
                                "new": p["new_index"] is not None})
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
        out.update(self._change_fields(doc))
        return out

    @staticmethod
    def _change_fields(doc: dict[str, Any]) -> dict[str, Any]:
        typ = doc["session_type"]
        if typ not in CHANGE_TYPES:
            return {}
        out: dict[str, Any] = {"key_id": doc["key_id"], "public_key": doc["public_key"],
                               "epoch": doc["epoch"],
                               "participants": [p["party_id"] for p in doc["participants"]]}
        if typ == "reshare":
            out.update({"old_threshold_t": doc["old_threshold_t"],
                        "old_threshold_n": doc["old_threshold_n"],
                        "new_threshold_t": doc["new_threshold_t"],
                        "new_threshold_n": doc["new_threshold_n"],
                        "old_participants": doc["old_participants"],
                        "new_participants": doc["new_participants"]})
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

    @classmethod
    def view(cls, doc: dict[str, Any]) -> dict[str, Any]:
        parts = [{"party_id": p["party_id"], "device_type": p["device_type"],
                  "device_id": p.get("device_id"), "index": p["index"],
                  "joined": p["joined_at"] is not None} for p in doc["participants"]]
        if doc["session_type"] == "reshare":
            for entry, p in zip(parts, doc["participants"]):
                entry.update({"old_index": p["old_index"], "new_index": p["new_index"]})
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
        out.update({k: v for k, v in cls._change_fields(doc).items() if k != "participants"})
        return out

    async def key_view(self, key_id: str) -> dict[str, Any] | None:
        key = await self.store.get_key(key_id=key_id)
        if key is None:
            return None
        return {"key_id": key["key_id"], "public_key": key["public_key"],
                "threshold_t": key["threshold_t"], "threshold_n": key["threshold_n"],
                "parties": [{"party_id": p["party_id"], "device_type": p["device_type"],
                             "index": p["index"]} for p in key["parties"]],
                "epoch": int(key.get("epoch", 0)),
                "created_at": iso(key["created_at"]), "session_id": key["session_id"],
                "updated_at": iso(key.get("updated_at")),
                "history": key.get("history", [])}

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
                   "created_at": time.time(), "epoch": 0,
                   "key_info": doc.get("key_info_agreed"),
                   "parties": [{"party_id": p["party_id"], "device_type": p["device_type"],
                                "device_id": p.get("device_id"), "index": p["index"],
                                "ed25519": p["ed25519"]} for p in doc["participants"]]}
            try:
                await self.store.put_key(key)
            except StoreConflict:
                log.warning("session %s: key %s exists already", sid, result["key_id"])
        if doc["session_type"] in CHANGE_TYPES:
            await self._settle_key(doc, completed=status == "completed")
        await self._publish_ctl(sid, sign_final(self.key, sid, status, result, error),
                                msg_id=f"final.{sid}")
        log.info("session %s: %s%s", sid, status,
                 f" ({error['code']}: {error['reason']})" if error else "")
        return True

    async def _settle_key(self, doc: dict[str, Any], *, completed: bool) -> None:
        """The end of a reshare or refresh: on success the key record moves to the new
        committee, threshold and epoch (before the signed ``completed`` goes out, so a sign
        session created after it uses the new sharing); either way the key is free again."""
        sid = doc["session_id"]
        async with self._key_lock:
            key = await self.store.get_key(key_id=doc["key_id"])
            if key is None:  # pragma: no cover - keys are never deleted
                return
            if key.get("change_session") == sid:
                key["change_session"] = None
            if completed:
                agreed = doc["agreed"]
                if doc["session_type"] == "reshare":
                    key["parties"] = sorted(
                        ({"party_id": p["party_id"], "device_type": p["device_type"],
                          "device_id": p.get("device_id"), "index": p["new_index"],
                          "ed25519": p["ed25519"]}
                         for p in doc["participants"] if p["new_index"] is not None),
                        key=lambda p: p["index"])
                    key["threshold_t"] = doc["new_threshold_t"]
                    key["threshold_n"] = doc["new_threshold_n"]
                key["epoch"] = int(agreed["epoch"])
                key["key_info"] = agreed["key_info"]
                key["sharing_id"] = agreed["sharing_id"]
                key["updated_at"] = time.time()
                key["history"] = [*key.get("history", [])[-19:],
                                  {"session_id": sid, "type": doc["session_type"],
                                   "epoch": int(agreed["epoch"]),
                                   "threshold_t": key["threshold_t"],
                                   "threshold_n": key["threshold_n"]}]
            if not await self.store.update_key(key):  # pragma: no cover
                log.error("session %s: key record %s not updated", sid, doc["key_id"])

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
                           "derivation_path": doc["derivation_path"],
                           "epoch": doc.get("epoch", 0)})
        if doc["session_type"] in CHANGE_TYPES:
            roster.update({"key_id": doc["key_id"], "public_key": doc["public_key"],
                           "epoch": doc["epoch"]})
        if doc["session_type"] == "reshare":
            roster.update({"key_info": doc["key_info"],
                           "old_threshold_t": doc["old_threshold_t"],
                           "new_threshold_t": doc["new_threshold_t"],
                           "new_threshold_n": doc["new_threshold_n"]})
            for entry, p in zip(roster["parties"], doc["participants"]):
                entry.update({"old_index": p["old_index"], "new_index": p["new_index"]})
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
            elif doc["session_type"] == "sign":
                await self._on_sign_result(sid, pid, report)
            elif doc["session_type"] in CHANGE_TYPES:
                await self._on_change_result(sid, pid, report)

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
                    info = report.get("key_info")
                    p["report"] = {"kind": "result", "key_id": str(report.get("key_id")),
                                   "public_key": str(report.get("public_key")),
                                   "chain_code": str(report.get("chain_code")),
                                   "index": report.get("index"),
                                   "key_info": info if isinstance(info, dict) else None}
                    return True
            return False
        doc = await self._mutate(sid, fn)
        if doc is None or not all(p["report"] for p in doc["participants"]):
            return
        reps = [p["report"] for p in doc["participants"]]
        if any(r["kind"] != "result" for r in reps):
            await self._fail_deadline(doc)
            return
        triples = {(r["key_id"], r["public_key"], r["chain_code"],
                    canonical_json(r.get("key_info")).decode()) for r in reps}
        bad_index = [p["party_id"] for p in doc["participants"]
                     if p["report"].get("index") != p["index"]]
        if len(triples) != 1 or bad_index:
            await self._finish(sid, "failed", error={
                "code": "result_mismatch", "culprits": bad_index,
                "reason": "the parties reported different public keys"})
            return
        key_id, public_key, chain_code, _info = triples.pop()

        def agree(d: dict[str, Any]) -> bool:
            d["chain_code_agreed"] = chain_code
            d["key_info_agreed"] = reps[0].get("key_info")
            return True
        await self._mutate(sid, agree)
        await self._finish(sid, "completed", result={"key_id": key_id,
                                                     "public_key": public_key})

    async def _on_change_result(self, sid: str, pid: str, report: dict[str, Any]) -> None:
        """A reshare or refresh completes when every party has reported: every member of the
        new committee (every party, for a refresh) the same public data of its new share,
        every old member of a reshare the same receipt."""
        def fn(doc: dict[str, Any]) -> bool:
            for p in doc["participants"]:
                if p["party_id"] == pid and p["report"] is None:
                    ns, rc = report.get("new_share"), report.get("receipt")
                    p["report"] = {"kind": "result",
                                   "new_share": ns if isinstance(ns, dict) else None,
                                   "receipt": str(rc)[:128] if rc else None}
                    return True
            return False
        doc = await self._mutate(sid, fn)
        if doc is None or not all(p["report"] for p in doc["participants"]):
            return
        if any(p["report"]["kind"] != "result" for p in doc["participants"]):
            await self._fail_deadline(doc)
            return
        reshare = doc["session_type"] == "reshare"
        bad: set[str] = set()
        shares: dict[str, str] = {}
        receipts: dict[str, str] = {}
        for p in doc["participants"]:
            rep, pid_ = p["report"], p["party_id"]
            new_index = p["new_index"] if reshare else p["index"]
            ns = rep.get("new_share")
            if new_index is not None:
                if ns is None or ns.get("index") != new_index:
                    bad.add(pid_)
                else:
                    shares[pid_] = canonical_json(
                        {k: v for k, v in ns.items() if k != "index"}).decode()
            elif ns is not None:
                bad.add(pid_)
            if reshare and p["old_index"] is not None:
                if not rep.get("receipt"):
                    bad.add(pid_)
                else:
                    receipts[pid_] = rep["receipt"]
        agreed: dict[str, Any] | None = None
        for values in (shares, receipts):
            if values:
                common, _count = Counter(values.values()).most_common(1)[0]
                bad.update(k for k, v in values.items() if v != common)
        if shares:
            agreed = json.loads(Counter(shares.values()).most_common(1)[0][0])
        n2 = doc["new_threshold_n"] if reshare else doc["threshold_n"]
        t2 = doc["new_threshold_t"] if reshare else doc["threshold_t"]
        if not bad and (agreed is None or agreed.get("public_key") != doc["public_key"]
                        or agreed.get("key_id") != doc["key_id"]
                        or agreed.get("epoch") != doc["epoch"] + 1
                        or agreed.get("threshold") != t2 or agreed.get("parties") != n2):
            bad.update(shares)
        if bad:
            await self._finish(sid, "failed", error={
                "code": "result_mismatch", "culprits": sorted(bad),
                "reason": "the parties reported different or wrong results of the "
                          f"{doc['session_type']}; the old shares stay in use"})
            return
        assert agreed is not None

        def agree(d: dict[str, Any]) -> bool:
            d["agreed"] = agreed
            return True
        await self._mutate(sid, agree)
        result = {"key_id": doc["key_id"], "public_key": doc["public_key"],
                  "threshold_t": t2, "threshold_n": n2, "epoch": agreed["epoch"]}
        if reshare:
            result.update({"new_threshold_t": t2, "new_threshold_n": n2,
                           "participants": doc["new_participants"]})
        await self._finish(sid, "completed", result=result)

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
