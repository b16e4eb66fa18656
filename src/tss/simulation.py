"""Run every party of a protocol in one process, through the real state machines and the real
byte encodings. Messages are shuffled before each delivery, so nothing may depend on order.

For tests, examples and the demo; a deployment drives the same machines over its transport.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence

from .errors import UsageError
from .paillier import PaillierSecretKey
from .params import STANDARD, SecurityLevel
from .protocol.driver import RoundMachine
from .protocol.keygen import Keygen
from .protocol.message import Message
from .protocol.presign import Presign
from .protocol.refresh import Refresh
from .protocol.reshare import NEW_MEMBER_BASE, Reshare
from .protocol.sign import Sign
from .randomness import Rng, SeededRng
from .shares import KeyShare, Presignature, Signature

__all__ = ["run", "simulate_keygen", "simulate_presign", "simulate_sign", "simulate_refresh",
           "simulate_reshare"]

Observer = Callable[[str, int], None]


def run(machines: dict[int, RoundMachine], *, shuffle: random.Random | None = None,
        observer: Observer | None = None) -> dict[int, object]:
    """Drive ``machines`` (index -> machine) to completion; return index -> result.

    Every message is encoded to bytes and decoded again on the way. The first error any
    machine raises propagates (the others are left where they were).
    """
    rnd = shuffle or random.Random()
    queue: list[bytes] = []
    for m in machines.values():
        queue.extend(msg.to_bytes() for msg in m.start())
    if observer:
        observer("round", 1)
    delivered_round = 1
    while queue:
        rnd.shuffle(queue)
        batch, queue = queue, []
        for raw in batch:
            msg = Message.from_bytes(raw)
            targets = [msg.recipient] if msg.recipient is not None else [
                j for j in machines if j != msg.sender]
            for j in targets:
                out = machines[j].handle(msg)
                queue.extend(o.to_bytes() for o in out)
        if observer and queue:
            delivered_round += 1
            observer("round", delivered_round)
    for m in machines.values():
        if m.error is not None:
            raise m.error
    unfinished = [i for i, m in machines.items() if not m.done]
    if unfinished:
        raise UsageError(f"parties {unfinished} did not finish (missing messages)")
    return {i: m.result for i, m in machines.items()}


def _sid(session_id: bytes | None) -> bytes:
    return session_id if session_id is not None else os.urandom(32)


def simulate_keygen(threshold: int, parties: int, *, level: SecurityLevel | str = STANDARD,
                    session_id: bytes | None = None, rng: Rng | None = None,
                    paillier_keys: Sequence[PaillierSecretKey] | None = None,
                    observer: Observer | None = None) -> list[KeyShare]:
    """A t-of-n key generation with every party in this process. Returns shares in index order.

    ``paillier_keys`` (one per party) skips prime generation, for tests with cached keys.
    """
    if paillier_keys is not None and len(paillier_keys) != parties:
        raise UsageError("need one Paillier key per party")
    sid = _sid(session_id)
    machines = {
        i: Keygen(i, threshold, parties, sid, level=level, rng=_fork(rng, f"keygen-{i}"),
                  paillier_key=None if paillier_keys is None else paillier_keys[i])
        for i in range(parties)
    }
    out = run(machines, shuffle=_shuffler(rng), observer=observer)
    return [out[i] for i in range(parties)]  # type: ignore[misc]


def _check_signing_shares(shares: Sequence[KeyShare]) -> None:
    if not shares:
        raise UsageError("no shares given")
    if any(not isinstance(s, KeyShare) for s in shares):
        raise UsageError("shares must be KeyShare objects")
    first = shares[0]
    if any(s.public_key != first.public_key for s in shares):
        raise UsageError("the shares belong to different keys")
    if any(s.epoch != first.epoch for s in shares):
        raise UsageError("the shares are of different epochs (refresh mixes old and new shares)")
    if any(s.sharing_id != first.sharing_id for s in shares):
        raise UsageError("the shares come from different sharings of the key (e.g. two runs of "
                         "a refresh): use shares of one run")
    if len({s.index for s in shares}) != len(shares):
        raise UsageError("two shares have the same index")
    for s in shares:
        if not s.can_sign:
            raise UsageError("an imported key share cannot sign before a Refresh or Reshare")
    if len(shares) < first.threshold:
        raise UsageError(f"need at least {first.threshold} shares to sign, got {len(shares)}")


def simulate_presign(shares: Sequence[KeyShare], *, session_id: bytes | None = None,
                     rng: Rng | None = None, observer: Observer | None = None
                     ) -> list[Presignature]:
    """Presign with these shares (one per signer); returns presignatures in the same order."""
    _check_signing_shares(shares)
    sid = _sid(session_id)
    signers = [s.index for s in shares]
    machines = {s.index: Presign(s, signers, sid, rng=_fork(rng, f"presign-{s.index}"))
                for s in shares}
    out = run(machines, shuffle=_shuffler(rng), observer=observer)
    return [out[s.index] for s in shares]  # type: ignore[misc]


def simulate_sign(shares: Sequence[KeyShare], message_hash: bytes, *,
                  derivation_path: str | None = None, session_id: bytes | None = None,
                  rng: Rng | None = None, observer: Observer | None = None) -> Signature:
    """Presign and sign ``message_hash`` (32 bytes) with these shares; returns the signature."""
    if not isinstance(message_hash, (bytes, bytearray)) or len(message_hash) != 32:
        raise UsageError("message_hash must be 32 bytes (hash the message first)")
    presigs = simulate_presign(shares, session_id=session_id, rng=rng, observer=observer)
    return sign_with_presignatures(presigs, message_hash, derivation_path=derivation_path,
                                   rng=rng)


def sign_with_presignatures(presigs: Sequence[Presignature], message_hash: bytes, *,
                            derivation_path: str | None = None,
                            rng: Rng | None = None) -> Signature:
    """The online round for presignatures made together."""
    machines = {p.index: Sign(p, message_hash, derivation_path=derivation_path)
                for p in presigs}
    out = run(machines, shuffle=_shuffler(rng))
    sigs = list(out.values())
    return sigs[0]  # type: ignore[return-value]


def _fork(rng: Rng | None, label: str) -> Rng | None:
    return rng.fork(label) if isinstance(rng, SeededRng) else rng


def _shuffler(rng: Rng | None) -> random.Random:
    if isinstance(rng, SeededRng):
        return random.Random(rng.bytes(16))
    return random.Random()


def _check_one_key(shares: Sequence[KeyShare]) -> None:
    if not shares:
        raise UsageError("no shares given")
    if any(not isinstance(s, KeyShare) for s in shares):
        raise UsageError("shares must be KeyShare objects")
    first = shares[0]
    for s in shares:
        if (s.public_key != first.public_key or s.public_shares != first.public_shares
                or s.points != first.points or s.threshold != first.threshold):
            raise UsageError("the shares belong to different keys")
        if s.epoch != first.epoch:
            raise UsageError("the shares are of different epochs")
    if len({s.index for s in shares}) != len(shares):
        raise UsageError("two shares have the same index")


def simulate_refresh(shares: Sequence[KeyShare], *, session_id: bytes | None = None,
                     rng: Rng | None = None,
                     paillier_keys: Sequence[PaillierSecretKey] | None = None,
                     observer: Observer | None = None) -> list[KeyShare]:
    """Refresh all shares of a key (every party takes part); returns new shares, same order.
    The old shares are not modified."""
    _check_one_key(shares)
    if len(shares) != shares[0].parties:
        raise UsageError("a refresh needs the shares of every party of the key")
    if paillier_keys is not None and len(paillier_keys) != len(shares):
        raise UsageError("need one Paillier key per party")
    sid = _sid(session_id)
    machines = {
        s.index: Refresh(s, sid, rng=_fork(rng, f"refresh-{s.index}"),
                         paillier_key=None if paillier_keys is None else paillier_keys[k])
        for k, s in enumerate(shares)
    }
    out = run(machines, shuffle=_shuffler(rng), observer=observer)
    return [out[s.index] for s in shares]  # type: ignore[misc]


def simulate_reshare(shares: Sequence[KeyShare], new_threshold: int, new_parties: int, *,
                     session_id: bytes | None = None, rng: Rng | None = None,
                     paillier_keys: Sequence[PaillierSecretKey] | None = None,
                     observer: Observer | None = None) -> list[KeyShare]:
    """Reshare the key of ``shares`` (at least its threshold of them: the old committee) to
    ``new_threshold``-of-``new_parties``; returns the new shares, index order. The old shares are
    not modified; a failure leaves them valid."""
    _check_one_key(shares)
    if paillier_keys is not None and len(paillier_keys) != new_parties:
        raise UsageError("need one Paillier key per new party")
    sid = _sid(session_id)
    info = shares[0].public_info()
    old = [s.index for s in shares]
    machines: dict[int, RoundMachine] = {}
    for s in shares:
        machines[s.index] = Reshare(sid, old_parties=old, new_threshold=new_threshold,
                                    new_parties=new_parties, old_share=s,
                                    rng=_fork(rng, f"reshare-old-{s.index}"))
    for j in range(new_parties):
        machines[NEW_MEMBER_BASE + j] = Reshare(
            sid, old_parties=old, new_threshold=new_threshold, new_parties=new_parties,
            new_index=j, key_info=info, rng=_fork(rng, f"reshare-new-{j}"),
            paillier_key=None if paillier_keys is None else paillier_keys[j])
    out = run(machines, shuffle=_shuffler(rng), observer=observer)
    return [out[NEW_MEMBER_BASE + j] for j in range(new_parties)]  # type: ignore[misc]
