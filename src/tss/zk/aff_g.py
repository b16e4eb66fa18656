"""Πaff-g: an affine operation on a Paillier ciphertext with a group commitment to the multiplier.

CGGMP21 (ePrint 2021/060) Figure 15, made non-interactive with Fiat-Shamir. The prover (Bob in
MtA) knows x in ±2^ell, y in ±2^ell', rho in Z*_{N0}, rho_y in Z*_{N1} with

    D = C^x (1+N0)^y rho^N0 mod N0^2,   Y = (1+N1)^y rho_y^N1 mod N1^2,   X = x G,

where N0 is the *verifier's* Paillier modulus (C, D are under it), N1 the prover's, and
(N^, s, t) the verifier's ring-Pedersen parameters. One signed challenge e in [-2^128, 2^128].

Prover:
    alpha <- ±2^(ell+eps), beta <- ±2^(ell'+eps), r <- Z*_{N0}, r_y <- Z*_{N1},
    gamma, delta <- ±2^(ell+eps) N^, m, mu <- ±2^ell N^
    A = C^alpha (1+N0)^beta r^N0 mod N0^2, Bx = alpha G, By = (1+N1)^beta r_y^N1 mod N1^2,
    E = s^alpha t^gamma, S = s^x t^m, F = s^beta t^delta, T = s^y t^mu mod N^
    e from the transcript of (N0, N1, C, D, Y, X, N^, s, t, A, Bx, By, E, S, F, T)
    z1 = alpha + e x, z2 = beta + e y, z3 = gamma + e m, z4 = delta + e mu,
    w = r rho^e mod N0, w_y = r_y rho_y^e mod N1
Verifier:
    C^z1 (1+N0)^z2 w^N0 == A D^e mod N0^2,  z1 G == Bx + e X,
    (1+N1)^z2 w_y^N1 == By Y^e mod N1^2,  s^z1 t^z3 == E S^e,  s^z2 t^z4 == F T^e mod N^,
    |z1| <= 2^(ell+eps), |z2| <= 2^(ell'+eps).

Beyond the paper the verifier rejects X, Bx at the identity (X = x G with x = 0 mod q is no
MtA input; Bx is the identity with probability 2^-256) and bounds |z3|, |z4| <=
2^(ell+eps+1) N^ (every honest proof meets it; it caps the work a peer can make us do). These
only reject what an honest prover never sends.

MtA sign convention (:func:`mta_response`): Alice sends K = Enc_{N0}(k). Bob draws y in
±2^ell' and answers D = K^x Enc_{N0}(y; rho) = Enc_{N0}(k x + y) and Y = Enc_{N1}(y; rho_y).
Alice decrypts alpha = k x + y (exactly, as an integer: |k x + y| < 2^849 is far below N0/2), Bob
keeps beta = -y, so that alpha + beta = k x over the integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from .. import arith
from ..curve import Point, base_mul
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

TAG = "aff_g"

__all__ = ["TAG", "Statement", "Witness", "Proof", "prove", "verify", "mta_response"]


@dataclass(frozen=True, slots=True)
class Statement:
    """pk0: the verifier's Paillier key (C, D under it); pk1: the prover's (Y under it);
    X = x G; rp: the verifier's ring-Pedersen parameters."""

    pk0: PaillierPublicKey
    pk1: PaillierPublicKey
    C: int
    D: int
    Y: int
    X: Point
    rp: RingPedersen


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    """x in ±2^ell, y in ±2^ell', rho in Z*_{N0}, rho_y in Z*_{N1}; sk: the prover's secret key
    for N1, optional (the N1 parts are then computed by CRT)."""

    x: int
    y: int
    rho: int
    rho_y: int
    sk: PaillierSecretKey | None = None

    def __repr__(self) -> str:
        return "Witness(<secret>)"


@dataclass(frozen=True, slots=True)
class Proof:
    A: int
    Bx: Point
    By: int
    E: int
    S: int
    F: int
    T: int
    z1: int
    z2: int
    z3: int
    z4: int
    w: int
    wy: int

    def to_bytes(self) -> bytes:
        wr = Writer().int(self.A).point(self.Bx).int(self.By)
        for v in (self.E, self.S, self.F, self.T, self.z1, self.z2, self.z3, self.z4, self.w,
                  self.wy):
            wr.int(v)
        return wr.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, level: SecurityLevel) -> Proof:
        nb = level.paillier_bits
        r = Reader(data)
        A = _unsigned(r, 2 * nb, "A")
        Bx = r.point()
        By = _unsigned(r, 2 * nb, "By")
        E = _unsigned(r, nb, "E")
        S = _unsigned(r, nb, "S")
        F = _unsigned(r, nb, "F")
        T = _unsigned(r, nb, "T")
        z1 = _signed(r, 2 * nb, "z1")
        z2 = _signed(r, 2 * nb, "z2")
        z3 = _signed(r, 2 * nb, "z3")
        z4 = _signed(r, 2 * nb, "z4")
        w = _unsigned(r, nb, "w")
        wy = _unsigned(r, nb, "wy")
        r.end()
        return cls(A, Bx, By, E, S, F, T, z1, z2, z3, z4, w, wy)


_unsigned = partial(read_unsigned, proof="Πaff-g")
_signed = partial(read_signed, proof="Πaff-g")
_is_unit = is_unit
_signed_below = signed_below


def _challenge(ctx: ProofContext, stmt: Statement, A: int, Bx: Point, By: int, E: int, S: int,
               F: int, T: int) -> int:
    t = ctx.transcript(TAG)
    t.append("N0", stmt.pk0.n).append("N1", stmt.pk1.n)
    t.append("C", stmt.C).append("D", stmt.D).append("Y", stmt.Y).append("X", stmt.X)
    t.append("Nhat", stmt.rp.n).append("s", stmt.rp.s).append("t", stmt.rp.t)
    t.append("A", A).append("Bx", Bx).append("By", By)
    t.append("E", E).append("S", S).append("F", F).append("T", T)
    return t.challenge_signed(ctx.level.challenge_bits)


def prove(ctx: ProofContext, stmt: Statement, wit: Witness, rng: Rng | None = None) -> Proof:
    rng = resolve(rng)
    level = ctx.level
    ell, lp, eps = level.ell, level.ell_prime, level.epsilon
    n0, n0sq = stmt.pk0.n, stmt.pk0.n2
    n1, n1sq = stmt.pk1.n, stmt.pk1.n2
    nh, s, t = stmt.rp.n, stmt.rp.s, stmt.rp.t
    sk = wit.sk
    if sk is not None and sk.n != n1:
        raise UsageError("Πaff-g: the secret key does not match the prover's modulus N1")
    if not in_signed_range(wit.x, ell):
        raise UsageError("Πaff-g: the witness x is out of range")
    if not in_signed_range(wit.y, lp):
        raise UsageError("Πaff-g: the witness y is out of range")
    if not _is_unit(wit.rho, n0) or not _is_unit(wit.rho_y, n1):
        raise UsageError("Πaff-g: the witness randomness is not a unit")
    if not _is_unit(stmt.C, n0sq):
        raise UsageError("Πaff-g: C is not in Z*_N0^2")

    alpha = rng.signed(ell + eps)
    beta = rng.signed(lp + eps)
    r = rng.unit(n0)
    r_y = rng.unit(n1)
    gamma = _signed_below(rng, (1 << (ell + eps)) * nh)
    m = _signed_below(rng, (1 << ell) * nh)
    delta = _signed_below(rng, (1 << (ell + eps)) * nh)
    mu = _signed_below(rng, (1 << ell) * nh)

    # N0 is the verifier's modulus: constant time, no CRT. (1+N0)^beta = 1 + beta N0.
    A = arith.multi_powmod_sec([stmt.C, r], [alpha, n0], n0sq)
    A = A * (1 + (beta % n0) * n0) % n0sq
    Bx = base_mul(alpha)
    ryn = sk.powmod_n2(r_y, n1) if sk is not None else arith.powmod_sec(r_y, n1, n1sq)
    By = (1 + (beta % n1) * n1) * ryn % n1sq
    # secret exponents over the verifier's modulus: constant time, kept tables for s and t
    fixed_sec = arith.multi_powmod_fixed_sec
    E = fixed_sec([s, t], [alpha, gamma], nh)
    S = fixed_sec([s, t], [wit.x, m], nh)
    F = fixed_sec([s, t], [beta, delta], nh)
    T = fixed_sec([s, t], [wit.y, mu], nh)

    e = _challenge(ctx, stmt, A, Bx, By, E, S, F, T)
    z1 = alpha + e * wit.x
    z2 = beta + e * wit.y
    z3 = gamma + e * m
    z4 = delta + e * mu
    w = r * arith.powmod_sec(wit.rho, e, n0) % n0
    rye = sk.powmod_n(wit.rho_y, e) if sk is not None else arith.powmod_sec(wit.rho_y, e, n1)
    wy = r_y * rye % n1
    return Proof(A, Bx, By, E, S, F, T, z1, z2, z3, z4, w, wy)


def verify(ctx: ProofContext, stmt: Statement, proof: Proof) -> None:
    level = ctx.level
    ell, lp, eps = level.ell, level.ell_prime, level.epsilon
    check(isinstance(proof, Proof), "not a Πaff-g proof", TAG)
    n0, n1, nh = stmt.pk0.n, stmt.pk1.n, stmt.rp.n
    check(n0.bit_length() == level.paillier_bits, "verifier modulus N0 has the wrong size", TAG)
    check(n1.bit_length() == level.paillier_bits, "prover modulus N1 has the wrong size", TAG)
    check(nh.bit_length() == level.paillier_bits, "ring-Pedersen modulus has the wrong size", TAG)
    n0sq, n1sq = n0 * n0, n1 * n1
    s, t = stmt.rp.s, stmt.rp.t
    check(_is_unit(s, nh) and _is_unit(t, nh), "ring-Pedersen s, t not in Z*_Nhat", TAG)
    check(_is_unit(stmt.C, n0sq), "statement C not in Z*_N0^2", TAG)
    check(_is_unit(stmt.D, n0sq), "statement D not in Z*_N0^2", TAG)
    check(_is_unit(stmt.Y, n1sq), "statement Y not in Z*_N1^2", TAG)
    check(isinstance(stmt.X, Point) and not stmt.X.is_identity, "statement X is the identity",
          TAG)
    check(_is_unit(proof.A, n0sq), "A not in Z*_N0^2", TAG)
    check(isinstance(proof.Bx, Point) and not proof.Bx.is_identity, "Bx is the identity", TAG)
    check(_is_unit(proof.By, n1sq), "By not in Z*_N1^2", TAG)
    check(_is_unit(proof.E, nh), "E not in Z*_Nhat", TAG)
    check(_is_unit(proof.S, nh), "S not in Z*_Nhat", TAG)
    check(_is_unit(proof.F, nh), "F not in Z*_Nhat", TAG)
    check(_is_unit(proof.T, nh), "T not in Z*_Nhat", TAG)
    check(_is_unit(proof.w, n0), "w not in Z*_N0", TAG)
    check(_is_unit(proof.wy, n1), "wy not in Z*_N1", TAG)
    check(is_int(proof.z1) and in_signed_range(proof.z1, ell + eps), "z1 out of range", TAG)
    check(is_int(proof.z2) and in_signed_range(proof.z2, lp + eps), "z2 out of range", TAG)
    bound = nh << (ell + eps + 1)
    check(is_int(proof.z3) and abs(proof.z3) <= bound, "z3 out of range", TAG)
    check(is_int(proof.z4) and abs(proof.z4) <= bound, "z4 out of range", TAG)

    e = _challenge(ctx, stmt, proof.A, proof.Bx, proof.By, proof.E, proof.S, proof.F, proof.T)
    z1, z2 = proof.z1, proof.z2
    # C^z1 (1+N0)^z2 w^N0 D^-e == A mod N0^2
    lhs0 = arith.multi_powmod([stmt.C, proof.w, stmt.D], [z1, n0, -e], n0sq)
    check(lhs0 * (1 + (z2 % n0) * n0) % n0sq == proof.A, "Paillier equation mod N0^2 fails", TAG)
    # z1 G == Bx + e X
    check(base_mul(z1) == proof.Bx + stmt.X * e, "group equation fails", TAG)
    # (1+N1)^z2 w_y^N1 Y^-e == By mod N1^2
    lhs1 = arith.multi_powmod([proof.wy, stmt.Y], [n1, -e], n1sq)
    check(lhs1 * (1 + (z2 % n1) * n1) % n1sq == proof.By, "Paillier equation mod N1^2 fails",
          TAG)
    # s^z1 t^z3 S^-e == E and s^z2 t^z4 T^-e == F mod N^ (s, t: the verifier's own, with kept
    # fixed-base tables)
    lhs_x = arith.multi_powmod_fixed([s, t], [z1, proof.z3], nh)
    check(lhs_x * arith.powmod(proof.S, -e, nh) % nh == proof.E,
          "ring-Pedersen equation for x fails", TAG)
    lhs_y = arith.multi_powmod_fixed([s, t], [z2, proof.z4], nh)
    check(lhs_y * arith.powmod(proof.T, -e, nh) % nh == proof.F,
          "ring-Pedersen equation for y fails", TAG)


def mta_response(ctx: ProofContext, alice_pk: PaillierPublicKey, bob_sk: PaillierSecretKey,
                 K: int, x: int, X: Point, verifier_rp: RingPedersen,
                 rng: Rng | None = None) -> tuple[int, int, int, Proof]:
    """Bob's side of MtA with Πaff-g: returns (D, Y, beta, proof).

    K = Enc_{N0}(k) is Alice's ciphertext under ``alice_pk`` (check its Πenc first), x Bob's
    secret in [0, q) with X = x G, ``verifier_rp`` Alice's ring-Pedersen parameters. Bob draws
    y in ±2^ell' and sends D = K^x Enc_{N0}(y; rho) and Y = Enc_{N1}(y; rho_y) with the proof;
    Alice decrypts alpha = k x + y and Bob keeps beta = -y, so alpha + beta = k x exactly.
    """
    rng = resolve(rng)
    level = ctx.level
    n0, n0sq = alice_pk.n, alice_pk.n2
    if not _is_unit(K, n0sq):
        raise UsageError("MtA: K is not in Z*_N0^2")
    y = rng.signed(level.ell_prime)
    rho = rng.unit(n0)
    rho_y = rng.unit(bob_sk.n)
    # K^x (x secret) and rho^N0 (rho secret) over Alice's modulus: constant time
    D = arith.multi_powmod_sec([K, rho], [x, n0], n0sq) * (1 + (y % n0) * n0) % n0sq
    Y = bob_sk.encrypt_with(y, rho_y)
    stmt = Statement(alice_pk, bob_sk.public, K, D, Y, X, verifier_rp)
    proof = prove(ctx, stmt, Witness(x, y, rho, rho_y, bob_sk), rng)
    return D, Y, -y, proof
