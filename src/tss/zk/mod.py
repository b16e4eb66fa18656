"""Πmod: N is a Paillier-Blum modulus (CGGMP21, ePrint 2021/060, Figure 16).

The prover shows that N = p^a q^b with p = q = 3 mod 4 and gcd(N, phi(N)) = 1: for each of
m = ``level.iterations`` = 128 challenges y_i in Z_N it gives an N-th root z_i of y_i and a fourth
root x_i of (-1)^a_i w^b_i y_i, where w (Jacobi symbol -1 mod N) is chosen before the challenges.
Combined with Πfac (no small factor) this rules out BitForge moduli (attacks.md A-1).

Constants: ``level.iterations`` = 128 challenges; N of exactly ``level.paillier_bits`` bits
(2048 at STANDARD, 3072 at HIGH). The y_i are independent uniform elements of Z_N, each reduced
from |N| + 128 bits of SHAKE-256 output over (tag, session id, prover, round, N, w) by
:meth:`Transcript.challenge_mod`; no short hash is reused (attacks.md, "Deviations in tss-lib's
Πmod").
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import gmpy2

from .. import arith
from ..errors import DecodeError, UsageError
from ..paillier import PaillierSecretKey
from ..params import SecurityLevel
from ..randomness import Rng, resolve
from ._codec import Reader, Writer
from ._common import ProofContext, check, is_int

TAG = "mod"
_BATCH = 32  # exponentiations per batch_powmod call in verify


@dataclass(frozen=True, slots=True)
class Statement:
    n: int


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    key: PaillierSecretKey

    def __repr__(self) -> str:
        return "Witness(<secret>)"


@dataclass(frozen=True, slots=True)
class Proof:
    w: int
    x: tuple[int, ...]
    a: tuple[int, ...]
    b: tuple[int, ...]
    z: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return (Writer().int(self.w).ints(list(self.x)).ints(list(self.a)).ints(list(self.b))
                .ints(list(self.z)).getvalue())

    @classmethod
    def from_bytes(cls, data: bytes, level: SecurityLevel) -> Proof:
        m, bits = level.iterations, level.paillier_bits
        r = Reader(data)
        w = r.int()
        x = r.ints(m)
        a = r.ints(m)
        b = r.ints(m)
        z = r.ints(m)
        r.end()
        for v in (w, *x, *z):
            if v < 0 or v.bit_length() > bits:
                raise DecodeError("Πmod value out of range")
        for v in (*a, *b):
            if v not in (0, 1):
                raise DecodeError("Πmod sign/exponent bit is not 0 or 1")
        return cls(w, tuple(x), tuple(a), tuple(b), tuple(z))


def _challenges(ctx: ProofContext, n: int, w: int) -> list[int]:
    t = ctx.transcript(TAG)
    t.append("N", n).append("w", w)
    return t.challenge_mod(n, ctx.level.iterations)


def _fourth_root_exponent(p: int) -> int:
    # For p = 3 mod 4, y^((p+1)/4) is the square root of a residue y that is itself a residue;
    # applied twice it is the fourth root in the group of residues.
    return pow((p + 1) // 4, 2, p - 1)


def prove(ctx: ProofContext, stmt: Statement, wit: Witness, rng: Rng | None = None) -> Proof:
    rng = resolve(rng)
    key = wit.key
    n = stmt.n
    p, q = key.p, key.q
    if p * q != n:
        raise UsageError("Πmod witness does not factor the statement modulus")
    while True:
        w = rng.below(n)
        if gmpy2.jacobi(w, n) == -1:
            break
    ys = _challenges(ctx, n, w)
    n_inv = arith.invert(n, key.phi)
    ep, eq = _fourth_root_exponent(p), _fourth_root_exponent(q)
    q_inv_p = arith.invert(q, p)
    # Jacobi symbols are multiplicative, so two symbols per challenge (of y mod p and mod q) fix
    # the symbols of all four candidates y' = (-1)^a w^b y. (The symbols are published anyway
    # through a_i and b_i.)
    minus_p, minus_q = gmpy2.jacobi(p - 1, p), gmpy2.jacobi(q - 1, q)
    w_p, w_q = gmpy2.jacobi(w, p), gmpy2.jacobi(w, q)
    a_s: list[int] = []
    b_s: list[int] = []
    roots: list[tuple[int, int, int]] = []  # the fourth roots: mod p, then mod q
    for y in ys:
        y_p, y_q = gmpy2.jacobi(y, p), gmpy2.jacobi(y, q)
        # exactly one of the four (a, b) makes y' a residue mod p and mod q when p, q are Blum
        # primes: -1 is a non-residue mod both, and w is a residue mod exactly one of them
        for a, b in ((0, 0), (1, 0), (0, 1), (1, 1)):
            if (minus_p ** a * w_p ** b * y_p == 1) and (minus_q ** a * w_q ** b * y_q == 1):
                break
        else:
            raise UsageError("Πmod witness is not a Paillier-Blum factorization")
        yy = (n - y if a else y) * (w if b else 1) % n
        roots += ((yy % p, ep, p), (yy % q, eq, q))
        a_s.append(a)
        b_s.append(b)
    # all the exponentiations in two constant-time batches on two threads: the fourth roots by
    # halves, and the N-th roots y^(N^-1 mod phi) by CRT (as key.powmod_n computes them)
    half = arith.batch_powmod_sec(roots, threads=2)
    xs = [xq + q * ((xp - xq) * q_inv_p % p) for xp, xq in zip(half[0::2], half[1::2])]
    crt = arith.crt_params(p, q, p - 1, q - 1)
    zs = arith.batch_crt_powmod([(y, n_inv) for y in ys], crt, threads=2)
    return Proof(w, tuple(xs), tuple(a_s), tuple(b_s), tuple(zs))


def _len(v: object) -> int:
    return len(v) if isinstance(v, (tuple, list)) else -1


def verify(ctx: ProofContext, stmt: Statement, proof: Proof) -> None:
    level = ctx.level
    m = level.iterations
    n = stmt.n
    check(isinstance(proof, Proof), "not a Πmod proof", TAG)
    check(is_int(n) and n.bit_length() == level.paillier_bits, "modulus size", TAG)
    check(n & 1 == 1, "modulus is even", TAG)
    check(not arith.is_probable_prime(n), "modulus is prime", TAG)
    # a perfect square has Jacobi symbol 1 for every unit, so the w check below also rejects it
    w = proof.w
    check(is_int(w) and 0 < w < n, "w out of range", TAG)
    check(gmpy2.jacobi(w, n) == -1, "w Jacobi symbol is not -1", TAG)
    check(all(_len(v) == m for v in (proof.x, proof.a, proof.b, proof.z)),
          "wrong number of iterations", TAG)
    check(all(is_int(a) and a in (0, 1) for a in proof.a), "a is not a bit", TAG)
    check(all(is_int(b) and b in (0, 1) for b in proof.b), "b is not a bit", TAG)
    check(all(is_int(x) and 0 < x < n for x in proof.x), "x out of range", TAG)
    check(all(is_int(z) and 0 < z < n for z in proof.z), "z out of range", TAG)
    check(all(gcd(z, n) == 1 for z in proof.z), "z is not a unit", TAG)
    ys = _challenges(ctx, n, w)
    # the z_i^N in batches on two threads; batches keep the work spent on a bad proof small
    for start in range(0, m, _BATCH):
        part = slice(start, start + _BATCH)
        zn = arith.batch_powmod([(z, n, n) for z in proof.z[part]], threads=2)
        for y, x, a, b, z_n in zip(ys[part], proof.x[part], proof.a[part], proof.b[part], zn,
                                   strict=True):
            # z^N = y also implies gcd(y, N) = 1
            check(z_n == y, "N-th root check fails", TAG)
            rhs = (n - y if a else y) * (w if b else 1) % n
            check(arith.powmod(x, 4, n) == rhs, "fourth root check fails", TAG)

