"""What every proof shares: the context it is bound to, and range helpers."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidProof
from ..hashing import Transcript
from ..params import SecurityLevel


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
