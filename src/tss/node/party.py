"""A server party node (server-party-N, and the backup service's party): it registers on the
bus, takes the invitations addressed to it, decides by policy whether to join, joins with its
token, checks the coordinator's signed roster, runs the protocol over the bus, keeps its key
share encrypted in its own store and reports a signed result.

Policy: a sign session is joined only with a stored share of the key; the backup party joins
sign sessions only when they are marked ``purpose: "recovery"`` (reshare and refresh sessions,
which sign nothing, it joins like any party). A keygen share is deleted again if the
coordinator declares the session failed (for example the public keys disagreed).

Reshare and refresh: the new share is stored *pending* beside the active one (with a ``change``
record naming the session) before the result is reported. On the coordinator's signed
``completed`` the pending share becomes the active one and every older version is deleted; an
old member of a reshare that is not in the new committee deletes its share then, which it may
do because it holds the library's ``ReshareReceipt`` (every new member acknowledged) and the
coordinator saw every party's result. On a signed ``failed``/``expired`` the pending share is
dropped and nothing else changes. A party that missed the final event (a crash, a restart)
settles its open records from the session's control subject: at start, on every heartbeat, and
before it uses a share whose epoch is behind the one a session asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import tss

from . import subjects
from .bus import Bus, BusError
from .crypto import (
    CryptoError,
    IdentityKey,
    b64u,
    open_with_x25519,
    seal_to_x25519,
    unb64u,
    x25519_public_bytes,
)
from .run import (
    ChangeOutcome,
    ProtocolRun,
    RunFailed,
    change_report,
    keygen_report,
    sign_report,
    verify_final,
    verify_roster,
)
from .store import SqlStore, StoreError
from .tokens import join_binding

__all__ = ["PartyNode", "BusTransport", "seal_invite", "open_invite"]

log = logging.getLogger("tss.node.party")
GRACE = 30.0
TYPES = ("keygen", "sign", "reshare", "refresh")
FINAL = ("completed", "failed", "expired")


def _invite_ad(sid: str, party_id: str) -> bytes:
    return f"tss-node/invite/v1|{sid}|{party_id}".encode()


def seal_invite(invite_key_hex: str | None, token: str, sid: str, party_id: str
                ) -> dict[str, str]:
    """The invitation's token field: sealed to the party's registered X25519 key, so that the
    bus (which keeps messages) never holds a usable token; in clear only for a party that has
    not registered one."""
    if not invite_key_hex:
        return {"token": token}
    blob = seal_to_x25519(bytes.fromhex(invite_key_hex), token.encode(),
                          _invite_ad(sid, party_id))
    return {"sealed_token": b64u(blob)}


def open_invite(key: X25519PrivateKey | None, inv: dict[str, Any], party_id: str) -> str:
    if "sealed_token" in inv:
        if key is None:
            raise CryptoError("no invitation key")
        blob = unb64u(str(inv["sealed_token"]))
        return open_with_x25519(key, blob, _invite_ad(str(inv["sid"]), party_id)).decode()
    return str(inv["token"])


class BusTransport:
    """Envelopes of one session over the bus: publish to the peer's mailbox, read ours."""

    def __init__(self, bus: Bus, sid: str, index: int) -> None:
        self.bus = bus
        self.sid = sid
        self.sub = bus.subscribe(subjects.mailbox(sid, index))

    async def send(self, items: list[tuple[int, bytes]]) -> None:
        import hashlib

        for j, data in items:
            # the header names (session, protocol, round, from, to, seq): a unique message id
            await self.bus.publish(subjects.mailbox(self.sid, j), data,
                                   msg_id=hashlib.sha256(data[:35]).hexdigest())

    async def receive(self, timeout: float) -> list[bytes]:
        msg = await self.sub.next(timeout)
        return [] if msg is None else [msg.data]


class PartyNode:
    def __init__(self, party_id: str, bus: Bus, store: SqlStore, *, role: str = "server",
                 level: str = "standard", max_sessions: int = 4, paillier_pool: int = 1,
                 coordinator_public_key: str | None = None,
                 heartbeat: float = 10.0) -> None:
        if not subjects.PARTY_ID.match(party_id):
            raise ValueError("bad party id")
        self.party_id = party_id
        self.bus = bus
        self.store = store
        self.role = role
        self.level = level
        self.max_sessions = max_sessions
        self.pool_size = max(0, paillier_pool)
        self._pinned = coordinator_public_key
        self.heartbeat = heartbeat
        self.identity: IdentityKey | None = None
        self._invite_key: X25519PrivateKey | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: list[asyncio.Task[Any]] = []
        self._sem: asyncio.Semaphore | None = None
        self._pool: list[Any] = []
        self._pool_event: asyncio.Event | None = None
        self.active: dict[str, str] = {}
        self.completed = 0
        self.failed = 0
        self._change_lock = asyncio.Lock()

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        raw = await self.store.get_secret(f"identity.{self.party_id}")
        if raw is None:
            self.identity = IdentityKey()
            await self.store.put_secret(f"identity.{self.party_id}", self.identity.to_bytes())
        else:
            self.identity = IdentityKey.from_bytes(raw)
        raw = await self.store.get_secret(f"invite.{self.party_id}")
        if raw is None:
            self._invite_key = X25519PrivateKey.generate()
            await self.store.put_secret(f"invite.{self.party_id}",
                                        self._invite_key.private_bytes_raw())
        else:
            self._invite_key = X25519PrivateKey.from_private_bytes(raw)
        self._sem = asyncio.Semaphore(self.max_sessions)
        self._pool_event = asyncio.Event()
        await self._register()
        self._main = [asyncio.create_task(self._invites(), name=f"invites-{self.party_id}"),
                      asyncio.create_task(self._heartbeat(), name=f"hb-{self.party_id}")]
        if self.pool_size:
            self._main.append(asyncio.create_task(self._fill_pool(),
                                                  name=f"pool-{self.party_id}"))
        self._main.append(asyncio.create_task(self._settle_quietly(),
                                              name=f"settle-{self.party_id}"))
        log.info("party %s (%s) ready", self.party_id, self.role)

    async def stop(self) -> None:
        for t in [*self._main, *self._tasks]:
            t.cancel()
        for t in [*self._main, *self._tasks]:
            with contextlib.suppress(BaseException):
                await t
        self._main = []
        self._tasks.clear()

    async def _register(self) -> None:
        assert self.identity is not None
        assert self._invite_key is not None
        doc = {"party_id": self.party_id, "role": self.role,
               "ed25519": self.identity.public_hex,
               "x25519": x25519_public_bytes(self._invite_key).hex(), "last_seen": time.time()}
        await self.bus.kv_put(subjects.kv_party(self.party_id), json.dumps(doc).encode())
        for _ in range(50):  # add ourselves to the index (compare-and-set)
            entry = await self.bus.kv_get(subjects.KV_PARTY_INDEX)
            names = json.loads(entry.value) if entry is not None else []
            if self.party_id in names:
                return
            value = json.dumps(sorted([*names, self.party_id])).encode()
            if entry is None:
                if await self.bus.kv_create(subjects.KV_PARTY_INDEX, value) is not None:
                    return
            elif await self.bus.kv_update(subjects.KV_PARTY_INDEX, value,
                                          entry.revision) is not None:
                return

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            with contextlib.suppress(BusError):
                await self._register()
            await self._settle_quietly()

    # ------------------------------------------------------------------ reshare/refresh records
    def _record_id(self, sid: str) -> str:
        return f"{self.party_id}.{sid}"

    async def _settle_quietly(self) -> None:
        try:
            await self.settle()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - retried on the next heartbeat
            log.exception("party %s: settling open reshares failed", self.party_id)

    async def settle(self, key_id: str | None = None) -> int:
        """Apply the final outcome of every open reshare/refresh of this party (of ``key_id``)
        whose signed final event is on the bus; returns how many were settled."""
        done = 0
        for rec in await self.store.list_records("change"):
            if rec.get("party_id") != self.party_id or (key_id and rec.get("key_id") != key_id):
                continue
            ev = await self._find_final(str(rec["sid"]))
            if ev is not None and await self._apply_change(str(rec["sid"]), ev):
                done += 1
        return done

    async def _find_final(self, sid: str) -> dict[str, Any] | None:
        pub = await self._coordinator_key()
        after = 0
        for _ in range(20):
            msgs = await self.bus.fetch(subjects.ctl(sid), after=after, limit=50, timeout=0)
            if not msgs:
                return None
            for m in msgs:
                ev = _json(m.data)
                if ev.get("type") in FINAL and verify_final(ev, pub, sid):
                    return ev
            after = msgs[-1].seq
        return None

    async def _apply_change(self, sid: str, final: dict[str, Any]) -> bool:
        """Switch to the new share (``completed``) or drop it (``failed``, ``expired``), once."""
        async with self._change_lock:
            rid = self._record_id(sid)
            rec = await self.store.get_record("change", rid)
            if rec is None:
                return False
            key_id = str(rec["key_id"])
            if final.get("type") == "completed":
                out = await self.store.switch_shares(
                    key_id, self.party_id, session_id=sid, activate=bool(rec["new"]),
                    retire=bool(rec["receipt"]) and not rec["new"])
                log.info("party %s: %s %s completed: %d share(s) activated, %d old deleted",
                         self.party_id, rec.get("type"), sid, out["activated"], out["deleted"])
            else:
                n = await self.store.discard_pending(key_id, self.party_id, sid)
                log.info("party %s: %s %s %s: %d pending share(s) dropped, old share kept",
                         self.party_id, rec.get("type"), sid, final.get("type"), n)
            await self.store.delete_record("change", rid)
            return True

    async def _load_share(self, key_id: str, epoch: Any) -> tss.KeyShare | None:
        """The active share of ``key_id``; if it is older than the ``epoch`` the session asks
        for, settle this party's open reshares of the key first."""
        raw = await self.store.get_share(key_id, self.party_id)
        share = None if raw is None else tss.KeyShare.from_bytes(raw)
        if isinstance(epoch, int) and (share is None or share.epoch < epoch):
            if await self.settle(key_id):
                raw = await self.store.get_share(key_id, self.party_id)
                share = None if raw is None else tss.KeyShare.from_bytes(raw)
        return share

    async def _fill_pool(self) -> None:
        """Keep ``pool_size`` Paillier keys ready (safe primes are the slow part of keygen)."""
        from tss.aux import pregenerate

        from .run import cpu

        assert self._pool_event is not None
        while True:
            while len(self._pool) < self.pool_size:
                keys = await cpu(lambda: pregenerate(1, self.level, processes=1))
                self._pool.extend(keys)
            self._pool_event.clear()
            await self._pool_event.wait()

    def _take_paillier(self) -> Any:
        key = self._pool.pop() if self._pool else None
        if self._pool_event is not None:
            self._pool_event.set()
        return key

    async def _coordinator_key(self) -> str | None:
        if self._pinned:
            return self._pinned
        entry = await self.bus.kv_get(subjects.KV_COORD_PUB)
        return None if entry is None else entry.value.decode()

    # ------------------------------------------------------------------ sessions
    async def _invites(self) -> None:
        sub = self.bus.subscribe(subjects.invite(self.party_id),
                                 durable=f"party-{self.party_id}-invites")
        while True:
            try:
                msg = await sub.next(5.0)
            except BusError as exc:
                log.warning("party %s: bus error: %s", self.party_id, exc)
                await asyncio.sleep(1.0)
                continue
            if msg is None:
                continue
            try:
                inv = json.loads(msg.data)
                if not isinstance(inv, dict):
                    raise ValueError
            except ValueError:
                await sub.ack(msg)
                continue
            task = asyncio.create_task(self._guarded(inv))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            await sub.ack(msg)

    async def _guarded(self, inv: dict[str, Any]) -> None:
        assert self._sem is not None
        async with self._sem:
            try:
                await self._session(inv)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one session must not stop the node
                log.exception("party %s: session %s crashed", self.party_id, inv.get("sid"))

    async def _report(self, sid: str, kind: str, **fields: Any) -> None:
        assert self.identity is not None
        report = {"sid": sid, "party_id": self.party_id, "kind": kind, **fields}
        signed = sign_report(self.identity, report)
        await self.bus.publish(subjects.REPORT, json.dumps(signed).encode(),
                               msg_id=f"report.{sid}.{self.party_id}.{kind}")

    async def _session(self, inv: dict[str, Any]) -> None:
        assert self.identity is not None
        sid = str(inv["sid"])
        typ = inv.get("type")
        deadline = float(inv.get("deadline", 0))
        if time.time() >= deadline or typ not in TYPES:
            return
        share: tss.KeyShare | None = None
        needs_share = typ in ("sign", "refresh") or (typ == "reshare" and bool(inv.get("old")))
        if typ == "sign" and self.role == "backup" and inv.get("purpose") != "recovery":
            await self._report(sid, "declined", code="policy",
                               reason=f"{self.party_id} signs only for recovery")
            return
        if needs_share:
            try:
                share = await self._load_share(str(inv.get("key_id")), inv.get("epoch"))
            except (StoreError, tss.TssError) as exc:
                await self._report(sid, "declined", code="share_unreadable", reason=str(exc))
                return
            if share is None:
                await self._report(sid, "declined", code="no_share",
                                   reason=f"{self.party_id} holds no share of this key")
                return
        try:
            token = open_invite(self._invite_key, inv, self.party_id)
        except CryptoError:
            log.warning("party %s: session %s: invitation does not open", self.party_id, sid)
            return
        x = X25519PrivateKey.generate()
        xhex = x25519_public_bytes(x).hex()
        ed = self.identity.public_hex
        join = {"sid": sid, "party_id": self.party_id, "token": token, "ed25519": ed,
                "x25519": xhex, "signature": b64u(self.identity.sign(
                    join_binding(sid, self.party_id, ed, xhex)))}
        await self.bus.publish(subjects.JOIN, json.dumps(join).encode(),
                               msg_id=f"join.{sid}.{self.party_id}")
        self.active[sid] = "joined"
        try:
            await self._after_join(sid, typ, deadline, x, xhex, share)
        finally:
            self.active.pop(sid, None)

    async def _after_join(self, sid: str, typ: str, deadline: float, x: X25519PrivateKey,
                          xhex: str, share: tss.KeyShare | None) -> None:
        assert self.identity is not None
        ctl = self.bus.subscribe(subjects.ctl(sid))
        roster: dict[str, Any] | None = None
        while roster is None:
            remaining = deadline - time.time()
            if remaining <= 0:
                return
            m = await ctl.next(min(remaining, 5.0))
            if m is None:
                continue
            ev = _json(m.data)
            kind = ev.get("type")
            if kind == "roster":
                pub = await self._coordinator_key()
                if pub is None:
                    log.warning("party %s: no coordinator key to check roster", self.party_id)
                    return
                try:
                    roster = verify_roster(ev.get("signed"), pub, sid=sid,
                                           party_id=self.party_id,
                                           ed25519=self.identity.public_hex, x25519=xhex)
                except RunFailed as exc:
                    log.warning("party %s: session %s: %s", self.party_id, sid, exc.reason)
                    return
            elif kind in FINAL and verify_final(ev, await self._coordinator_key(), sid):
                return
        self.active[sid] = "running"
        run = ProtocolRun(roster, self.party_id, self.identity, x, share=share)
        if typ in ("keygen", "refresh") or (typ == "reshare" and
                                             run.me.get("new_index") is not None):
            run.paillier_key = self._take_paillier()
        pub = await self._coordinator_key()
        run_task = asyncio.create_task(run.run(BusTransport(self.bus, sid, run.index)))
        watch = asyncio.create_task(_wait_final(ctl, float(roster["deadline"]) + GRACE,
                                                pub, sid))
        done, _ = await asyncio.wait({run_task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if not run_task.done():
            run_task.cancel()
            with contextlib.suppress(BaseException):
                await run_task
            final = watch.result()
            if final is None or final.get("type") != "completed":
                self.failed += 1
            return
        try:
            result = run_task.result()
        except RunFailed as exc:
            watch.cancel()
            self.failed += 1
            await self._report(sid, "failed", **exc.to_dict())
            return
        if isinstance(result, ChangeOutcome):
            await self._finish_change(sid, roster, result, watch)
            return
        if isinstance(result, tss.KeyShare):
            await self.store.put_share(result.key_id, self.party_id, result.to_bytes(),
                                       public_key=result.public_key.hex(), session_id=sid)
            await self._report(sid, "result", **keygen_report(result))
            final = await watch
            if final is not None and final.get("type") in ("failed", "expired"):
                await self.store.delete_share(result.key_id, self.party_id, session_id=sid)
                self.failed += 1
                log.info("party %s: session %s failed after keygen; share deleted",
                         self.party_id, sid)
                return
        else:
            watch.cancel()
            await self._report(sid, "result", r=f"{result.r:064x}", s=f"{result.s:064x}",
                               v=result.recovery_id)
        self.completed += 1

    async def _finish_change(self, sid: str, roster: dict[str, Any], outcome: ChangeOutcome,
                             watch: asyncio.Task[Any]) -> None:
        """Keep the new share pending, report, and settle on the signed final event."""
        key_id = str(roster["key_id"])
        async with self._change_lock:  # a concurrent settle sees the record and the share
            await self.store.put_record("change", self._record_id(sid), {
                "party_id": self.party_id, "sid": sid, "key_id": key_id,
                "type": roster["type"], "new": outcome.new_share is not None,
                "receipt": outcome.receipt is not None, "created_at": time.time()},
                create=False)
            if outcome.new_share is not None:
                s = outcome.new_share
                await self.store.put_share(key_id, self.party_id, s.to_bytes(),
                                           public_key=s.public_key.hex(), session_id=sid,
                                           version=None, pending=True)
        await self._report(sid, "result", **change_report(outcome))
        final = await watch
        if final is None:
            log.warning("party %s: %s %s: no final event before the deadline; the new share "
                        "stays pending until it is settled", self.party_id, roster["type"], sid)
            return
        await self._apply_change(sid, final)
        if final.get("type") == "completed":
            self.completed += 1
        else:
            self.failed += 1


def _json(data: bytes) -> dict[str, Any]:
    try:
        v = json.loads(data)
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


async def _wait_final(ctl: Any, until: float, coordinator_public: str | None,
                      sid: str) -> dict[str, Any] | None:
    """The session's final control event (completed, failed, expired) signed by the
    coordinator, or None at ``until``. Unsigned or forged events are ignored."""
    while True:
        remaining = until - time.time()
        if remaining <= 0:
            return None
        m = await ctl.next(min(remaining, 5.0))
        if m is None:
            continue
        ev = _json(m.data)
        if ev.get("type") in FINAL:
            if verify_final(ev, coordinator_public, sid):
                return ev
            log.warning("session %s: ignored a final event that does not verify", sid)
