"""One party's part of one session, independent of the transport: the signed roster, the
sealed channel and the tss state machines.

``ProtocolRun(roster, party_id, identity, x25519).run(transport)`` returns a ``tss.KeyShare``
(keygen) or a ``tss.Signature`` (sign: presign then the online round) or raises ``RunFailed``
with a code, a reason and the party ids to blame. The transport has two coroutines,
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
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import tss

from .channel import Channel, EnvelopeError, Peer
from .crypto import IdentityKey, b64u, canonical_json, unb64u, verify_ed25519

__all__ = ["ProtocolRun", "RunFailed", "Transport", "sign_roster", "verify_roster",
           "protocol_session_id", "sign_report", "verify_report", "cpu"]

log = logging.getLogger("tss.node.run")

_ROSTER_LABEL = b"tss-node/roster/v1"
_REPORT_LABEL = b"tss-node/report/v1"
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
        self.names = {int(p["index"]): p["party_id"] for p in parties}
        me = [p for p in parties if p["party_id"] == party_id][0]
        self.index = int(me["index"])
        peers = [Peer(int(p["index"]), bytes.fromhex(p["x25519"]), p["ed25519"])
                 for p in parties]
        self.channel = Channel(self.sid, self.index, x25519, identity, peers)
        self.psid = protocol_session_id(roster)
        self.share = share
        self.paillier_key = paillier_key
        self.level = roster.get("level", "standard")
        self._received: set[tuple[str, int, int]] = set()
        self.rounds_done = 0
        self.machine: Any = None

    def _culprits(self, indices: Any) -> list[str]:
        return [self.names.get(int(i), str(i)) for i in indices]

    def _first_machine(self) -> Any:
        if self.type == "keygen":
            return tss.Keygen(self.index, int(self.roster["threshold_t"]),
                              int(self.roster["threshold_n"]), self.psid, level=self.level,
                              paillier_key=self.paillier_key)
        if self.share is None:
            raise RunFailed("no_share", "this party holds no share of the key")
        if self.share.public_key.hex() != self.roster["public_key"]:
            raise RunFailed("no_share", "the stored share is of another key")
        signers = sorted(self.names)
        return tss.Presign(self.share, signers, self.psid)

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
        m = self.machine
        if m is None:
            return []
        r = m.round
        return sorted(self.names[j] for j in self.names
                      if j != self.index and (m.PROTOCOL, r, j) not in self._received)

    async def run(self, transport: Transport) -> tss.KeyShare | tss.Signature:
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
                waiting = self.waiting_for()
                raise RunFailed("timeout", f"no message from {', '.join(waiting) or 'nobody'} "
                                f"in {machine.PROTOCOL} round {machine.round} before the "
                                "deadline", waiting, f"{machine.PROTOCOL}/{machine.round}")
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
        items: list[tuple[int, bytes]] = []
        for m in msgs:
            items.extend(self.channel.seal(m))
        if items:
            await transport.send(items)
