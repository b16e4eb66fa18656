"""Πprm: the ring-Pedersen parameters (N, s, t) satisfy s in <t> (CGGMP21, ePrint 2021/060,
Figure 17).

The prover knows lambda with s = t^lambda mod N. For each of m = ``level.iterations`` = 128
rounds it commits A_i = t^a_i, receives one challenge bit e_i and answers z_i = a_i + e_i lambda
mod phi(N); the verifier checks t^z_i = A_i s^e_i mod N. The group order is unknown to the
verifier, so a single wide challenge would not be sound: soundness error is 2^-128 with 128
binary challenges.

Constants: ``level.iterations`` = 128 challenge bits, each its own bit of SHAKE-256 output over
(tag, session id, prover, round, N, s, t, A_1..A_m) via :meth:`Transcript.challenge_bits` (all
128 bits are used; attacks.md A-19 is the cggmp21 bug where only 32 of them were); N of exactly
``level.paillier_bits`` bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

from .. import arith
from ..errors import DecodeError, InvalidProof, UsageError
from ..paillier import PaillierSecretKey, RingPedersen, RingPedersenSecret
from ..params import SecurityLevel
from ..randomness import Rng, resolve
from ._codec import Reader, Writer
from ._common import ProofContext, check, is_int

TAG = "prm"


@dataclass(frozen=True, slots=True)
class Statement:
    params: RingPedersen


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    """lambda and phi(N); with the Paillier key of N too, the prover exponentiates by CRT."""

    secret: RingPedersenSecret
    key: PaillierSecretKey | None = None

    def __repr__(self) -> str:
        return "Witness(<secret>)"


@dataclass(frozen=True, slots=True)
class Proof:
    A: tuple[int, ...]
    z: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return Writer().ints(list(self.A)).ints(list(self.z)).getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, level: SecurityLevel) -> Proof:
        m, bits = level.iterations, level.paillier_bits
        r = Reader(data)
        A = r.ints(m)
        z = r.ints(m)
        r.end()
        for v in (*A, *z):
            if v < 0 or v.bit_length() > bits:
                raise DecodeError("Πprm value out of range")
        return cls(tuple(A), tuple(z))


def _challenge(ctx: ProofContext, params: RingPedersen,
               A: list[int] | tuple[int, ...]) -> list[int]:
    t = ctx.transcript(TAG)
    t.append("N", params.n).append("s", params.s).append("t", params.t)
    t.append("A", list(A))
    return t.challenge_bits(ctx.level.iterations)


def prove(ctx: ProofContext, stmt: Statement, wit: Witness, rng: Rng | None = None) -> Proof:
    rng = resolve(rng)
    params = stmt.params
    secret, key = wit.secret, wit.key
    if secret.params != params:
        raise UsageError("Πprm witness is for other parameters")
    if key is not None and key.n != params.n:
        raise UsageError("Πprm Paillier key does not match the modulus")
    n, t, phi, lam = params.n, params.t, secret.phi, secret.lam
    m = ctx.level.iterations
    a = [rng.below(phi) for _ in range(m)]
    # constant time, batched on two threads: by CRT when the Paillier key is known (as
    # key.powmod_n computes each), else modulo N
    if key is not None:
        A = arith.batch_crt_powmod([(t, ai) for ai in a],
                                   arith.crt_params(key.p, key.q, key.p - 1, key.q - 1), threads=2)
    else:
        A = arith.batch_powmod_sec([(t, ai, n) for ai in a], threads=2)
    e = _challenge(ctx, params, A)
    z = [(ai + ei * lam) % phi for ai, ei in zip(a, e, strict=True)]
    return Proof(tuple(A), tuple(z))


def _len(v: object) -> int:
    return len(v) if isinstance(v, (tuple, list)) else -1


def verify(ctx: ProofContext, stmt: Statement, proof: Proof) -> None:
    level = ctx.level
    m = level.iterations
    check(isinstance(proof, Proof), "not a Πprm proof", TAG)
    params = stmt.params
    check(isinstance(params, RingPedersen), "statement is not ring-Pedersen parameters", TAG)
    n, s, t = params.n, params.s, params.t
    check(is_int(n) and n.bit_length() == level.paillier_bits, "modulus size", TAG)
    try:
        params.validate()
    except DecodeError as exc:
        raise InvalidProof("invalid ring-Pedersen parameters", TAG) from exc
    check(_len(proof.A) == m and _len(proof.z) == m, "wrong number of iterations", TAG)
    check(all(is_int(A) and 0 < A < n for A in proof.A), "A out of range", TAG)
    check(all(gcd(A, n) == 1 for A in proof.A), "A is not a unit", TAG)
    check(all(is_int(z) and 0 <= z < n for z in proof.z), "z out of range", TAG)
    e = _challenge(ctx, params, proof.A)
    # all t^z_i from one fixed-base table for t, on two threads; s^e_i is s or 1
    tz = arith.fixed_base_powmod(t, proof.z, n, threads=2)
    for A, ei, lhs in zip(proof.A, e, tz, strict=True):
        check(lhs == (A * s % n if ei else A), "verification equation fails", TAG)
