"""The exceptions the library raises on purpose.

Every one derives from :class:`TssError`. Errors about bad input also derive from ``ValueError``
so that callers may catch either. No message carries secret material.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "TssError",
    "UsageError",
    "DecodeError",
    "InvalidProof",
    "ProtocolAborted",
]


class TssError(Exception):
    """Base class of every error raised by ``tss`` on purpose."""


class UsageError(TssError, ValueError):
    """The caller passed wrong arguments or called something at the wrong time."""


class DecodeError(TssError, ValueError):
    """Bytes that do not decode to a valid value (wrong length, range, version or encoding)."""


class InvalidProof(TssError, ValueError):
    """A zero-knowledge proof did not verify.

    ``reason`` is a short machine-readable string naming the check that failed.
    """

    def __init__(self, reason: str, proof: str = "") -> None:
        self.reason = reason
        self.proof = proof
        super().__init__(f"{proof + ': ' if proof else ''}{reason}")


class ProtocolAborted(TssError):
    """A peer cheated or misbehaved; the protocol run is over.

    ``culprits`` is the frozenset of party indices to blame, ``round`` the round in which the
    fault was seen and ``reason`` a short description that contains no secret.
    """

    def __init__(self, culprits: Iterable[int], round: int | str, reason: str) -> None:
        self.culprits = frozenset(int(c) for c in culprits)
        self.round = round
        self.reason = reason
        who = ", ".join(str(c) for c in sorted(self.culprits)) or "unknown"
        super().__init__(f"protocol aborted in round {round}: {reason} (culprits: {who})")
