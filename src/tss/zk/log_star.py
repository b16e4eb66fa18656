"""Πlog*: the plaintext x of C = Enc_{N0}(x; rho) is small and is the discrete log of X to base g.

CGGMP21 (ePrint 2021/060) Figure 25, made non-interactive with Fiat-Shamir. N0 is the prover's
Paillier modulus, g a point (G, or R in signing), (N^, s, t) the *verifier's* ring-Pedersen
parameters. One signed challenge e in [-2^128, 2^128].

Prover (witness x in ±2^ell, rho in Z*_{N0}):
    alpha <- ±2^(ell+eps), mu <- ±2^ell N^, r <- Z*_{N0}, gamma <- ±2^(ell+eps) N^
    S = s^x t^mu, A = (1+N0)^alpha r^N0 mod N0^2, Y = alpha g, D = s^alpha t^gamma mod N^
    e from the transcript of (N0, C, X, g, N^, s, t, S, A, Y, D)
    z1 = alpha + e x, z2 = r rho^e mod N0, z3 = gamma + e mu
Verifier:
    (1+N0)^z1 z2^N0 == A C^e mod N0^2, z1 g == Y + e X, s^z1 t^z3 == D S^e mod N^,
    |z1| <= 2^(ell+eps).

Beyond the paper the verifier rejects g, X and Y at the identity (g = identity would make the
group equation trivial; x = 0 mod q is no input of the protocol; Y is the identity with
probability 2^-256) and bounds |z3| <= 2^(ell+eps+1) N^ (met by every honest proof).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from .. import arith
from ..curve import G, Point
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

TAG = "log_star"

__all__ = ["TAG", "Statement", "Witness", "Proof", "prove", "verify"]


@dataclass(frozen=True, slots=True)
class Statement:
    """pk0: the prover's Paillier key; C = Enc_{N0}(x); X = x g; rp: the verifier's
    ring-Pedersen parameters; g: the base point (G by default, R in signing)."""

    pk0: PaillierPublicKey
    C: int
    X: Point
    rp: RingPedersen
    g: Point = G
    #: bits of the range of x; 0 means the level's ell. Presigning proves the plaintexts of
    #: delta_i and chi_i, sums of MtA shares, with a wider range (see protocol/presign.py).
    x_bits: int = 0

    def range_bits(self, level: SecurityLevel) -> int:
        return self.x_bits or level.ell


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    """x in ±2^ell and rho with C = (1+N0)^x rho^N0 mod N0^2, X = x g; sk: the prover's secret
    key for N0, optional (CRT)."""

    x: int
    rho: int
    sk: PaillierSecretKey | None = None

    def __repr__(self) -> str:
        return "Witness(<secret>)"


@dataclass(frozen=True, slots=True)
class Proof:
    S: int
    A: int
    Y: Point
    D: int
    z1: int
    z2: int
    z3: int

    def to_bytes(self) -> bytes:
        w = Writer().int(self.S).int(self.A).point(self.Y)
        for v in (self.D, self.z1, self.z2, self.z3):
            w.int(v)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, level: SecurityLevel) -> Proof:
        nb = level.paillier_bits
        r = Reader(data)
        S = _unsigned(r, nb, "S")
        A = _unsigned(r, 2 * nb, "A")
        Y = r.point()
        D = _unsigned(r, nb, "D")
        z1 = _signed(r, 2 * nb, "z1")
        z2 = _unsigned(r, nb, "z2")
        z3 = _signed(r, 2 * nb, "z3")
        r.end()
        return cls(S, A, Y, D, z1, z2, z3)


_unsigned = partial(read_unsigned, proof="Πlog*")
_signed = partial(read_signed, proof="Πlog*")
_is_unit = is_unit
_signed_below = signed_below


def _challenge(ctx: ProofContext, stmt: Statement, S: int, A: int, Y: Point, D: int) -> int:
    t = ctx.transcript(TAG)
    t.append("N0", stmt.pk0.n).append("C", stmt.C).append("X", stmt.X).append("g", stmt.g)
    t.append("x_bits", stmt.range_bits(ctx.level))
    t.append("Nhat", stmt.rp.n).append("s", stmt.rp.s).append("t", stmt.rp.t)
    t.append("S", S).append("A", A).append("Y", Y).append("D", D)
    return t.challenge_signed(ctx.level.challenge_bits)


def prove(ctx: ProofContext, stmt: Statement, wit: Witness, rng: Rng | None = None) -> Proof:
    rng = resolve(rng)
    level = ctx.level
    ell, eps = stmt.range_bits(level), level.epsilon
    n0, n0sq = stmt.pk0.n, stmt.pk0.n2
    nh, s, t = stmt.rp.n, stmt.rp.s, stmt.rp.t
    sk = wit.sk
    if sk is not None and sk.n != n0:
        raise UsageError("Πlog*: the secret key does not match the statement's modulus")
    if not in_signed_range(wit.x, ell):
        raise UsageError("Πlog*: the witness x is out of range")
    if not _is_unit(wit.rho, n0):
        raise UsageError("Πlog*: the witness rho is not in Z*_N0")
    if stmt.g.is_identity:
        raise UsageError("Πlog*: the base point is the identity")

    alpha = rng.signed(ell + eps)
    mu = _signed_below(rng, (1 << ell) * nh)
    r = rng.unit(n0)
    gamma = _signed_below(rng, (1 << (ell + eps)) * nh)

    # secret exponents over the verifier's modulus: constant time, kept tables for s and t
    S = arith.multi_powmod_fixed_sec([s, t], [wit.x, mu], nh)
    rn = sk.powmod_n2(r, n0) if sk is not None else arith.powmod_sec(r, n0, n0sq)
    A = (1 + (alpha % n0) * n0) * rn % n0sq
    Y = stmt.g * alpha  # libsecp256k1 constant-time multiplication
    D = arith.multi_powmod_fixed_sec([s, t], [alpha, gamma], nh)

    e = _challenge(ctx, stmt, S, A, Y, D)
    z1 = alpha + e * wit.x
    rho_e = sk.powmod_n(wit.rho, e) if sk is not None else arith.powmod_sec(wit.rho, e, n0)
    z2 = r * rho_e % n0
    z3 = gamma + e * mu
    return Proof(S, A, Y, D, z1, z2, z3)


def verify(ctx: ProofContext, stmt: Statement, proof: Proof) -> None:
    level = ctx.level
    check(isinstance(proof, Proof), "not a Πlog* proof", TAG)
    check(is_int(stmt.x_bits) and (stmt.x_bits == 0 or level.ell <= stmt.x_bits
                                   <= level.paillier_bits // 2 + level.ell),
          "range of x out of bounds", TAG)
    ell, eps = stmt.range_bits(level), level.epsilon
    n0, nh = stmt.pk0.n, stmt.rp.n
    check(n0.bit_length() == level.paillier_bits, "prover modulus N0 has the wrong size", TAG)
    check(nh.bit_length() == level.paillier_bits, "ring-Pedersen modulus has the wrong size", TAG)
    n0sq = n0 * n0
    s, t = stmt.rp.s, stmt.rp.t
    check(_is_unit(s, nh) and _is_unit(t, nh), "ring-Pedersen s, t not in Z*_Nhat", TAG)
    check(_is_unit(stmt.C, n0sq), "statement C not in Z*_N0^2", TAG)
    check(isinstance(stmt.g, Point) and not stmt.g.is_identity, "base point g is the identity",
          TAG)
    check(isinstance(stmt.X, Point) and not stmt.X.is_identity, "statement X is the identity",
          TAG)
    check(_is_unit(proof.S, nh), "S not in Z*_Nhat", TAG)
    check(_is_unit(proof.A, n0sq), "A not in Z*_N0^2", TAG)
    check(isinstance(proof.Y, Point) and not proof.Y.is_identity, "Y is the identity", TAG)
    check(_is_unit(proof.D, nh), "D not in Z*_Nhat", TAG)
    check(_is_unit(proof.z2, n0), "z2 not in Z*_N0", TAG)
    check(is_int(proof.z1) and in_signed_range(proof.z1, ell + eps), "z1 out of range", TAG)
    check(is_int(proof.z3) and abs(proof.z3) <= (nh << (ell + eps + 1)), "z3 out of range", TAG)

    e = _challenge(ctx, stmt, proof.S, proof.A, proof.Y, proof.D)
    # (1+N0)^z1 z2^N0 C^-e == A mod N0^2
    lhs = (1 + (proof.z1 % n0) * n0) * arith.multi_powmod([proof.z2, stmt.C], [n0, -e], n0sq)
    check(lhs % n0sq == proof.A, "Paillier equation fails", TAG)
    # z1 g == Y + e X
    check(stmt.g * proof.z1 == proof.Y + stmt.X * e, "group equation fails", TAG)
    # s^z1 t^z3 S^-e == D mod N^ (s, t: the verifier's own, with kept fixed-base tables)
    rp = arith.multi_powmod_fixed([s, t], [proof.z1, proof.z3], nh)
    rp = rp * arith.powmod(proof.S, -e, nh) % nh
    check(rp == proof.D, "ring-Pedersen equation fails", TAG)
