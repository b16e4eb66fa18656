"""One party's part of one session, independent of the transport: the signed roster, the
sealed channel and the tss state machines.

``ProtocolRun(roster, party_id, identity, x25519).run(transport)`` returns a ``tss.KeyShare``
(keygen), a ``tss.Signature`` (sign: presign then the online round) or a :class:`ChangeOutcome`
(reshare, refresh: the new share and/or the old member's ``tss.ReshareReceipt``) or raises
``RunFailed`` with a code, a reason and the party ids to blame. The transport has two coroutines,
``send([(index, envelope)])`` and ``receive(timeout) -> [envelope]``; the server parties use the
bus, a device uses the router's HTTP API (``tss.node.client``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import tss
from tss.curve import Point
from tss.params import level_by_code
from tss.protocol.reshare import NEW_MEMBER_BASE

from .channel import Channel, EnvelopeError, Peer
from .crypto import IdentityKey, b64u, canonical_json, unb64u, verify_ed25519

__all__ = ["ProtocolRun", "RunFailed", "Transport", "sign_roster", "verify_roster",
           "protocol_session_id", "sign_report", "verify_report", "cpu", "ChangeOutcome",
           "key_info_to_json", "key_info_from_json", "change_report", "keygen_report", "sign_final",
           "verify_final", "CHANGE_TYPES"]

CHANGE_TYPES = ("reshare", "refresh")

log = logging.getLogger("tss.node.run")

_ROSTER_LABEL = b"tss-node/roster/v1"
_REPORT_LABEL = b"tss-node/report/v1"
_FINAL_LABEL = b"tss-node/final/v1"
_CPU = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tss-cpu")


async def cpu(fn: Callable[..., Any], *args: Any) -> Any:
    """Run protocol arithmetic off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_CPU, fn, *args)


class RunFailed(Exception):
    def __init__(self, code: str, reason: str, culprits: list[str] | None = None,
                 round: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.culprits = sorted(culprits or [])
        self.round = round

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason, "culprits": self.culprits,
                "round": self.round}


class Transport(Protocol):
    async def send(self, items: list[tuple[int, bytes]]) -> None: ...

    async def receive(self, timeout: float) -> list[bytes]: ...


# ---------------------------------------------------------------------- rosters and reports
def sign_roster(key: IdentityKey, roster: dict[str, Any]) -> dict[str, Any]:
    sig = key.sign(_ROSTER_LABEL + canonical_json(roster))
    return {"roster": roster, "signature": b64u(sig)}


def verify_roster(signed: Any, coordinator_public: str, *, sid: str, party_id: str,
                  ed25519: str, x25519: str | None) -> dict[str, Any]:
    """The roster if the coordinator signed it, it is for ``sid`` and our entry is right."""
    try:
        roster = signed["roster"]
        sig = unb64u(signed["signature"], max_len=200)
    except (KeyError, TypeError, Exception):  # noqa: BLE001
        raise RunFailed("bad_roster", "malformed roster") from None
    if not verify_ed25519(coordinator_public, sig, _ROSTER_LABEL + canonical_json(roster)):
        raise RunFailed("bad_roster", "roster signature does not verify")
    if roster.get("sid") != sid:
        raise RunFailed("bad_roster", "roster of another session")
    mine = [p for p in roster.get("parties", []) if p.get("party_id") == party_id]
    if len(mine) != 1 or mine[0].get("ed25519") != ed25519 or (
            x25519 is not None and mine[0].get("x25519") != x25519):
        raise RunFailed("bad_roster", "roster does not list this party with its keys")
    return roster


def protocol_session_id(roster: dict[str, Any]) -> bytes:
    """The tss session id: a hash of the whole roster (parties, keys, message, deadline)."""
    return hashlib.sha256(b"tss-node/protocol-sid/v1" + canonical_json(roster)).digest()


def sign_report(key: IdentityKey, report: dict[str, Any]) -> dict[str, Any]:
    return {"report": report, "signature": b64u(key.sign(_REPORT_LABEL +
                                                         canonical_json(report)))}


def verify_report(signed: Any, ed25519: str) -> dict[str, Any] | None:
    try:
        report = signed["report"]
        sig = unb64u(signed["signature"], max_len=200)
    except Exception:  # noqa: BLE001
        return None
    if not isinstance(report, dict):
        return None
    if not verify_ed25519(ed25519, sig, _REPORT_LABEL + canonical_json(report)):
        return None
    return report


def sign_final(key: IdentityKey, sid: str, status: str, result: Any, error: Any
               ) -> dict[str, Any]:
    """The coordinator's final control event, signed: a party acts on ``completed`` (switch
    to a new sharing, delete an old share) or ``failed`` (drop a new share) only if it
    verifies, so whoever can write to the bus cannot make a party lose a share."""
    body = {"sid": sid, "type": status, "result": result, "error": error}
    return {**body, "signature": b64u(key.sign(_FINAL_LABEL + canonical_json(body)))}


def verify_final(ev: Any, coordinator_public: str | None, sid: str) -> bool:
    if not isinstance(ev, dict) or coordinator_public is None or ev.get("sid") != sid:
        return False
    body = {"sid": sid, "type": ev.get("type"), "result": ev.get("result"),
            "error": ev.get("error")}
    try:
        sig = unb64u(str(ev.get("signature", "")), max_len=200)
    except Exception:  # noqa: BLE001
        return False
    return verify_ed25519(coordinator_public, sig, _FINAL_LABEL + canonical_json(body))


# ---------------------------------------------------------------------- public key info
def key_info_to_json(info: tss.PublicKeyInfo) -> dict[str, Any]:
    """``tss.PublicKeyInfo`` (what a new reshare member needs: no secret) as JSON."""
    return {"level": info.level.code, "threshold": info.threshold,
            "points": [format(x, "x") for x in info.points],
            "public_shares": [X.to_bytes().hex() for X in info.public_shares],
            "public_key": info.public_key_point.to_bytes().hex(),
            "chain_code": info.chain_code.hex(), "epoch": info.epoch}


def key_info_from_json(d: Any) -> tss.PublicKeyInfo:
    """The inverse of :func:`key_info_to_json`; ``ValueError`` if malformed."""
    try:
        if not isinstance(d, dict):
            raise ValueError("not an object")
        points = tuple(int(str(x), 16) for x in d["points"])
        shares = tuple(Point.from_bytes(bytes.fromhex(str(h))) for h in d["public_shares"])
        n, t, epoch = len(points), int(d["threshold"]), int(d["epoch"])
        chain = bytes.fromhex(str(d["chain_code"]))
        if not (1 <= t <= n <= 1000 and len(shares) == n and len(chain) == 32
                and 0 <= epoch < 1 << 32 and len(set(points)) == n):
            raise ValueError("inconsistent sizes")
        return tss.PublicKeyInfo(level_by_code(int(d["level"])), t, points, shares,
                                 Point.from_bytes(bytes.fromhex(str(d["public_key"]))),
                                 chain, epoch)
    except (KeyError, TypeError, ValueError, tss.TssError) as exc:
        raise ValueError(f"bad key info ({exc})") from None


@dataclass(frozen=True)
class ChangeOutcome:
    """What a party gets from a reshare or refresh: the new share (new committee members, and
    every party of a refresh) and the receipt (old members of a reshare: every new member
    acknowledged, so the old share may go once the session completes)."""

    new_share: tss.KeyShare | None
    receipt: tss.ReshareReceipt | None


def keygen_report(share: tss.KeyShare) -> dict[str, Any]:
    """The fields of a party's signed result report for a keygen."""
    return {"key_id": share.key_id, "public_key": share.public_key.hex(),
            "chain_code": share.chain_code.hex(), "index": share.index,
            "key_info": key_info_to_json(share.public_info())}


def change_report(outcome: ChangeOutcome) -> dict[str, Any]:
    """The fields of a party's signed result report for a reshare or refresh."""
    new = None
    s = outcome.new_share
    if s is not None:
        new = {"key_id": s.key_id, "public_key": s.public_key.hex(), "index": s.index,
               "threshold": s.threshold, "parties": s.parties, "epoch": s.epoch,
               "sharing_id": s.sharing_id.hex(), "key_info": key_info_to_json(s.public_info())}
    return {"new_share": new,
            "receipt": outcome.receipt.ack.hex() if outcome.receipt is not None else None}


# ---------------------------------------------------------------------- the run
class ProtocolRun:
    def __init__(self, roster: dict[str, Any], party_id: str, identity: IdentityKey,
                 x25519: X25519PrivateKey, *, share: tss.KeyShare | None = None,
                 paillier_key: Any = None) -> None:
        self.roster = roster
        self.party_id = party_id
        self.sid = roster["sid"]
        self.type = roster["type"]
        self.deadline = float(roster["deadline"])
        parties = roster["parties"]
        me = [p for p in parties if p["party_id"] == party_id][0]
        self.index = int(me["index"])
        self.me = me
        # library id -> roster index and party id (the same numbers except in a reshare)
        owners: dict[int, int] = {}
        self.names: dict[int, str] = {}
        for p in parties:
            for mid in self._machine_ids(p):
                owners[mid] = int(p["index"])
                self.names[mid] = p["party_id"]
        self.local = self._machine_ids(me)
        peers = [Peer(int(p["index"]), bytes.fromhex(p["x25519"]), p["ed25519"])
                 for p in parties]
        self.channel = Channel(self.sid, self.index, x25519, identity, peers,
                               owners=owners if self.type == "reshare" else None)
        self.psid = protocol_session_id(roster)
        self.share = share
        self.paillier_key = paillier_key
        self.level = roster.get("level", "standard")
        self._received: set[tuple[str, int, int]] = set()
        self.rounds_done = 0
        self.machine: Any = None
        self.machines: dict[int, Any] = {}

    def _machine_ids(self, p: dict[str, Any]) -> list[int]:
        if self.type != "reshare":
            return [int(p["index"])]
        ids = []
        if p.get("old_index") is not None:
            ids.append(int(p["old_index"]))
        if p.get("new_index") is not None:
            ids.append(NEW_MEMBER_BASE + int(p["new_index"]))
        return ids

    def _culprits(self, indices: Any) -> list[str]:
        return sorted({self.names.get(int(i), str(i)) for i in indices})

    def _check_share(self, index: int) -> tss.KeyShare:
        share = self.share
        if share is None:
            raise RunFailed("no_share", "this party holds no share of the key")
        if share.public_key.hex() != self.roster["public_key"]:
            raise RunFailed("no_share", "the stored share is of another key")
        epoch = self.roster.get("epoch")
        if epoch is not None and share.epoch != int(epoch):
            raise RunFailed("stale_share", f"this party's share is of epoch {share.epoch}, "
                            f"the session is for epoch {epoch}")
        if share.index != index:
            raise RunFailed("no_share", "the stored share has another index")
        return share

    def _first_machine(self) -> Any:
        if self.type == "keygen":
            return tss.Keygen(self.index, int(self.roster["threshold_t"]),
                              int(self.roster["threshold_n"]), self.psid, level=self.level,
                              paillier_key=self.paillier_key)
        share = self._check_share(self.index)
        if self.type == "refresh":
            return tss.Refresh(share, self.psid, paillier_key=self.paillier_key)
        signers = sorted(self.names)
        return tss.Presign(share, signers, self.psid)

    def _reshare_machines(self) -> dict[int, Any]:
        r = self.roster
        old = sorted(int(p["old_index"]) for p in r["parties"] if p.get("old_index") is not None)
        t2, n2 = int(r["new_threshold_t"]), int(r["new_threshold_n"])
        try:
            info = key_info_from_json(r["key_info"])
        except ValueError as exc:
            raise RunFailed("bad_roster", str(exc)) from None
        out: dict[int, Any] = {}
        try:
            if self.me.get("old_index") is not None:
                share = self._check_share(int(self.me["old_index"]))
                if canonical_json(key_info_to_json(share.public_info())) != \
                        canonical_json(r["key_info"]):
                    raise RunFailed("key_info_mismatch", "the roster's public key data is not "
                                    "that of this party's share")
                out[share.index] = tss.Reshare(self.psid, old_parties=old, new_threshold=t2,
                                               new_parties=n2, old_share=share)
            if self.me.get("new_index") is not None:
                j = int(self.me["new_index"])
                out[NEW_MEMBER_BASE + j] = tss.Reshare(
                    self.psid, old_parties=old, new_threshold=t2, new_parties=n2,
                    new_index=j, key_info=info, paillier_key=self.paillier_key)
        except tss.UsageError as exc:
            raise RunFailed("bad_roster", f"reshare: {exc}") from None
        return out

    def _failure(self, exc: tss.TssError) -> RunFailed:
        if isinstance(exc, tss.ProtocolAborted):
            return RunFailed("protocol_aborted", exc.reason, self._culprits(exc.culprits),
                             str(exc.round))
        return RunFailed("protocol_error", str(exc))

    async def _step(self, transport: Transport, machine: Any,
                    fn: Callable[..., list[tss.Message]], *args: Any) -> None:
        """Run one step of ``machine`` off the loop and send what it produced. A machine may
        hand back the messages of a round that passed together with a fault it found in a
        later, buffered round (kept in ``machine.error``): those are sent first, so that the
        peers can see the fault themselves, then the run fails."""
        try:
            out = list(await cpu(fn, *args))
        except tss.UsageError:
            raise
        except tss.TssError as exc:
            raise self._failure(exc) from None
        await self._send(transport, out)
        err = machine.error
        if err is not None:
            raise self._failure(err)

    def waiting_for(self) -> list[str]:
        if self.machines:
            out: set[str] = set()
            for m in self.machines.values():
                if m.done:
                    continue
                expected = getattr(m, "_expected", None)
                slots = expected(m.round) if expected else [(p, True) for p in m.peers]
                out.update(self.names.get(p, str(p)) for p, _b in slots
                           if (m.PROTOCOL, m.round, p) not in self._received)
            return sorted(out)
        m = self.machine
        if m is None:
            return []
        r = m.round
        return sorted(self.names[j] for j in self.names
                      if j != self.index and (m.PROTOCOL, r, j) not in self._received)

    def _timeout(self, machine: Any) -> RunFailed:
        waiting = self.waiting_for()
        return RunFailed("timeout", f"no message from {', '.join(waiting) or 'nobody'} in "
                         f"{machine.PROTOCOL} round {machine.round} before the deadline",
                         waiting, f"{machine.PROTOCOL}/{machine.round}")

    async def run(self, transport: Transport) -> tss.KeyShare | tss.Signature | ChangeOutcome:
        if self.type == "reshare":
            return await self._run_machines(transport)
        result = await self._run_one(transport)
        if self.type == "refresh":
            assert isinstance(result, tss.KeyShare)
            return ChangeOutcome(result, None)
        return result

    async def _run_machines(self, transport: Transport) -> ChangeOutcome:
        """The machines this party runs in a reshare (one or two), fed from one mailbox."""
        self.machines = await cpu(self._reshare_machines)
        for m in list(self.machines.values()):
            await self._step(transport, m, m.start)
        while not all(m.done for m in self.machines.values()):
            remaining = self.deadline - time.time()
            if remaining <= 0:
                raise self._timeout(next(m for m in self.machines.values() if not m.done))
            for data in await transport.receive(min(remaining, 5.0)):
                try:
                    msg = self.channel.open(data)
                except EnvelopeError as exc:
                    log.warning("session %s: dropped an envelope: %s", self.sid, exc)
                    continue
                if msg is None:
                    continue
                self._received.add((msg.protocol, msg.round, msg.sender))
                await self._dispatch(transport, msg)
        new = old = None
        for mid, m in self.machines.items():
            if mid >= NEW_MEMBER_BASE:
                new = m.result
            else:
                old = m.result
        return ChangeOutcome(new, old)

    async def _dispatch(self, transport: Transport, msg: tss.Message) -> None:
        for mid, m in list(self.machines.items()):
            if (msg.recipient is None and mid != msg.sender) or msg.recipient == mid:
                await self._deliver(transport, m, msg)

    async def _run_one(self, transport: Transport) -> tss.KeyShare | tss.Signature:
        machine = self.machine = await cpu(self._first_machine)
        pending: list[tss.Message] = []
        await self._step(transport, machine, machine.start)
        while True:
            if machine.done:
                result = machine.result
                if isinstance(result, tss.Presignature):
                    mh = bytes.fromhex(self.roster["message_hash"])
                    path = self.roster.get("derivation_path") or None
                    machine = self.machine = tss.Sign(result, mh, derivation_path=path)
                    await self._step(transport, machine, machine.start)
                    later, pending = pending, []
                    for msg in later:
                        await self._deliver(transport, machine, msg)
                    continue
                return result
            remaining = self.deadline - time.time()
            if remaining <= 0:
                raise self._timeout(machine)
            for data in await transport.receive(min(remaining, 5.0)):
                try:
                    msg = self.channel.open(data)
                except EnvelopeError as exc:
                    log.warning("session %s: dropped an envelope: %s", self.sid, exc)
                    continue
                if msg is None:
                    continue
                self._received.add((msg.protocol, msg.round, msg.sender))
                if msg.protocol != machine.PROTOCOL:
                    pending.append(msg)
                    continue
                await self._deliver(transport, machine, msg)

    async def _deliver(self, transport: Transport, machine: Any, msg: tss.Message) -> None:
        try:
            await self._step(transport, machine, machine.handle, msg)
        except tss.UsageError as exc:
            if machine.error is not None:
                raise self._failure(machine.error) from None
            log.warning("session %s: ignored a message: %s", self.sid, exc)

    async def _send(self, transport: Transport, msgs: list[tss.Message]) -> None:
        """Seal and send to the other parties; a message for another machine of this party
        (a reshare member in both committees) is delivered here, after the sending."""
        items: list[tuple[int, bytes]] = []
        local: list[tss.Message] = []
        for m in msgs:
            if m.recipient is None or m.recipient not in self.local:
                items.extend(self.channel.seal(m))
            if len(self.local) > 1 and (m.recipient is None or m.recipient in self.local):
                local.append(m)
        if items:
            await transport.send(items)
        for m in local:
            self._received.add((m.protocol, m.round, m.sender))
            await self._dispatch(transport, m)
