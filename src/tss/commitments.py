"""Hash commitments bound to session and party: C = H(tag, sid, party, values, rho).

rho is 256 bits of fresh randomness. Binding the committer's index and the session stops a
rushing party from copying an honest party's commitment and opening (attack A-12).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from .hashing import Transcript
from .randomness import Rng, resolve

__all__ = ["commit", "verify_commitment", "COMMITMENT_BYTES", "RANDOMNESS_BYTES"]

COMMITMENT_BYTES = 32
RANDOMNESS_BYTES = 32


def _digest(tag: str, session_id: bytes, party: int, values: Sequence[object], rho: bytes) -> bytes:
    t = Transcript("commit/" + tag, session_id, party)
    t.append("values", list(values))
    t.append("rho", rho)
    return t.digest("commitment", COMMITMENT_BYTES)


def commit(tag: str, session_id: bytes, party: int, values: Sequence[object],
           rng: Rng | None = None) -> tuple[bytes, bytes]:
    """Return (commitment, rho)."""
    rho = resolve(rng).bytes(RANDOMNESS_BYTES)
    return _digest(tag, session_id, party, values, rho), rho


def verify_commitment(commitment: bytes, tag: str, session_id: bytes, party: int,
                      values: Sequence[object], rho: bytes) -> bool:
    if len(commitment) != COMMITMENT_BYTES or len(rho) != RANDOMNESS_BYTES:
        return False
    return hmac.compare_digest(commitment, _digest(tag, session_id, party, values, rho))
