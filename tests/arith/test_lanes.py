"""The batch kernels with and without the AVX-512 IFMA lanes (eight exponentiations at once):
``batch_powmod``, ``batch_powmod_sec``, ``batch_crt_powmod`` and the safe-prime search, against
gmpy2 and against each other with the lanes switched off, on both backends where they exist.

The lanes take groups of at least three items whose moduli are odd, of one size and at least
256 bits, so the strategies below make such groups (same sizes, similar exponents) as well as
mixtures that fall back to GMP. On a CPU without AVX-512 IFMA both runs take the GMP path and the
tests still check it.
"""

from __future__ import annotations

import contextlib
import random

import gmpy2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tss.arith as arith
from tss.arith import _gmpy2, _native_backend
from tss.errors import UsageError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BACKENDS = [_native_backend, _gmpy2]


@contextlib.contextmanager
def simd(on: bool):
    before, _ = _native_backend.set_simd(on)
    try:
        yield
    finally:
        _native_backend.set_simd(before)


@contextlib.contextmanager
def using(backend):
    saved = arith._B
    arith._B = backend
    try:
        yield
    finally:
        arith._B = saved


def _odd(bits: int, rnd: random.Random) -> int:
    return rnd.getrandbits(bits) | 1 | (1 << (bits - 1))


@st.composite
def groups(draw):
    """A batch: a few groups of one modulus size (some sharing one modulus), plus strays."""
    rnd = random.Random(draw(st.integers(0, 1 << 32)))
    items = []
    for _ in range(draw(st.integers(0, 3))):
        bits = draw(st.sampled_from([256, 520, 1024, 1536, 2048, 3072, 4096]))
        shared = _odd(bits, rnd) if draw(st.booleans()) else None
        ebits = draw(st.sampled_from([1, 8, 64, 65, 300, 1024, 2048, 4100]))
        for _ in range(draw(st.integers(1, 11))):
            m = shared or _odd(bits + draw(st.integers(0, 40)), rnd)
            b = draw(st.sampled_from(["rand", 0, 1, "m-1"]))
            b = {"rand": rnd.randrange(m), "m-1": m - 1}.get(b, b)  # type: ignore[call-overload]
            e = rnd.getrandbits(ebits + draw(st.integers(0, 300))) or 1
            items.append((b, e, m))
    for _ in range(draw(st.integers(0, 3))):  # strays: small or even moduli, zero exponents
        m = draw(st.sampled_from([3, 1 << 70, (1 << 300) + 2, _odd(100, rnd), _odd(2048, rnd)]))
        items.append((rnd.randrange(m), draw(st.sampled_from([0, 1, 5, 1 << 2000])), m))
    rnd.shuffle(items)
    return items


@SETTINGS
@given(items=groups(), threads=st.sampled_from([1, 2]))
@example(items=[], threads=2)
@example(items=[(2, (1 << 1023) + 5, _odd(1024, random.Random(1)))] * 9, threads=2)
def test_batch_powmod_with_and_without_lanes(items, threads):
    want = [int(gmpy2.powmod(b, e, m)) for b, e, m in items]
    for on in (True, False):
        with simd(on):
            assert _native_backend.batch_powmod(items, threads) == want
            assert arith.batch_powmod(items, threads=threads) == want


@SETTINGS
@given(items=groups(), threads=st.sampled_from([1, 2]))
def test_batch_powmod_sec_with_and_without_lanes(items, threads):
    items = [(b, e, m) for b, e, m in items if m & 1 and e > 0]
    want = [int(gmpy2.powmod(b, e, m)) for b, e, m in items]
    for on in (True, False):
        with simd(on):
            assert _native_backend.batch_powmod_sec(items, threads) == want
    assert _gmpy2.batch_powmod_sec(items, threads) == want


def test_batch_powmod_sec_api():
    m = _odd(1024, random.Random(3))
    items = [(5, 0, m), (7, -3, m), (9, 1 << 1000, m), (m + 4, 2, m)]
    want = [1, pow(7, -3, m), pow(9, 1 << 1000, m), 16]
    for backend in BACKENDS:
        with using(backend):
            assert arith.batch_powmod_sec(items, threads=2) == want
            assert arith.batch_powmod_sec([]) == []
            with pytest.raises(UsageError):
                arith.batch_powmod_sec([(2, 3, 8)])  # even modulus
            with pytest.raises(UsageError):
                arith.batch_powmod_sec([(2, 3)])  # type: ignore[list-item]
            with pytest.raises(UsageError):
                arith.batch_powmod_sec([(2, 3, 7)], threads=0)
    for bad in ([(2, 0, 7)], [(2, 3, 8)], [(2, 3, 0)]):
        with pytest.raises(ValueError):
            _native_backend.batch_powmod_sec(bad, 1)


def _blum_key(seed: int, bits: int) -> tuple[int, int]:
    rnd = random.Random(seed)
    p = int(gmpy2.next_prime(rnd.getrandbits(bits) | (1 << (bits - 1))))
    q = int(gmpy2.next_prime(rnd.getrandbits(bits) | (1 << (bits - 1))))
    return p, q


@pytest.mark.parametrize("bits", [128, 512, 1024])
@pytest.mark.parametrize("squares", [False, True])
def test_batch_crt_powmod_matches_crt_powmod(bits, squares):
    p, q = _blum_key(bits, bits)
    crt = (arith.crt_params(p * p, q * q, p * (p - 1), q * (q - 1)) if squares
           else arith.crt_params(p, q, p - 1, q - 1))
    m = crt.modulus
    rnd = random.Random(bits + squares)
    items = [(rnd.randrange(m), rnd.getrandbits(rnd.choice([1, 200, 2 * bits, 5 * bits])))
             for _ in range(21)]
    items += [(p * 5, 77), (q, 1 << 200), (0, 9), (1, 0), (3, 0), (m - 1, p), (-5, 3)]
    want = [arith.crt_powmod(b, e, crt) for b, e in items]
    for on in (True, False):
        with simd(on):
            for threads in (1, 2):
                assert arith.batch_crt_powmod(items, crt, threads=threads) == want
    with using(_gmpy2):
        assert arith.batch_crt_powmod(items, crt, threads=2) == want


def test_batch_crt_powmod_api():
    p, q = _blum_key(9, 256)
    crt = arith.crt_params(p, q, p - 1, q - 1)
    assert arith.batch_crt_powmod([], crt) == []
    assert arith.batch_crt_powmod([(3, -1)], crt) == [pow(3, -1, p * q)]
    with pytest.raises(UsageError):
        arith.batch_crt_powmod([(3, 1)], (p, q))  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        arith.batch_crt_powmod([(3, 1, 1)], crt)  # type: ignore[list-item]
    with pytest.raises(UsageError):
        arith.batch_crt_powmod([(3, 1)], crt, threads=0)
    with pytest.raises(UsageError):
        arith.batch_crt_powmod([(p, -1)], crt)  # no inverse
    for backend in BACKENDS:
        with pytest.raises(ValueError):
            backend.batch_crt_powmod([(3, 1)], 4, q, 1, 1, 1, 1)
        with pytest.raises(ValueError):
            backend.batch_crt_powmod([(3, -1)], p, q, p - 1, q - 1, 1, 1)


def test_counter_records_the_halves():
    p, q = _blum_key(4, 512)
    crt = arith.crt_params(p, q, p - 1, q - 1)
    with arith.counting() as c1:
        arith.batch_crt_powmod([(5, p * q), (7, 0)], crt)
    with arith.counting() as c2:
        arith.crt_powmod(5, p * q, crt)
        arith.crt_powmod(7, 0, crt)
    assert c1.counts == c2.counts


@pytest.mark.parametrize("bits", [64, 256, 512])
def test_safe_primes_do_not_depend_on_the_lanes(bits):
    for seed in (b"a", b"lanes", b"\x00" * 5):
        with simd(True):
            on = arith.random_safe_prime(bits, seed=seed)
        with simd(False):
            off = arith.random_safe_prime(bits, seed=seed)
        assert on == off
        assert gmpy2.is_prime(on) and gmpy2.is_prime((on - 1) // 2)


def test_set_simd_reports_state():
    before, available = _native_backend.set_simd()
    with simd(False):
        assert _native_backend.set_simd() == (False, available)
    with simd(True):
        assert _native_backend.set_simd() == (available, available)
    assert _native_backend.set_simd()[0] == before
