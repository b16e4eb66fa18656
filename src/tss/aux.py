"""Paillier key material made ahead of time, on every core.

Finding safe primes is the slow part of key generation. ``pregenerate`` makes Paillier-Blum keys
in worker processes so that an application can prepare them in the background (tss-lib's users
ask for exactly this) and hand one to each ``Keygen`` or ``Refresh``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from . import arith
from .paillier import PaillierSecretKey
from .params import STANDARD, SecurityLevel, level_by_name

__all__ = ["pregenerate"]


def _safe_prime(bits: int) -> int:
    return arith.random_safe_prime(bits)


def pregenerate(count: int, level: SecurityLevel | str = STANDARD, *,
                processes: int | None = None,
                progress: Callable[[int], None] | None = None) -> list[PaillierSecretKey]:
    """``count`` fresh Paillier keys (two safe primes each) of ``level``, found on up to
    ``processes`` cores (default: all). ``progress(k)`` is called after each prime."""
    level = level_by_name(level)
    workers = max(1, min(processes or os.cpu_count() or 1, 2 * count))
    primes: list[int] = []
    if workers == 1:
        for _ in range(2 * count):
            primes.append(_safe_prime(level.prime_bits))
            if progress:
                progress(len(primes))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_safe_prime, level.prime_bits) for _ in range(2 * count)]
            for f in futures:
                primes.append(f.result())
                if progress:
                    progress(len(primes))
    keys = []
    for i in range(count):
        p, q = primes[2 * i], primes[2 * i + 1]
        while p == q:  # pragma: no cover - probability about 2^-1000
            q = _safe_prime(level.prime_bits)
        keys.append(PaillierSecretKey(p, q))
    return keys
