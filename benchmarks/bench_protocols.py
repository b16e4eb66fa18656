"""pytest-benchmark: protocol phases for 2-of-3 at STANDARD (keys pregenerated and cached).

The full per-phase table with the GMP floor (both levels, 2-of-3 and 3-of-5) is
benchmarks/protocol_table.py.
"""

from __future__ import annotations

import functools
import hashlib

import pytest

import tss
from tss.aux import pregenerate
from tss.simulation import sign_with_presignatures


@functools.cache
def _keys():
    return pregenerate(3, tss.STANDARD)


@functools.cache
def _shares():
    return tuple(tss.simulate_keygen(2, 3, paillier_keys=_keys()))


def test_keygen_2of3(benchmark):
    keys = _keys()
    shares = benchmark.pedantic(lambda: tss.simulate_keygen(2, 3, paillier_keys=keys),
                                rounds=2, iterations=1)
    assert len(shares) == 3


def test_presign_2party(benchmark):
    shares = _shares()
    presigs = benchmark.pedantic(lambda: tss.simulate_presign(shares[:2]), rounds=3,
                                 iterations=1)
    assert len(presigs) == 2


@pytest.mark.parametrize("signers", [2])
def test_online_sign(benchmark, signers):
    shares = _shares()
    digest = hashlib.sha256(b"bench").digest()

    def setup():
        return (tss.simulate_presign(shares[:signers]), digest), {}

    sig = benchmark.pedantic(sign_with_presignatures, setup=setup, rounds=5, iterations=1)
    assert sig.verify(shares[0].public_key, digest)
