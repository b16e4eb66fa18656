"""Sources of randomness. Protocol code never reaches for the OS itself: it takes an ``Rng``.

``SystemRng`` (the default) reads the OS CSPRNG through :mod:`secrets`. ``SeededRng`` is a
deterministic SHAKE-256 stream for reproducible tests and fixtures only; never use it for keys.
"""

from __future__ import annotations

import hashlib
import secrets


class Rng:
    """Interface: ``bytes(n)``; the helpers below are built on it."""

    def bytes(self, n: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def bits(self, k: int) -> int:
        """A uniform integer in [0, 2^k)."""
        if k <= 0:
            return 0
        v = int.from_bytes(self.bytes((k + 7) // 8), "big")
        return v >> (-k % 8)

    def below(self, n: int) -> int:
        """A uniform integer in [0, n), by rejection."""
        if n < 1:
            raise ValueError("bound must be positive")
        k = n.bit_length()
        while True:
            v = self.bits(k)
            if v < n:
                return v

    def signed(self, bits: int) -> int:
        """A uniform integer in [-2^bits, 2^bits]."""
        return self.below((1 << (bits + 1)) + 1) - (1 << bits)

    def unit(self, n: int) -> int:
        """A uniform element of Z_n^* (n odd and not a prime power of a tiny prime)."""
        from math import gcd

        while True:
            v = self.below(n)
            if v and gcd(v, n) == 1:
                return v

    def scalar(self, q: int) -> int:
        """A uniform nonzero scalar mod q."""
        while True:
            v = self.below(q)
            if v:
                return v


class SystemRng(Rng):
    def bytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)

    def __repr__(self) -> str:
        return "SystemRng()"


class SeededRng(Rng):
    """Deterministic stream (for tests and cached fixtures): SHAKE-256(seed, counter)."""

    def __init__(self, seed: bytes | str | int) -> None:
        if isinstance(seed, int):
            seed = seed.to_bytes(16, "big", signed=True)
        elif isinstance(seed, str):
            seed = seed.encode()
        self._seed = bytes(seed)
        self._counter = 0

    def bytes(self, n: int) -> bytes:
        self._counter += 1
        h = hashlib.shake_256(b"tss/seeded-rng\x00" + self._counter.to_bytes(8, "big") + self._seed)
        return h.digest(n)

    def fork(self, label: str) -> SeededRng:
        return SeededRng(hashlib.sha256(self.bytes(32) + label.encode()).digest())

    def __repr__(self) -> str:
        return "SeededRng(<seed>)"


SYSTEM = SystemRng()


def resolve(rng: Rng | None) -> Rng:
    return SYSTEM if rng is None else rng
