"""Πfac: the prover's modulus N0 = p q has no small factor (CGGMP21, ePrint 2021/060, full
version, Figure 28 "no small factor proof").

The prover commits to p and q with the VERIFIER's ring-Pedersen parameters (N^, s, t), which the
prover cannot open in two ways (strong RSA, and s in <t> by the verifier's own Πprm), and shows
that the committed values multiply to N0 while both are at most sqrt(N0) 2^(ell+epsilon) in
absolute value. So neither factor is below about sqrt(N0) / 2^(ell+epsilon): BitForge moduli with
small factors (attacks.md A-1) fail the range check on z1 or z2.

Constants (``SecurityLevel``): ell = 256, epsilon = 230, challenge e in [-2^128, 2^128)
(``challenge_bits`` = 128, one challenge: soundness rests on the verifier's parameters), N0 of
exactly ``paillier_bits`` bits. With sqrtN0 = isqrt(N0) + 1 the prover samples
alpha, beta in +-2^(ell+eps) sqrtN0; mu, nu in +-2^ell N^; sigma in +-2^ell N0 N^;
r in +-2^(ell+eps) N0 N^; x, y in +-2^(ell+eps) N^.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd, isqrt

from .. import arith
from ..errors import DecodeError, InvalidProof, UsageError
from ..paillier import PaillierSecretKey, RingPedersen
from ..params import SecurityLevel
from ..randomness import Rng, resolve
from ._codec import Reader, Writer
from ._common import ProofContext, check, is_int

TAG = "fac"

_COMMITMENTS = ("P", "Q", "A", "B", "T")


@dataclass(frozen=True, slots=True)
class Statement:
    """n0: the prover's Paillier modulus; rp: the verifier's ring-Pedersen parameters."""

    n0: int
    rp: RingPedersen


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    key: PaillierSecretKey

    def __repr__(self) -> str:
        return "Witness(<secret>)"


@dataclass(frozen=True, slots=True)
class Proof:
    P: int
    Q: int
    A: int
    B: int
    T: int
    sigma: int
    z1: int
    z2: int
    w1: int
    w2: int
    v: int

    def to_bytes(self) -> bytes:
        w = Writer()
        for f in (self.P, self.Q, self.A, self.B, self.T, self.sigma, self.z1, self.z2, self.w1,
                  self.w2, self.v):
            w.int(f)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, level: SecurityLevel) -> Proof:
        r = Reader(data)
        fields = [r.int() for _ in range(11)]
        r.end()
        caps = _bit_caps(level)
        for v in fields[:5]:
            if v < 0 or v.bit_length() > caps["commitment"]:
                raise DecodeError("Πfac commitment out of range")
        for v, cap in zip(fields[5:], ("sigma", "z", "z", "w", "w", "v"),
                          strict=True):
            if v.bit_length() > caps[cap]:
                raise DecodeError("Πfac response out of range")
        return cls(*fields)


def _bit_caps(level: SecurityLevel) -> dict[str, int]:
    """Bit lengths no honest field exceeds (the exact bounds are checked by verify)."""
    nb, le = level.paillier_bits, level.ell + level.epsilon
    return {"commitment": nb, "sigma": level.ell + 2 * nb, "z": le + nb // 2 + 1,
            "w": le + nb + 1, "v": le + 2 * nb + 1}


def _sqrt_bound(n0: int) -> int:
    return isqrt(n0) + 1


def _challenge(ctx: ProofContext, stmt: Statement, P: int, Q: int, A: int, B: int, T: int,
               sigma: int) -> int:
    rp = stmt.rp
    t = ctx.transcript(TAG)
    t.append("N0", stmt.n0).append("Nhat", rp.n).append("s", rp.s).append("t", rp.t)
    t.append("P", P).append("Q", Q).append("A", A).append("B", B).append("T", T)
    t.append("sigma", sigma)
    return t.challenge_signed(ctx.level.challenge_bits)


def _sample(rng: Rng, bound: int) -> int:
    """Uniform in [-bound, bound]."""
    return rng.below(2 * bound + 1) - bound


def prove(ctx: ProofContext, stmt: Statement, wit: Witness, rng: Rng | None = None) -> Proof:
    rng = resolve(rng)
    level = ctx.level
    n0, rp = stmt.n0, stmt.rp
    p, q = wit.key.p, wit.key.q
    if p * q != n0:
        raise UsageError("Πfac witness does not factor the statement modulus")
    nh, s, t = rp.n, rp.s, rp.t
    l, le = level.ell, level.ell + level.epsilon
    sqrt_n0 = _sqrt_bound(n0)
    alpha = _sample(rng, (sqrt_n0 << le))
    beta = _sample(rng, (sqrt_n0 << le))
    mu = _sample(rng, nh << l)
    nu = _sample(rng, nh << l)
    sigma = _sample(rng, (n0 * nh) << l)
    r = _sample(rng, (n0 * nh) << le)
    x = _sample(rng, nh << le)
    y = _sample(rng, nh << le)
    # secret exponents over the verifier's modulus, whose factors the prover does not know
    sec = arith.multi_powmod_sec
    P = sec([s, t], [p, mu], nh)
    Q = sec([s, t], [q, nu], nh)
    A = sec([s, t], [alpha, x], nh)
    B = sec([s, t], [beta, y], nh)
    T = sec([Q, t], [alpha, r], nh)
    e = _challenge(ctx, stmt, P, Q, A, B, T, sigma)
    sigma_hat = sigma - nu * p
    return Proof(P, Q, A, B, T, sigma, alpha + e * p, beta + e * q, x + e * mu, y + e * nu,
                 r + e * sigma_hat)


def verify(ctx: ProofContext, stmt: Statement, proof: Proof) -> None:
    level = ctx.level
    check(isinstance(proof, Proof), "not a Πfac proof", TAG)
    n0, rp = stmt.n0, stmt.rp
    check(is_int(n0) and n0.bit_length() == level.paillier_bits, "modulus size", TAG)
    check(isinstance(rp, RingPedersen), "statement has no ring-Pedersen parameters", TAG)
    nh, s, t = rp.n, rp.s, rp.t
    check(is_int(nh) and nh.bit_length() == level.paillier_bits, "ring-Pedersen modulus size",
          TAG)
    try:
        rp.validate()
    except DecodeError as exc:
        raise InvalidProof("invalid ring-Pedersen parameters", TAG) from exc
    for name in _COMMITMENTS:
        c = getattr(proof, name)
        check(is_int(c) and 0 < c < nh, f"{name} out of range", TAG)
        check(gcd(c, nh) == 1, f"{name} is not a unit", TAG)
    l, le, cb = level.ell, level.ell + level.epsilon, level.challenge_bits
    for name in ("sigma", "z1", "z2", "w1", "w2", "v"):
        check(is_int(getattr(proof, name)), f"{name} is not an int", TAG)
    # sigma, w1, w2, v: bounds that every honest proof meets (|e| <= 2^cb, |p| < N0); they are
    # not in the paper and only keep a malicious prover from sending huge exponents
    check(abs(proof.sigma) <= (n0 * nh) << l, "sigma out of range", TAG)
    z_bound = _sqrt_bound(n0) << le
    check(abs(proof.z1) <= z_bound, "z1 out of range", TAG)
    check(abs(proof.z2) <= z_bound, "z2 out of range", TAG)
    w_bound = ((1 << le) + (1 << (l + cb))) * nh
    check(abs(proof.w1) <= w_bound, "w1 out of range", TAG)
    check(abs(proof.w2) <= w_bound, "w2 out of range", TAG)
    v_bound = ((1 << le) + (1 << (l + cb + 1))) * n0 * nh
    check(abs(proof.v) <= v_bound, "v out of range", TAG)
    P, Q, A, B, T = proof.P, proof.Q, proof.A, proof.B, proof.T
    e = _challenge(ctx, stmt, P, Q, A, B, T, proof.sigma)
    mp = arith.multi_powmod
    check(mp([s, t, P], [proof.z1, proof.w1, -e], nh) == A, "P equation fails", TAG)
    check(mp([s, t, Q], [proof.z2, proof.w2, -e], nh) == B, "Q equation fails", TAG)
    # Q^z1 t^v == T R^e with R = s^N0 t^sigma, folded into one multi-exponentiation:
    # Q^z1 t^(v - e sigma) s^(-e N0) == T
    check(mp([Q, t, s], [proof.z1, proof.v - e * proof.sigma, -e * n0], nh) == T,
          "T equation fails", TAG)
