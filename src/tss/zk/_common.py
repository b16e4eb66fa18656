"""What every proof shares: the context it is bound to, and range helpers."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

from ..errors import DecodeError, InvalidProof
from ..hashing import Transcript
from ..params import SecurityLevel
from ..randomness import Rng
from ._codec import Reader


@dataclass(frozen=True, slots=True)
class ProofContext:
    """Binds a proof to one protocol run and one prover: (session id, prover index, round).

    The Fiat-Shamir transcript of every proof starts with these and the proof's tag, so a proof
    made for another session, another prover or another round never verifies (attack A-11).
    """

    session_id: bytes
    prover: int
    level: SecurityLevel
    round: int = 0

    def transcript(self, tag: str) -> Transcript:
        return Transcript("zk/" + tag, self.session_id, self.prover, self.round)


def check(condition: bool, reason: str, proof: str) -> None:
    """Raise InvalidProof(reason) unless ``condition``."""
    if not condition:
        raise InvalidProof(reason, proof)


def in_signed_range(v: int, bits: int) -> bool:
    """|v| <= 2^bits."""
    return -(1 << bits) <= v <= (1 << bits)


def is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_unit(v: object, n: int) -> bool:
    """v is an int in Z*_n."""
    return isinstance(v, int) and not isinstance(v, bool) and 0 < v < n and gcd(v, n) == 1


def signed_below(rng: Rng, bound: int) -> int:
    """Uniform in [-bound, bound]."""
    return rng.below(2 * bound + 1) - bound


def read_unsigned(r: Reader, bits: int, name: str, *, proof: str) -> int:
    """Decode a non-negative field of at most ``bits`` bits."""
    v = r.int()
    if v < 0 or v.bit_length() > bits:
        raise DecodeError(f"{proof} field {name} out of range")
    return v


def read_signed(r: Reader, bits: int, name: str, *, proof: str) -> int:
    """Decode a signed field of at most ``bits`` bits of magnitude."""
    v = r.int()
    if v.bit_length() > bits:
        raise DecodeError(f"{proof} field {name} too large")
    return v
