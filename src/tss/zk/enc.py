"""Πenc: a Paillier ciphertext K = Enc_{N0}(k; rho) encrypts a small k, |k| <= 2^ell.

CGGMP21 (ePrint 2021/060) Figure 14, made non-interactive with Fiat-Shamir. N0 is the prover's
Paillier modulus; (N^, s, t) are the *verifier's* ring-Pedersen parameters, on which soundness
rests (strong RSA), so one signed challenge e in [-2^128, 2^128] is sound (params.py).

Prover (witness k in ±2^ell, rho in Z*_{N0}):
    alpha <- ±2^(ell+eps), mu <- ±2^ell N^, r <- Z*_{N0}, gamma <- ±2^(ell+eps) N^
    S = s^k t^mu, A = (1+N0)^alpha r^N0 mod N0^2, C = s^alpha t^gamma mod N^
    e from the transcript of (N0, K, N^, s, t, S, A, C)
    z1 = alpha + e k, z2 = r rho^e mod N0, z3 = gamma + e mu
Verifier:
    (1+N0)^z1 z2^N0 == A K^e mod N0^2, s^z1 t^z3 == C S^e mod N^, |z1| <= 2^(ell+eps).

Besides the paper's checks the verifier bounds |z3| <= 2^(ell+eps+1) N^ (every honest z3 meets
it; it keeps a peer from making us exponentiate by huge numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from .. import arith
from ..errors import UsageError
from ..paillier import PaillierPublicKey, PaillierSecretKey, RingPedersen
from ..params import SecurityLevel
from ..randomness import Rng, resolve
from ._codec import Reader, Writer
from ._common import (
    ProofContext,
    check,
    in_signed_range,
    is_int,
    is_unit,
    read_signed,
    read_unsigned,
    signed_below,
)

TAG = "enc"

__all__ = ["TAG", "Statement", "Witness", "Proof", "prove", "verify"]


@dataclass(frozen=True, slots=True)
class Statement:
    """pk0: the prover's Paillier key; K: the ciphertext; rp: the verifier's ring-Pedersen."""

    pk0: PaillierPublicKey
    K: int
    rp: RingPedersen


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    """k in ±2^ell and rho with K = (1+N0)^k rho^N0 mod N0^2; sk: the prover's secret key for
    N0, optional (the prover then exponentiates by CRT)."""

    k: int
    rho: int
    sk: PaillierSecretKey | None = None

    def __repr__(self) -> str:
        return "Witness(<secret>)"


@dataclass(frozen=True, slots=True)
class Proof:
    S: int
    A: int
    C: int
    z1: int
    z2: int
    z3: int

    def to_bytes(self) -> bytes:
        w = Writer()
        for v in (self.S, self.A, self.C, self.z1, self.z2, self.z3):
            w.int(v)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, level: SecurityLevel) -> Proof:
        nb = level.paillier_bits
        r = Reader(data)
        S = _unsigned(r, nb, "S")
        A = _unsigned(r, 2 * nb, "A")
        C = _unsigned(r, nb, "C")
        z1 = _signed(r, 2 * nb, "z1")
        z2 = _unsigned(r, nb, "z2")
        z3 = _signed(r, 2 * nb, "z3")
        r.end()
        return cls(S, A, C, z1, z2, z3)


_unsigned = partial(read_unsigned, proof="Πenc")
_signed = partial(read_signed, proof="Πenc")
_is_unit = is_unit
_signed_below = signed_below


def _challenge(ctx: ProofContext, stmt: Statement, S: int, A: int, C: int) -> int:
    t = ctx.transcript(TAG)
    t.append("N0", stmt.pk0.n).append("K", stmt.K)
    t.append("Nhat", stmt.rp.n).append("s", stmt.rp.s).append("t", stmt.rp.t)
    t.append("S", S).append("A", A).append("C", C)
    return t.challenge_signed(ctx.level.challenge_bits)


def prove(ctx: ProofContext, stmt: Statement, wit: Witness, rng: Rng | None = None) -> Proof:
    rng = resolve(rng)
    level = ctx.level
    ell, eps = level.ell, level.epsilon
    n0, n0sq = stmt.pk0.n, stmt.pk0.n2
    nh, s, t = stmt.rp.n, stmt.rp.s, stmt.rp.t
    sk = wit.sk
    if sk is not None and sk.n != n0:
        raise UsageError("Πenc: the secret key does not match the statement's modulus")
    if not in_signed_range(wit.k, ell):
        raise UsageError("Πenc: the witness k is out of range")
    if not _is_unit(wit.rho, n0):
        raise UsageError("Πenc: the witness rho is not in Z*_N0")

    alpha = rng.signed(ell + eps)
    mu = _signed_below(rng, (1 << ell) * nh)
    r = rng.unit(n0)
    gamma = _signed_below(rng, (1 << (ell + eps)) * nh)

    # secret exponents over the verifier's modulus (factors unknown): constant time, from the
    # fixed-base tables kept for the verifier's s and t
    S = arith.multi_powmod_fixed_sec([s, t], [wit.k, mu], nh)
    C = arith.multi_powmod_fixed_sec([s, t], [alpha, gamma], nh)
    # (1+N0)^alpha = 1 + alpha N0 mod N0^2; r^N0 has a secret base
    rn = sk.powmod_n2(r, n0) if sk is not None else arith.powmod_sec(r, n0, n0sq)
    A = (1 + (alpha % n0) * n0) * rn % n0sq

    e = _challenge(ctx, stmt, S, A, C)
    z1 = alpha + e * wit.k
    rho_e = sk.powmod_n(wit.rho, e) if sk is not None else arith.powmod_sec(wit.rho, e, n0)
    z2 = r * rho_e % n0
    z3 = gamma + e * mu
    return Proof(S, A, C, z1, z2, z3)


def verify(ctx: ProofContext, stmt: Statement, proof: Proof) -> None:
    level = ctx.level
    ell, eps = level.ell, level.epsilon
    check(isinstance(proof, Proof), "not a Πenc proof", TAG)
    n0, nh = stmt.pk0.n, stmt.rp.n
    check(n0.bit_length() == level.paillier_bits, "prover modulus N0 has the wrong size", TAG)
    check(nh.bit_length() == level.paillier_bits, "ring-Pedersen modulus has the wrong size", TAG)
    n0sq = n0 * n0
    s, t = stmt.rp.s, stmt.rp.t
    check(_is_unit(s, nh) and _is_unit(t, nh), "ring-Pedersen s, t not in Z*_Nhat", TAG)
    check(_is_unit(stmt.K, n0sq), "statement K not in Z*_N0^2", TAG)
    check(_is_unit(proof.S, nh), "S not in Z*_Nhat", TAG)
    check(_is_unit(proof.A, n0sq), "A not in Z*_N0^2", TAG)
    check(_is_unit(proof.C, nh), "C not in Z*_Nhat", TAG)
    check(_is_unit(proof.z2, n0), "z2 not in Z*_N0", TAG)
    check(is_int(proof.z1) and in_signed_range(proof.z1, ell + eps), "z1 out of range", TAG)
    check(is_int(proof.z3) and abs(proof.z3) <= (nh << (ell + eps + 1)), "z3 out of range", TAG)

    e = _challenge(ctx, stmt, proof.S, proof.A, proof.C)
    # (1+N0)^z1 z2^N0 K^-e == A mod N0^2
    lhs = (1 + (proof.z1 % n0) * n0) * arith.multi_powmod([proof.z2, stmt.K], [n0, -e], n0sq)
    check(lhs % n0sq == proof.A, "Paillier equation fails", TAG)
    # s^z1 t^z3 S^-e == C mod N^ (s, t: the verifier's own, with kept fixed-base tables)
    rp = arith.multi_powmod_fixed([s, t], [proof.z1, proof.z3], nh)
    rp = rp * arith.powmod(proof.S, -e, nh) % nh
    check(rp == proof.C, "ring-Pedersen equation fails", TAG)
