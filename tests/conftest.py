"""Shared, cached and seeded fixtures: Paillier keys come from safe primes stored in
tests/data/safe_primes.json (made with ``random_safe_prime`` from fixed seeds), so no test waits
for prime generation unless it tests prime generation."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from tss.params import HIGH, STANDARD, SecurityLevel

DATA = Path(__file__).parent / "data"


@functools.cache
def _primes() -> dict[int, list[int]]:
    raw = json.loads((DATA / "safe_primes.json").read_text())
    return {int(bits): [int(p, 16) for p in ps] for bits, ps in raw.items()}


def safe_primes(bits: int) -> list[int]:
    return _primes()[bits]


@functools.cache
def paillier_key(level: SecurityLevel, i: int):
    """The i-th cached Paillier secret key of ``level`` (i in 0..3)."""
    from tss.paillier import PaillierSecretKey

    ps = safe_primes(level.prime_bits)
    return PaillierSecretKey(ps[2 * i], ps[2 * i + 1])


@functools.cache
def ring_pedersen(level: SecurityLevel, i: int):
    """Ring-Pedersen secret (params, lambda, phi) on the i-th cached key, seeded."""
    from tss.paillier import ring_pedersen_from
    from tss.randomness import SeededRng

    return ring_pedersen_from(paillier_key(level, i), SeededRng(f"rp-{level.name}-{i}"))


@pytest.fixture(params=[STANDARD, HIGH], ids=["standard", "high"])
def level(request) -> SecurityLevel:
    return request.param
