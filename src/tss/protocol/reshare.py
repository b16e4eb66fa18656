"""Resharing: (t, n) -> (t', n') for the same key, old and new committees possibly overlapping.

Each role is its own state machine: an old member (holding a share) and a new member (receiving
one). A party in both committees runs one of each. Party ids on the wire: an old member uses its
old index, a new member ``NEW_MEMBER_BASE + new index``.

Round 1: every old member i broadcasts Feldman commitments to a polynomial of degree t' - 1 whose
    constant is its additive share w_i = lambda_i x_i (so its constant commitment must equal
    W_i = lambda_i X_i, which everyone computes from the key's public shares), and sends each
    new member its share. Every new member broadcasts a fresh Paillier-Blum modulus and
    ring-Pedersen parameters with Πmod and Πprm.
Round 2 (new members): echo of every round-1 broadcast; Πsch for the new share; Πfac per peer.
Round 3 (new members): once every check has passed and the new share is held, an
    acknowledgement: the digest of the new public key data. A new member finishes as it sends it.
Old members compute the same digest from the round-1 broadcasts and finish only when every new
member has acknowledged exactly that digest: only then may they delete their old share
(forget-and-forgive, attack A-16). An acknowledgement can no longer come before its sender holds
its share, and a wrong one names its sender. A failed reshare leaves the old shares valid and
untouched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from ..curve import Q, point_sum
from ..errors import DecodeError, UsageError
from ..paillier import (
    PaillierSecretKey,
    RingPedersen,
    generate_keypair,
    ring_pedersen_from,
    validate_public_modulus,
)
from ..randomness import Rng, resolve
from ..shares import KeyShare, PublicKeyInfo
from ..vss import commitment_at, deal, lagrange_at_zero, verify_share
from ..zk import fac, mod, prm, sch
from ..zk._codec import Reader, Writer
from ..zk._common import ProofContext
from .driver import RoundMachine, echo_digests
from .message import Message

__all__ = ["Reshare", "ReshareReceipt", "NEW_MEMBER_BASE"]

NEW_MEMBER_BASE = 0x8000


@dataclass(frozen=True)
class ReshareReceipt:
    """An old member's result: every new member acknowledged ``ack``; the old share may go."""

    ack: bytes


class Reshare(RoundMachine):
    PROTOCOL = "reshare"
    ROUNDS = {1: (True, True), 2: (True, True), 3: (True, False)}

    def __init__(self, session_id: bytes, *, old_parties: Sequence[int], new_threshold: int,
                 new_parties: int, old_share: KeyShare | None = None,
                 new_index: int | None = None, key_info: PublicKeyInfo | None = None,
                 rng: Rng | None = None, paillier_key: PaillierSecretKey | None = None) -> None:
        if (old_share is None) == (new_index is None):
            raise UsageError("give exactly one of old_share (old member) or new_index "
                             "(new member); a party in both committees runs two machines")
        if old_share is not None:
            if not isinstance(old_share, KeyShare):
                raise UsageError("old_share must be a KeyShare")
            key_info = old_share.public_info()
        if not isinstance(key_info, PublicKeyInfo):
            raise UsageError("a new member needs the key's public info (KeyShare.public_info())")
        if not isinstance(new_parties, int) or not 1 <= new_parties <= 255:
            raise UsageError("new_parties must be between 1 and 255")
        if not isinstance(new_threshold, int) or not 1 <= new_threshold <= new_parties:
            raise UsageError("new_threshold must be between 1 and new_parties")
        old = tuple(sorted(old_parties))
        if len(set(old)) != len(old) or any(
                not isinstance(i, int) or not 0 <= i < key_info.parties for i in old):
            raise UsageError("old parties must be distinct indices of the key")
        if len(old) < key_info.threshold:
            raise UsageError(f"need at least {key_info.threshold} old members, got {len(old)}")
        new_ids = tuple(NEW_MEMBER_BASE + j for j in range(new_parties))
        if old_share is not None:
            if old_share.index not in old:
                raise UsageError("this old member is not among old_parties")
            me = old_share.index
        else:
            if not isinstance(new_index, int) or not 0 <= new_index < new_parties:
                raise UsageError("new_index out of range")
            me = NEW_MEMBER_BASE + new_index
        super().__init__(me, old + new_ids, session_id)
        self.info = key_info
        self.level = key_info.level
        self.old_parties = old
        self.new_ids = new_ids
        self.new_threshold = new_threshold
        self.new_parties = new_parties
        self.new_points = tuple(j + 1 for j in range(new_parties))
        self.old_share = old_share
        self.is_new = old_share is None
        self._rng = resolve(rng)
        if paillier_key is not None and paillier_key.n.bit_length() != self.level.paillier_bits:
            raise UsageError("the Paillier key does not match the security level")
        self._sk = paillier_key
        pts = [key_info.points[i] for i in old]
        self._W = {i: key_info.public_shares[i] * lagrange_at_zero(pts, key_info.points[i])
                   for i in old}
        self._r1: dict[int, bytes] = {}

    # ---------------------------------------------------------------- roles
    def _expected(self, r: int) -> list[tuple[int, bool]]:
        others_new = [j for j in self.new_ids if j != self.index]
        others_old = [i for i in self.old_parties if i != self.index]
        if not self.is_new:
            if r == 1:
                return [(i, True) for i in others_old] + [(j, True) for j in self.new_ids]
            return [(j, True) for j in self.new_ids] if r == 3 else []
        if r == 1:
            return ([(i, True) for i in self.old_parties] + [(i, False) for i in self.old_parties]
                    + [(j, True) for j in others_new])
        if r == 2:
            return [(j, True) for j in others_new] + [(j, False) for j in others_new]
        return []

    def _wants(self, message: Message) -> bool:
        if not self.is_new:
            return message.round == 3 or (message.round == 1 and message.is_broadcast)
        return message.round in (1, 2)

    def _context_id(self) -> bytes:
        h = hashlib.sha256(b"tss/reshare-context")
        h.update(self.session_id)
        h.update(self.info.public_key_point.to_bytes())
        for X in self.info.public_shares:
            h.update(X.to_bytes())
        h.update(self.info.epoch.to_bytes(4, "big"))
        h.update(bytes([len(self.old_parties)]))
        for i in self.old_parties:
            h.update(i.to_bytes(2, "big"))
        h.update(self.new_threshold.to_bytes(2, "big") + self.new_parties.to_bytes(2, "big"))
        return h.digest()

    def _ctx(self, prover: int, round: int) -> ProofContext:
        return ProofContext(self._context_id(), prover, self.level, round)

    # ---------------------------------------------------------------- round 1
    def _start(self) -> list[Message]:
        rng = self._rng
        if not self.is_new:
            share = self.old_share
            pts = [share.points[i] for i in self.old_parties]
            w = lagrange_at_zero(pts, share.points[share.index]) * share.secret_share % Q
            A, shares = deal(w, self.new_threshold, self.new_points, rng)
            payload = Writer().points(A).getvalue()
            self._r1[self.index] = payload
            out = [self.broadcast(payload)]
            for j, s in zip(self.new_ids, shares):
                out.append(self.send(j, s.to_bytes(32, "big")))
            return out
        if self._sk is None:
            self._sk = generate_keypair(self.level, rng)
        self._rp = ring_pedersen_from(self._sk, rng)
        rp = self._rp.params
        ctx = self._ctx(self.index, 1)
        w = Writer().int(rp.n).int(rp.s).int(rp.t)
        w.blob(mod.prove(ctx, mod.Statement(rp.n), mod.Witness(self._sk), rng).to_bytes())
        w.blob(prm.prove(ctx, prm.Statement(rp), prm.Witness(self._rp, self._sk), rng).to_bytes())
        payload = w.getvalue()
        self._r1[self.index] = payload
        return [self.broadcast(payload)]

    # ---------------------------------------------------------------- round 2
    def _old_member_view(self, bcast: dict[int, bytes]) -> None:
        """An old member computes the digest the new members must acknowledge."""
        commitments = []
        for i in self.old_parties:
            payload = bcast[i] if i != self.index else self._r1.get(i)
            if payload is None:  # pragma: no cover - only a subclass that skips _start's record
                raise UsageError("this old member's own round-1 broadcast was not recorded")
            with self._blame(i, "round 1"):
                r = Reader(payload)
                A = r.points(self.new_threshold, allow_identity=True)
                r.end()
            if A[0] != self._W[i]:
                self._abort([i], 1, "constant commitment is not the member's share of the key")
            commitments.append(A)
        self._X = tuple(point_sum(commitment_at(A, p) for A in commitments)
                        for p in self.new_points)
        self._rps = {}
        for j in self.new_ids:
            with self._blame(j, "round 1"):
                r = Reader(bcast[j])
                self._rps[j] = RingPedersen(r.int(), r.int(), r.int())
        self._ack = self._digest()

    def _round_1(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        if not self.is_new:
            self._old_member_view(bcast)
            return []
        t2 = self.new_threshold
        my_point = self.new_points[self.index - NEW_MEMBER_BASE]
        commitments = []
        total = 0
        for i in self.old_parties:
            self._r1[i] = bcast[i]
            with self._blame(i, "round 1"):
                r = Reader(bcast[i])
                A = r.points(t2, allow_identity=True)
                r.end()
                if len(p2p[i]) != 32:
                    raise DecodeError("a share is 32 bytes")
                s = int.from_bytes(p2p[i], "big")
            if A[0] != self._W[i]:
                self._abort([i], 1, "constant commitment is not the member's share of the key")
            if any(a.is_identity for a in A[1:]) and t2 > 1:
                self._abort([i], 1, "a Feldman commitment is the identity")
            if not verify_share(A, t2, my_point, s):
                self._abort([i], 1, "Feldman share does not match the commitments")
            commitments.append(A)
            total += s
        self._x = total % Q
        self._X = tuple(point_sum(commitment_at(A, p) for A in commitments)
                        for p in self.new_points)
        if point_sum(A[0] for A in commitments) != self.info.public_key_point:
            self._abort([], 1, "constant commitments do not add up to the key")  # pragma: no cover
        self._rps: dict[int, RingPedersen] = {self.index: self._rp.params}
        for j in self.new_ids:
            if j == self.index:
                continue
            self._r1[j] = bcast[j]
            ctx = self._ctx(j, 1)
            with self._blame(j, "round 1"):
                r = Reader(bcast[j])
                N, s_, t_ = r.int(), r.int(), r.int()
                mod_p = mod.Proof.from_bytes(r.blob(), self.level)
                prm_p = prm.Proof.from_bytes(r.blob(), self.level)
                r.end()
                validate_public_modulus(N, self.level)
                rp = RingPedersen(N, s_, t_)
                rp.validate()
                mod.verify(ctx, mod.Statement(N), mod_p)
                prm.verify(ctx, prm.Statement(rp), prm_p)
            self._rps[j] = rp
        moduli = [self._rps[j].n for j in self.new_ids]
        if len(set(moduli)) != len(moduli):
            dup = [j for j in self.new_ids if j != self.index and moduli.count(self._rps[j].n) > 1]
            self._abort(dup, 1, "Paillier modulus reused from another party")
        if self._x == 0 or any(X.is_identity for X in self._X):
            self._abort(self.old_parties, 1, "degenerate new share")  # pragma: no cover
        rng = self._rng
        ctx = self._ctx(self.index, 2)
        w = Writer().raw(echo_digests(self.session_id, 1, self._r1))
        me = self.index - NEW_MEMBER_BASE
        w.blob(sch.prove(ctx, sch.Statement(self._X[me]), sch.Witness(self._x), rng).to_bytes())
        out = [self.broadcast(w.getvalue())]
        for j in self.new_ids:
            if j != self.index:
                proof = fac.prove(ctx, fac.Statement(self._sk.n, self._rps[j]),
                                  fac.Witness(self._sk), rng)
                out.append(self.send(j, proof.to_bytes()))
        return out

    # ---------------------------------------------------------------- round 3
    def _round_2(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        if not self.is_new:
            return []
        echo_len = 32 * len(self.participants)
        for j in self.new_ids:
            if j == self.index:
                continue
            ctx = self._ctx(j, 2)
            with self._blame(j, "round 2"):
                r = Reader(bcast[j])
                echo = r.raw(echo_len)
                sch_p = sch.Proof.from_bytes(r.blob())
                r.end()
                fac_p = fac.Proof.from_bytes(p2p[j], self.level)
            self._check_echo(j, echo, self._r1, 1)
            with self._blame(j, "round 2"):
                sch.verify(ctx, sch.Statement(self._X[j - NEW_MEMBER_BASE]), sch_p)
                fac.verify(ctx, fac.Statement(self._rps[j].n, self._rp.params), fac_p)
        self._ack = self._digest()
        me = self.index - NEW_MEMBER_BASE
        self._finish(KeyShare(
            level=self.level, index=me, threshold=self.new_threshold,
            parties=self.new_parties, points=self.new_points, secret_share=self._x,
            public_shares=self._X, public_key_point=self.info.public_key_point,
            chain_code=self.info.chain_code, paillier=self._sk,
            paillier_moduli=tuple(self._rps[j].n for j in self.new_ids),
            ring_pedersen=tuple(self._rps[j] for j in self.new_ids),
            epoch=self.info.epoch + 1))
        return [self.broadcast(self._ack)]

    def _digest(self) -> bytes:
        h = hashlib.sha256(b"tss/reshare-ack" + self._context_id())
        for X in self._X:
            h.update(X.to_bytes())
        for j in self.new_ids:
            rp = self._rps[j]
            h.update(Writer().int(rp.n).int(rp.s).int(rp.t).getvalue())
        return h.digest()

    # ---------------------------------------------------------------- finish (old members)
    def _round_3(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        bad = [j for j in self.new_ids if bcast[j] != self._ack]
        if bad:
            self._abort(bad, 3, "acknowledged a result other than the one the round-1 "
                                "broadcasts determine; keep the old share")
        self._finish(ReshareReceipt(self._ack))
        return []
