"""Differential tests of ``fixed_base_powmod`` (many exponents of one base): the native comb
kernel against the gmpy2 backend and Python's ``pow``, on both backends through the public API,
for one or two threads, and the argument validation of ``tss.arith.fixed_base_powmod``.

The comb's shape (rows, tables) is chosen per call from the number and length of the exponents,
so the cases below vary both to reach small and large tables, exponents of a single bit, exponents
longer than the modulus, zero exponents mixed with others, and even moduli (no comb).
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

BACKENDS = [_native_backend, _gmpy2]
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

M2048 = (1 << 2048) - 159  # odd, 2048 bits

moduli = st.one_of(
    st.integers(2, 1 << 70),
    st.integers(2, 1 << 1100),
    st.integers(1, 1 << 1099).map(lambda x: 2 * x + 1),
)
bases = st.integers(0, 1 << 1200)
exponent = st.one_of(
    st.integers(0, 3),
    st.integers(0, 1 << 64),
    st.integers(0, 1 << 1300),
    st.integers(0, 10).map(lambda k: (1 << (64 * k)) - 1),
)


@contextlib.contextmanager
def using(backend):
    saved = arith._B
    arith._B = backend
    try:
        yield
    finally:
        arith._B = saved


@SETTINGS
@given(b=bases, exps=st.lists(exponent, max_size=40), m=moduli, threads=st.sampled_from([1, 2]))
@example(b=3, exps=[], m=7, threads=2)
@example(b=0, exps=[0, 1, 5], m=11, threads=1)
@example(b=5, exps=[0, 0, 0], m=1 << 64, threads=2)
@example(b=M2048 - 2, exps=[(1 << 2048) + 1, 1, 0, 1 << 2047], m=M2048, threads=2)
@example(b=2, exps=[1], m=3, threads=1)
def test_backends_agree_with_pow(b, exps, m, threads):
    b %= m
    want = [pow(b, e, m) for e in exps]
    assert _native_backend.fixed_base_powmod(b, exps, m, threads) == want
    assert _gmpy2.fixed_base_powmod(b, exps, m, threads) == want
    for backend in BACKENDS:
        with using(backend):
            assert arith.fixed_base_powmod(b, exps, m, threads=threads) == want


@SETTINGS
@given(b=bases, exps=st.lists(st.integers(-(1 << 600), 1 << 600), max_size=12),
       m=st.integers(1, 1 << 700).map(lambda x: 2 * x + 1))
def test_negative_exponents_use_the_inverse(b, exps, m):
    b %= m
    try:
        want = [pow(b, e, m) for e in exps]
    except ValueError:  # not invertible
        for backend in BACKENDS:
            with using(backend), pytest.raises(UsageError):
                arith.fixed_base_powmod(b, exps, m)
        return
    for backend in BACKENDS:
        with using(backend):
            assert arith.fixed_base_powmod(b, exps, m, threads=2) == want


@pytest.mark.parametrize("count", [1, 2, 3, 7, 40, 130, 300])
@pytest.mark.parametrize("bits", [1, 2, 63, 64, 65, 500, 2048, 3100])
def test_table_shapes(count, bits):
    """Every comb shape the cost model picks for these sizes gives gmpy2's answer."""
    rnd = random.Random(count * 10_000 + bits)
    m = M2048
    b = rnd.randrange(2, m)
    exps = [rnd.getrandbits(bits) for _ in range(count)]
    exps[0] = (1 << bits) - 1  # the longest exponent, all ones
    if count > 2:
        exps[1] = 0
        exps[2] = 1 << (bits - 1)
    want = [int(gmpy2.powmod(b, e, m)) for e in exps]
    for threads in (1, 2):
        assert _native_backend.fixed_base_powmod(b, exps, m, threads) == want


def test_many_exponents_at_protocol_size():
    """The Πprm verifier's shape: 128 exponents below a 2048-bit odd modulus, base a square."""
    rnd = random.Random(7)
    m = M2048
    t = pow(rnd.randrange(2, m), 2, m)
    exps = [rnd.randrange(m) for _ in range(128)]
    want = [int(gmpy2.powmod(t, e, m)) for e in exps]
    assert _native_backend.fixed_base_powmod(t, exps, m, 2) == want
    assert arith.fixed_base_powmod(t, exps, m, threads=2) == want


def test_even_and_unit_moduli():
    for m in (2, 1 << 64, (1 << 300) + 2, 1):
        exps = [0, 1, 2, 1 << 70, 12345]
        want = [pow(7, e, m) for e in exps]
        assert _native_backend.fixed_base_powmod(7, exps, m, 2) == want
        assert _gmpy2.fixed_base_powmod(7, exps, m, 2) == want


def test_bases_outside_the_range_are_reduced():
    m = (1 << 127) - 1
    for b in (m, m + 5, 3 * m - 1, -4):
        want = [pow(b, e, m) for e in (1, 2, 99)]
        assert _native_backend.fixed_base_powmod(b, [1, 2, 99], m, 1) == want


def test_counter_records_each_exponent():
    m = M2048
    with arith.counting() as c:
        arith.fixed_base_powmod(3, [1 << 2000, 5, 1 << 2047], m)
    assert c.total() == 3
    assert c.counts[(2048, 2048)] == 2


def test_argument_validation():
    for backend in BACKENDS:
        with using(backend):
            with pytest.raises(UsageError):
                arith.fixed_base_powmod(2, [3], 1)
            with pytest.raises(UsageError):
                arith.fixed_base_powmod(2, [3], 7, threads=0)
            for bad in (1.0, "3", None, True):
                with pytest.raises(UsageError):
                    arith.fixed_base_powmod(bad, [3], 7)  # type: ignore[arg-type]
                with pytest.raises(UsageError):
                    arith.fixed_base_powmod(2, [bad], 7)  # type: ignore[list-item]
                with pytest.raises(UsageError):
                    arith.fixed_base_powmod(2, [3], bad)  # type: ignore[arg-type]
            assert arith.fixed_base_powmod(2, [], 7) == []
            with pytest.raises(UsageError):  # 7 is not invertible mod 14
                arith.fixed_base_powmod(7, [-1], 14)


def test_direct_backend_rejects_bad_values():
    with pytest.raises(ValueError):
        _native_backend.fixed_base_powmod(2, [1], 0, 1)
    with pytest.raises(ValueError):
        _native_backend.fixed_base_powmod(2, [-1], 7, 1)


# ------------------------------------------------------------- kept tables (multi_powmod_fixed)

odd_moduli = st.one_of(
    st.integers(1, 1 << 70).map(lambda x: 2 * x + 1),
    st.integers(1 << 500, 1 << 1100).map(lambda x: 2 * x + 1),
)
signed_exponent = st.one_of(
    st.integers(-3, 3),
    st.integers(-(1 << 200), 1 << 200),
    st.integers(-(1 << 2600), 1 << 2600),
    st.sampled_from([(1 << 63) - 1, 1 << 63, -(1 << 63), (1 << 64) - 1, -(1 << 64) + 1]),
)


def _plain(bases, exps, m, sec):
    return (arith.multi_powmod_sec if sec else arith.multi_powmod)(bases, exps, m)


@SETTINGS
@given(bases=st.lists(bases, min_size=0, max_size=4), data=st.data(), m=odd_moduli,
       sec=st.booleans())
@example(bases=[2, 3], data=None, m=M2048, sec=True)
def test_kept_tables_agree_with_multi_powmod(bases, data, m, sec):
    exps = ([5, -7] if data is None else
            data.draw(st.lists(signed_exponent, min_size=len(bases), max_size=len(bases))))
    fixed = arith.multi_powmod_fixed_sec if sec else arith.multi_powmod_fixed
    for backend in BACKENDS:
        with using(backend):
            try:
                want = _plain(bases, exps, m, sec)
            except UsageError:  # a negative exponent of a base that is not a unit
                with pytest.raises(UsageError):
                    fixed(bases, exps, m)
                continue
            assert fixed(bases, exps, m) == want
            assert fixed(bases, exps, m) == want  # the second time from the kept tables


def test_kept_tables_at_protocol_size():
    rnd = random.Random(11)
    m = int(gmpy2.next_prime((1 << 2047) + 12345))  # every base is a unit
    s, t = pow(rnd.randrange(2, m), 2, m), pow(rnd.randrange(2, m), 2, m)
    for _ in range(6):
        x, y = rnd.randrange(-(1 << 768), 1 << 768), rnd.randrange(-(1 << 2560), 1 << 2560)
        want = int(gmpy2.powmod(s, x, m) * gmpy2.powmod(t, y, m) % m)
        assert arith.multi_powmod_fixed([s, t], [x, y], m) == want
        assert arith.multi_powmod_fixed_sec([s, t], [x, y], m) == want


def test_kept_tables_fallbacks():
    # even modulus: variable time falls back, constant time refuses as powmod_sec does
    assert arith.multi_powmod_fixed([3, 5], [7, 9], 1 << 80) == pow(3, 7, 1 << 80) * pow(
        5, 9, 1 << 80) % (1 << 80)
    with pytest.raises(UsageError):
        arith.multi_powmod_fixed_sec([3], [7], 1 << 80)
    # a base that is not a unit: plain exponentiation, same answers and errors
    m = 3 * ((1 << 127) - 1)
    assert arith.multi_powmod_fixed([3, 2], [5, 9], m) == pow(3, 5, m) * pow(2, 9, m) % m
    assert arith.multi_powmod_fixed_sec([3, 2], [5, 9], m) == pow(3, 5, m) * pow(2, 9, m) % m
    with pytest.raises(UsageError):
        arith.multi_powmod_fixed([3], [-1], m)
    assert arith.multi_powmod_fixed([], [], 7) == 1
    with pytest.raises(UsageError):
        arith.multi_powmod_fixed([2], [], 7)


def test_kept_tables_cache_is_bounded_and_clearable(monkeypatch):
    monkeypatch.setattr(arith, "_KEPT_BUDGET", 1)
    arith.fixed_base_cache_clear()
    m = (1 << 521) - 1
    for b in range(2, 12):
        assert arith.multi_powmod_fixed_sec([b], [1 << 300], m) == pow(b, 1 << 300, m)
    assert len(arith._kept) == 1
    arith.fixed_base_cache_clear()
    assert len(arith._kept) == 0 and arith._kept_bytes == 0


def test_kept_tables_count_like_the_functions_they_replace():
    m = M2048
    with arith.counting() as c1:
        arith.multi_powmod_fixed_sec([3, 5], [1 << 700, 0], m)
    with arith.counting() as c2:
        arith.multi_powmod_sec([3, 5], [1 << 700, 0], m)
    assert c1.counts == c2.counts
    with arith.counting() as c1:
        arith.multi_powmod_fixed([3, 5], [1 << 700, -9], m)
    with arith.counting() as c2:
        arith.multi_powmod([3, 5], [1 << 700, -9], m)
    assert c1.counts == c2.counts


def test_native_table_rejects_bad_arguments():
    from tss._native import ffi, lib

    assert lib.tss_fb_new(b"\x02", 1, b"\x08", 1, 0, 64, 0) == ffi.NULL  # even m
    assert lib.tss_fb_new(b"\x02", 1, b"\x07", 1, 0, 0, 0) == ffi.NULL  # no bits
    assert lib.tss_fb_new(b"\x02", 1, b"\x07", 1, 9, 9, 0) == ffi.NULL  # offset >= bits
    assert lib.tss_fb_new(b"\x03", 1, b"\x0f", 1, 4, 9, 0) == ffi.NULL  # 3 is not a unit mod 15
    for backend in BACKENDS:
        assert backend.fb_new(3, 15, 4, 9, True) is None
        assert backend.fb_new(3, 15, 0, 9, True) is not None  # no offset: no inverse needed
        with pytest.raises(ValueError):
            backend.fb_new(3, 16, 0, 9, True)
        h = backend.fb_new(3, 101, 0, 8, True)
        with pytest.raises(ValueError):
            backend.fb_pow([h], [1 << 8], 101)  # exponent too long for the table
        other = backend.fb_new(3, 103, 0, 8, True)
        with pytest.raises(ValueError):
            backend.fb_pow([h, other], [1, 1], 101)  # two moduli
        var = backend.fb_new(3, 101, 0, 8, False)
        with pytest.raises(ValueError):
            backend.fb_pow([h, var], [1, 1], 101)  # two flavours
        assert backend.fb_pow([h], [255], 101) == pow(3, 255, 101)


@pytest.mark.parametrize("sec", [False, True])
@pytest.mark.parametrize("offset", [1, 63, 64, 65, 300, 1000])
def test_table_offsets(sec, offset):
    """b^(e - 2^offset) for e across the whole capacity, both backends, odd moduli of several
    sizes (the correction comes from the chain of the comb at any offset)."""
    rnd = random.Random(offset * 2 + sec)
    for mbits in (70, 521, 2048):
        m = int(gmpy2.next_prime(rnd.getrandbits(mbits) | (1 << (mbits - 1))))
        b = rnd.randrange(2, m)
        for bits in (offset + 1, offset + 70):
            hs = [backend.fb_new(b, m, offset, bits, sec) for backend in BACKENDS]
            for e in (0, 1, 1 << offset, (1 << offset) - 1, (1 << bits) - 1,
                      rnd.getrandbits(bits)):
                want = pow(b, e - (1 << offset), m)
                for backend, h in zip(BACKENDS, hs):
                    assert backend.fb_pow([h], [e], m) == want
