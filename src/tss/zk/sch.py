"""Πsch: knowledge of x with X = x G on secp256k1 (Schnorr, Fiat-Shamir).

The group has prime order, so one challenge in Z_q is sound (attacks.md section 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..curve import Point, Q, base_mul
from ..errors import DecodeError
from ..randomness import Rng, resolve
from ._codec import Reader, Writer
from ._common import ProofContext, check

TAG = "sch"


@dataclass(frozen=True, slots=True)
class Statement:
    X: Point


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    x: int

    def __repr__(self) -> str:
        return "Witness(<secret>)"


@dataclass(frozen=True, slots=True)
class Proof:
    A: Point
    z: int

    def to_bytes(self) -> bytes:
        return Writer().point(self.A).int(self.z).getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        r = Reader(data)
        A = r.point()
        z = r.int()
        r.end()
        if not 0 <= z < Q:
            raise DecodeError("Πsch response out of range")
        return cls(A, z)


def _challenge(ctx: ProofContext, stmt: Statement, A: Point) -> int:
    t = ctx.transcript(TAG)
    t.append("X", stmt.X).append("A", A)
    return t.challenge_scalar()


def prove(ctx: ProofContext, stmt: Statement, wit: Witness, rng: Rng | None = None) -> Proof:
    alpha = resolve(rng).scalar(Q)
    A = base_mul(alpha)
    e = _challenge(ctx, stmt, A)
    return Proof(A, (alpha + e * wit.x) % Q)


def verify(ctx: ProofContext, stmt: Statement, proof: Proof) -> None:
    check(isinstance(proof, Proof), "not a Πsch proof", TAG)
    check(not stmt.X.is_identity, "statement is the identity", TAG)
    check(not proof.A.is_identity, "commitment is the identity", TAG)
    check(0 <= proof.z < Q, "response out of range", TAG)
    e = _challenge(ctx, stmt, proof.A)
    check(base_mul(proof.z) == proof.A + stmt.X * e, "verification equation fails", TAG)
