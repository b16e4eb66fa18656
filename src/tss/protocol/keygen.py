"""Distributed key generation with auxiliary information, in three message rounds.

Round 1 (broadcast): a hash commitment to this party's Feldman commitments, chain-code share,
    Paillier modulus and ring-Pedersen parameters.
Round 2 (broadcast): echo of every round-1 broadcast; the opening; Πsch for the constant term;
    Πmod for the Paillier-Blum modulus; Πprm for the ring-Pedersen parameters.
    (point-to-point): the Feldman share f_i(x_j).
Round 3 (broadcast): echo of every round-2 broadcast; Πsch for the final share x_i.
    (point-to-point): Πfac for this party's modulus, against the recipient's ring-Pedersen.
Output: a KeyShare.

Each party's modulus N_i = p_i q_i (two safe primes) is both its Paillier key and its
ring-Pedersen modulus (t = r^2, s = t^lambda).
"""

from __future__ import annotations

import hashlib

from ..commitments import commit, verify_commitment
from ..curve import Q, point_sum
from ..errors import DecodeError, UsageError
from ..paillier import (
    PaillierSecretKey,
    RingPedersen,
    generate_keypair,
    ring_pedersen_from,
    validate_public_modulus,
)
from ..params import STANDARD, SecurityLevel, level_by_name
from ..randomness import Rng, resolve
from ..shares import KeyShare
from ..vss import commitment_at, deal, verify_share
from ..zk import fac, mod, prm, sch
from ..zk._codec import Reader, Writer
from ..zk._common import ProofContext
from .driver import RoundMachine, echo_digests
from .message import Message

__all__ = ["Keygen", "AuxDealing", "echo_digests"]


class AuxDealing(RoundMachine):
    """The three rounds shared by keygen and refresh: every party deals a Feldman sharing and
    proves a fresh Paillier-Blum modulus with its ring-Pedersen parameters. Subclasses choose
    the dealt secret and how the result is assembled."""

    ROUNDS = {1: (True, False), 2: (True, True), 3: (True, True)}

    def _setup(self, index: int, threshold: int, parties: int, points: tuple[int, ...],
               session_id: bytes, level: SecurityLevel | str, rng: Rng | None,
               paillier_key: PaillierSecretKey | None) -> None:
        super().__init__(index, range(parties), session_id)
        self.level = level_by_name(level)
        self.threshold = threshold
        self.parties = parties
        self.points = points
        self._rng = resolve(rng)
        if paillier_key is not None and paillier_key.n.bit_length() != self.level.paillier_bits:
            raise UsageError("the Paillier key does not match the security level")
        self._sk = paillier_key
        # filled in as the rounds go
        self._commitments: dict[int, bytes] = {}
        self._r1_payloads: dict[int, bytes] = {}
        self._r2_payloads: dict[int, bytes] = {}
        self._opened: dict[int, tuple] = {}

    def _ctx(self, prover: int, round: int) -> ProofContext:
        return ProofContext(self._context_id(), prover, self.level, round)

    # ---------------------------------------------------------------- hooks
    def _context_id(self) -> bytes:
        return self.session_id

    def _dealt_secret(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prove_constant(self, ctx: ProofContext) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def _verify_constant(self, j: int, A0, proof: bytes) -> None:  # pragma: no cover
        raise NotImplementedError

    def _assemble(self, share_sum: int, commitments: list) -> tuple:  # pragma: no cover
        """Return (x_i, public shares X_k, public key, chain code)."""
        raise NotImplementedError

    def _make_share(self, x: int, X: tuple, Y, chain: bytes, moduli: tuple, rps: tuple):
        raise NotImplementedError  # pragma: no cover

    # ---------------------------------------------------------------- round 1
    def _start(self) -> list[Message]:
        rng = self._rng
        if self._sk is None:
            self._sk = generate_keypair(self.level, rng)
        self._rp = ring_pedersen_from(self._sk, rng)
        self._u = self._dealt_secret()
        self._A, shares = deal(self._u, self.threshold, self.points, rng)
        self._my_shares = dict(zip(range(self.parties), shares))
        self._chain = rng.bytes(32)
        rp = self._rp.params
        self._V, self._rho = commit(self.PROTOCOL, self._context_id(), self.index,
                                    [list(self._A), self._chain, rp.n, rp.s, rp.t], rng)
        payload = Writer().raw(self._V).getvalue()
        self._r1_payloads[self.index] = payload
        return [self.broadcast(payload)]

    # ---------------------------------------------------------------- round 2
    def _round_1(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        for j, payload in bcast.items():
            if len(payload) != 32:
                self._abort([j], 1, "round-1 commitment must be 32 bytes")
            self._commitments[j] = payload
            self._r1_payloads[j] = payload
        rng = self._rng
        ctx = self._ctx(self.index, 2)
        rp = self._rp.params
        w = Writer()
        w.raw(echo_digests(self.session_id, 1, self._r1_payloads))
        w.points(list(self._A)).raw(self._chain).raw(self._rho)
        w.int(rp.n).int(rp.s).int(rp.t)
        w.blob(self._prove_constant(ctx))
        w.blob(mod.prove(ctx, mod.Statement(rp.n), mod.Witness(self._sk), rng).to_bytes())
        w.blob(prm.prove(ctx, prm.Statement(rp), prm.Witness(self._rp, self._sk), rng).to_bytes())
        payload = w.getvalue()
        self._r2_payloads[self.index] = payload
        out = [self.broadcast(payload)]
        for j in self.peers:
            out.append(self.send(j, self._my_shares[j].to_bytes(32, "big")))
        return out

    # ---------------------------------------------------------------- round 3

    def _round_2(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        t, n = self.threshold, self.parties
        echo_len = 32 * n
        for j in self.peers:
            payload = bcast[j]
            self._r2_payloads[j] = payload
            with self._blame(j, "round 2"):
                r = Reader(payload)
                echo = r.raw(echo_len)
                A = r.points(t, allow_identity=True)
                chain = r.raw(32)
                rho = r.raw(32)
                N, s, tt = r.int(), r.int(), r.int()
                constant_proof = r.blob()
                mod_p = mod.Proof.from_bytes(r.blob(), self.level)
                prm_p = prm.Proof.from_bytes(r.blob(), self.level)
                r.end()
            self._check_echo(j, echo, self._r1_payloads, 1)
            rp = RingPedersen(N, s, tt)
            if not verify_commitment(self._commitments[j], self.PROTOCOL, self._context_id(), j,
                                     [list(A), chain, N, s, tt], rho):
                self._abort([j], 2, "opening does not match the round-1 commitment")
            ctx = self._ctx(j, 2)
            with self._blame(j, "round 2"):
                if any(a.is_identity for a in A[1:]):
                    raise DecodeError("a Feldman commitment is the identity")
                validate_public_modulus(N, self.level)
                rp.validate()
                self._verify_constant(j, A[0], constant_proof)
                mod.verify(ctx, mod.Statement(N), mod_p)
                prm.verify(ctx, prm.Statement(rp), prm_p)
            share_bytes = p2p[j]
            with self._blame(j, "round 2 share"):
                if len(share_bytes) != 32:
                    raise DecodeError("a share is 32 bytes")
                share = int.from_bytes(share_bytes, "big")
            if not verify_share(A, t, self.points[self.index], share):
                self._abort([j], 2, "Feldman share does not match the commitments")
            self._opened[j] = (A, chain, rp, share)
        self._opened[self.index] = (self._A, self._chain, self._rp.params,
                                    self._my_shares[self.index])
        # the moduli must all differ: a copied modulus would share its secret
        moduli = [self._opened[j][2].n for j in range(n)]
        if len(set(moduli)) != n:
            dup = [j for j in self.peers if moduli.count(moduli[j]) > 1]
            self._abort(dup, 2, "Paillier modulus reused from another party")
        share_sum = sum(self._opened[j][3] for j in range(n)) % Q
        commitments = [self._opened[j][0] for j in range(n)]
        self._x, self._X, self._Y, self._chain_code = self._assemble(share_sum, commitments)
        if self._Y.is_identity or any(X.is_identity for X in self._X) or self._x == 0:
            self._abort(self.peers, 2, "degenerate key (identity)")  # pragma: no cover
        rng = self._rng
        ctx = self._ctx(self.index, 3)
        w = Writer()
        w.raw(echo_digests(self.session_id, 2, self._r2_payloads))
        w.blob(sch.prove(ctx, sch.Statement(self._X[self.index]), sch.Witness(self._x),
                         rng).to_bytes())
        out = [self.broadcast(w.getvalue())]
        for j in self.peers:
            proof = fac.prove(ctx, fac.Statement(self._sk.n, self._opened[j][2]),
                              fac.Witness(self._sk), rng)
            out.append(self.send(j, proof.to_bytes()))
        return out

    # ---------------------------------------------------------------- finish
    def _round_3(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        n = self.parties
        my_rp = self._rp.params
        for j in self.peers:
            with self._blame(j, "round 3"):
                r = Reader(bcast[j])
                echo = r.raw(32 * n)
                sch_p = sch.Proof.from_bytes(r.blob())
                r.end()
                fac_p = fac.Proof.from_bytes(p2p[j], self.level)
            self._check_echo(j, echo, self._r2_payloads, 2)
            ctx = self._ctx(j, 3)
            with self._blame(j, "round 3"):
                sch.verify(ctx, sch.Statement(self._X[j]), sch_p)
                fac.verify(ctx, fac.Statement(self._opened[j][2].n, my_rp), fac_p)
        self._finish(self._make_share(self._x, self._X, self._Y, self._chain_code,
                                  tuple(self._opened[j][2].n for j in range(n)),
                                  tuple(self._opened[j][2] for j in range(n))))
        return []


class Keygen(AuxDealing):
    """One party of a t-of-n key generation. ``threshold`` is the number of signers (t)."""

    PROTOCOL = "keygen"

    def __init__(self, index: int, threshold: int, parties: int, session_id: bytes, *,
                 level: SecurityLevel | str = STANDARD, rng: Rng | None = None,
                 paillier_key: PaillierSecretKey | None = None) -> None:
        if not isinstance(parties, int) or not 1 <= parties <= 255:
            raise UsageError("parties must be between 1 and 255")
        if not isinstance(threshold, int) or not 1 <= threshold <= parties:
            raise UsageError("threshold must be between 1 and parties")
        if not isinstance(index, int) or not 0 <= index < parties:
            raise UsageError("index must be in range(parties)")
        self._setup(index, threshold, parties, tuple(i + 1 for i in range(parties)),
                    session_id, level, rng, paillier_key)

    def _dealt_secret(self) -> int:
        return self._rng.scalar(Q)

    def _prove_constant(self, ctx: ProofContext) -> bytes:
        return sch.prove(ctx, sch.Statement(self._A[0]), sch.Witness(self._u),
                         self._rng).to_bytes()

    def _verify_constant(self, j: int, A0, proof: bytes) -> None:
        if A0.is_identity:
            raise DecodeError("the constant commitment is the identity")
        sch.verify(self._ctx(j, 2), sch.Statement(A0), sch.Proof.from_bytes(proof))

    def _assemble(self, share_sum: int, commitments: list) -> tuple:
        X = tuple(point_sum(commitment_at(A, x) for A in commitments) for x in self.points)
        Y = point_sum(A[0] for A in commitments)
        h = hashlib.sha256(b"tss/chain-code" + self.session_id)
        for j in range(self.parties):
            h.update(self._opened[j][1])
        return share_sum, X, Y, h.digest()

    def _make_share(self, x, X, Y, chain, moduli, rps) -> KeyShare:
        return KeyShare(level=self.level, index=self.index, threshold=self.threshold,
                        parties=self.parties, points=self.points, secret_share=x,
                        public_shares=X, public_key_point=Y, chain_code=chain,
                        paillier=self._sk, paillier_moduli=moduli, ring_pedersen=rps)

