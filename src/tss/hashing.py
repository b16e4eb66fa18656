"""One injective, tagged transcript encoding for every hash, commitment and Fiat-Shamir challenge.

Every value is encoded as type byte, then an 8-byte big-endian length, then the bytes. Integers
carry their sign; lists carry their element count. Nothing is implicit: ``None`` and ``bool`` are
refused, so no two different field sequences encode to the same bytes (attacks A-3, A-6, A-10).

A :class:`Transcript` starts with a domain tag and the context every proof and commitment binds
(protocol tag, session id, prover index, round); then each statement value and first move is
appended under its own label; challenges are squeezed from SHAKE-256 over all of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .params import CURVE_ORDER

__all__ = ["encode", "Transcript", "hash_to_scalar", "DOMAIN"]

DOMAIN = b"tss/v1"


def _len(n: int) -> bytes:
    return n.to_bytes(8, "big")


def encode(value: object) -> bytes:
    """The canonical encoding of an int, bytes, str, encodable object, or list/tuple of these."""
    if isinstance(value, bool) or value is None:
        raise TypeError("bool and None have no transcript encoding")
    if isinstance(value, int):
        mag = abs(value).to_bytes((abs(value).bit_length() + 7) // 8, "big")
        return b"I" + (b"-" if value < 0 else b"+") + _len(len(mag)) + mag
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return b"B" + _len(len(data)) + data
    if isinstance(value, str):
        data = value.encode("utf-8")
        return b"S" + _len(len(data)) + data
    if isinstance(value, (list, tuple)):
        return b"L" + _len(len(value)) + b"".join(encode(v) for v in value)
    to_bytes = getattr(value, "transcript_bytes", None)
    if to_bytes is not None:
        data = to_bytes()
        return b"P" + _len(len(data)) + data
    raise TypeError(f"no transcript encoding for {type(value).__name__}")


class Transcript:
    """A Fiat-Shamir transcript bound to (tag, session id, party, round)."""

    __slots__ = ("_h",)

    def __init__(self, tag: str, session_id: bytes, party: int, round: int = 0) -> None:
        if not isinstance(session_id, (bytes, bytearray)):
            raise TypeError("session_id must be bytes")
        self._h = hashlib.shake_256()
        self._h.update(encode([DOMAIN, tag, bytes(session_id), int(party), int(round)]))

    def append(self, label: str, value: object) -> Transcript:
        self._h.update(encode(label) + encode(value))
        return self

    def extend(self, items: Iterable[tuple[str, object]]) -> Transcript:
        for label, value in items:
            self.append(label, value)
        return self

    def _squeeze(self, label: str, n: int) -> bytes:
        h = self._h.copy()
        h.update(b"squeeze" + encode(label))
        return h.digest(n)

    def digest(self, label: str = "digest", n: int = 32) -> bytes:
        return self._squeeze(label, n)

    def challenge_bits(self, m: int, label: str = "bits") -> list[int]:
        """m independent challenge bits: each is its own bit of XOF output (attack A-19)."""
        raw = self._squeeze(label, (m + 7) // 8)
        return [(raw[i // 8] >> (7 - i % 8)) & 1 for i in range(m)]

    def challenge_signed(self, bits: int, label: str = "e") -> int:
        """A challenge in (-2^bits, 2^bits): a sign bit and ``bits`` bits of magnitude."""
        raw = int.from_bytes(self._squeeze(label, (bits + 8) // 8 + 1), "big")
        mag = raw & ((1 << bits) - 1)
        return -mag if (raw >> bits) & 1 else mag

    def challenge_scalar(self, label: str = "e") -> int:
        """A challenge mod the curve order, reduced from 512 bits (bias below 2^-256)."""
        return int.from_bytes(self._squeeze(label, 64), "big") % CURVE_ORDER

    def challenge_mod(self, n: int, count: int, label: str = "y") -> list[int]:
        """``count`` independent elements of Z_n, each reduced from |n| + 128 bits."""
        width = (n.bit_length() + 128 + 7) // 8
        raw = self._squeeze(label, width * count)
        return [int.from_bytes(raw[i * width:(i + 1) * width], "big") % n for i in range(count)]


def hash_to_scalar(tag: str, *values: object) -> int:
    """A scalar mod q from a tagged list of values."""
    h = hashlib.shake_256(encode([DOMAIN, tag, list(values)]))
    return int.from_bytes(h.digest(64), "big") % CURVE_ORDER
