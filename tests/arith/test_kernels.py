"""Differential tests of the big-number kernels: the native backend (tss._native, C over GMP)
against the gmpy2 backend and against Python's own integers, for every kernel; validation of the
public ``tss.arith`` API; safe-prime generation on both backends.

The backend modules are imported directly, and the public API is pointed at one backend or the
other by swapping ``tss.arith._B``, so both paths run in one process whatever the environment.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import gmpy2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tss.arith as arith

# importing the native backend directly: a failed build is a failure here, not a silent fallback
from tss.arith import _gmpy2, _native_backend
from tss.arith._sieve import sieve_window
from tss.errors import UsageError

BACKENDS = [_native_backend, _gmpy2]

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

M2048 = (1 << 2048) - 159  # odd, 2048 bits
P127 = (1 << 127) - 1  # Mersenne prime
P521 = (1 << 521) - 1  # Mersenne prime

moduli = st.one_of(
    st.integers(2, 1 << 70),
    st.integers(2, 1 << 1100),
    st.integers(1, 1 << 1099).map(lambda x: 2 * x + 1),
)
odd_moduli = st.integers(1, 1 << 1099).map(lambda x: 2 * x + 1)
big = st.integers(0, 1 << 1200)
signed = st.integers(-(1 << 1200), 1 << 1200)
exponents = st.integers(0, 1 << 2300)  # often longer than the modulus


@contextlib.contextmanager
def using(backend):
    """Point the public tss.arith API at ``backend`` for the block."""
    saved = arith._B
    arith._B = backend
    try:
        yield
    finally:
        arith._B = saved


def _pow_or_none(b: int, e: int, m: int) -> int | None:
    try:
        return pow(b, e, m)
    except ValueError:  # negative exponent, base not invertible
        return None


# ---------------------------------------------------------------------------------- smoke


def test_native_module_imports():
    import tss._native as native

    for name in (
        "tss_powmod", "tss_powmod_sec", "tss_multi_powmod", "tss_batch_powmod",
        "tss_crt_powmod", "tss_invert", "tss_is_probable_prime", "tss_safe_prime_window",
    ):  # fmt: skip
        assert hasattr(native.lib, name)
    assert _native_backend.NAME == "native"
    if os.environ.get("TSS_BACKEND", "").lower() != "gmpy2":
        assert arith.BACKEND == "native"


def test_backend_env_forces_gmpy2():
    env = dict(os.environ, TSS_BACKEND="gmpy2")
    out = subprocess.run(
        [sys.executable, "-c", "import tss.arith as a; print(a.BACKEND)"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "gmpy2"


def test_backends_have_the_same_functions():
    names = [
        "powmod", "powmod_sec", "multi_powmod", "batch_powmod", "crt_powmod", "invert",
        "is_probable_prime", "safe_prime_window",
    ]  # fmt: skip
    for backend in BACKENDS:
        for name in names:
            assert callable(getattr(backend, name)), (backend.NAME, name)


# ---------------------------------------------------------------------------------- powmod


@SETTINGS
@given(b=big, e=exponents, m=moduli)
@example(b=0, e=0, m=2)
@example(b=0, e=0, m=M2048)
@example(b=0, e=5, m=7)
@example(b=1, e=(1 << 3000) + 1, m=M2048)
@example(b=M2048 - 1, e=2, m=M2048)
@example(b=M2048 - 1, e=(1 << 4096) - 1, m=M2048)
@example(b=3, e=1 << 5000, m=(1 << 2048))  # even modulus, exponent longer than it
@example(b=6, e=3, m=12)  # base not a unit
@example(b=5, e=1, m=2)
def test_powmod(b, e, m):
    b %= m
    want = pow(b, e, m)
    assert _native_backend.powmod(b, e, m) == want
    assert _gmpy2.powmod(b, e, m) == want


@SETTINGS
@given(b=signed, e=st.integers(-(1 << 300), 1 << 1300), m=moduli)
@example(b=3, e=-1, m=7)
@example(b=2, e=-1, m=4)  # no inverse
@example(b=0, e=-3, m=5)  # no inverse
@example(b=-1, e=-5, m=M2048)
@example(b=-(1 << 3000), e=0, m=3)
def test_powmod_public(b, e, m):
    want = _pow_or_none(b, e, m)
    for backend in BACKENDS:
        with using(backend):
            if want is None:
                with pytest.raises(UsageError):
                    arith.powmod(b, e, m)
            else:
                assert arith.powmod(b, e, m) == want, backend.NAME


@SETTINGS
@given(b=big, e=st.integers(1, 1 << 2300), m=odd_moduli)
@example(b=0, e=1, m=3)
@example(b=1, e=1, m=M2048)
@example(b=M2048 - 1, e=(1 << 2100) + 7, m=M2048)
@example(b=12, e=7, m=15)  # base not a unit
def test_powmod_sec(b, e, m):
    b %= m
    want = pow(b, e, m)
    assert _native_backend.powmod_sec(b, e, m) == want
    assert _gmpy2.powmod_sec(b, e, m) == want


@SETTINGS
@given(b=signed, e=st.integers(-(1 << 300), 1 << 1300), m=odd_moduli)
@example(b=5, e=0, m=7)
@example(b=5, e=-2, m=7)
@example(b=3, e=-1, m=9)  # no inverse
def test_powmod_sec_public(b, e, m):
    want = _pow_or_none(b, e, m)
    for backend in BACKENDS:
        with using(backend):
            if want is None:
                with pytest.raises(UsageError):
                    arith.powmod_sec(b, e, m)
            else:
                assert arith.powmod_sec(b, e, m) == want, backend.NAME


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.NAME)
def test_powmod_sec_domain_errors_in_backend(backend):
    # the public layer never passes these; the backends refuse them the same way
    for args in [(3, 0, 7), (3, 5, 8)]:
        with pytest.raises(ValueError):
            backend.powmod_sec(*args)


# ---------------------------------------------------------------------------- multi_powmod


def _multi_ref(bases, exps, m):
    acc = 1 % m
    for b, e in zip(bases, exps, strict=True):
        acc = acc * pow(b, e, m) % m
    return acc


@SETTINGS
@given(
    data=st.lists(st.tuples(big, exponents), min_size=0, max_size=6),
    m=moduli,
)
@example(data=[], m=7)
@example(data=[(0, 0), (0, 0)], m=M2048)
@example(data=[(5, 0), (7, 0), (9, 0)], m=11)
@example(data=[(2, 1), (3, 1)], m=2)
@example(data=[(0, 5), (3, 9)], m=M2048)
@example(data=[(M2048 - 1, (1 << 2048) - 1), (2, 1 << 4000)], m=M2048)
@example(data=[(3, 1 << 10), (5, (1 << 2047) + 1), (7, 3)], m=M2048)
@example(data=[(3, 100), (5, 200)], m=1 << 100)  # even modulus
@example(data=[(b, (1 << 300) + b) for b in range(2, 12)], m=M2048)  # more than 3 bases
def test_multi_powmod(data, m):
    bases = [b % m for b, _ in data]
    exps = [e for _, e in data]
    want = _multi_ref(bases, exps, m)
    assert _native_backend.multi_powmod(bases, exps, m) == want
    assert _gmpy2.multi_powmod(bases, exps, m) == want


@SETTINGS
@given(
    data=st.lists(st.tuples(signed, st.integers(-(1 << 200), 1 << 1300)), max_size=4),
    m=moduli,
)
@example(data=[(3, -1), (5, 2)], m=7)
@example(data=[(3, -1), (2, 2)], m=9)  # 3 has no inverse mod 9
def test_multi_powmod_public(data, m):
    bases = [b for b, _ in data]
    exps = [e for _, e in data]
    parts = [_pow_or_none(b, e, m) for b, e in data]
    for backend in BACKENDS:
        with using(backend):
            if None in parts:
                with pytest.raises(UsageError):
                    arith.multi_powmod(bases, exps, m)
            else:
                want = 1 % m
                for x in parts:
                    want = want * x % m
                assert arith.multi_powmod(bases, exps, m) == want, backend.NAME


# ---------------------------------------------------------------------------- batch_powmod


@SETTINGS
@given(
    items=st.lists(st.tuples(big, exponents, moduli), max_size=6),
    threads=st.sampled_from([1, 2]),
)
@example(items=[], threads=2)
@example(items=[(0, 0, 2)], threads=2)
@example(items=[(5, 7, 1 << 64), (M2048 - 2, (1 << 2048) + 1, M2048), (0, 0, 3)], threads=2)
def test_batch_powmod(items, threads):
    items = [(b % m, e, m) for b, e, m in items]
    want = [pow(*t) for t in items]
    assert _native_backend.batch_powmod(items, threads) == want
    assert _gmpy2.batch_powmod(items, threads) == want
    for backend in BACKENDS:
        with using(backend):
            assert arith.batch_powmod(items, threads=threads) == want


def test_batch_powmod_many_items_two_threads():
    m = M2048
    items = [(i * 7919 + 2, (1 << 1024) + i, m - 2 * i) for i in range(17)]
    want = [pow(*t) for t in items]
    assert _native_backend.batch_powmod(items, 2) == want
    assert _native_backend.batch_powmod(items, 1) == want


# ------------------------------------------------------------------------------ crt_powmod


def _prime(seed: int, bits: int) -> int:
    return int(gmpy2.next_prime(seed % (1 << bits) | (1 << (bits - 1))))


crt_cases = st.tuples(
    st.integers(0, 1 << 200), st.integers(0, 1 << 200), st.sampled_from([16, 64, 100, 300]),
    st.sampled_from([1, 2]),
)


@SETTINGS
@given(case=crt_cases, b=signed, e=st.integers(-(1 << 300), 1 << 1500))
@example(case=(1, 2, 64, 2), b=0, e=0)
@example(case=(1, 2, 64, 2), b=0, e=5)
@example(case=(3, 4, 100, 1), b=1, e=-1)
@example(case=(5, 6, 300, 2), b=-1, e=(1 << 1500) - 1)
def test_crt_powmod_public(case, b, e):
    s1, s2, bits, power = case
    p, q = _prime(s1, bits), _prime(s2 ^ 0x5555, bits + 3)
    m1, m2 = p**power, q**power
    crt = arith.crt_params(m1, m2, p ** (power - 1) * (p - 1), q ** (power - 1) * (q - 1))
    want = _pow_or_none(b, e, m1 * m2)
    for backend in BACKENDS:
        with using(backend):
            if want is None:
                with pytest.raises(UsageError):
                    arith.crt_powmod(b, e, crt)
            else:
                assert arith.crt_powmod(b, e, crt) == want, backend.NAME


@SETTINGS
@given(
    m1=moduli, m2=moduli, phi1=st.integers(1, 1 << 1200), phi2=st.integers(1, 1 << 1200),
    coeff=st.integers(0, 1 << 1200), b=big, e=exponents,
)
@example(m1=9, m2=15, phi1=6, phi2=8, coeff=4, b=3, e=10)  # bases that are not units
@example(m1=8, m2=9, phi1=4, phi2=6, coeff=8, b=5, e=12)  # an even modulus
@example(m1=7, m2=11, phi1=6, phi2=10, coeff=8, b=0, e=0)
@example(m1=7, m2=11, phi1=6, phi2=10, coeff=8, b=76, e=30)  # e reduces to 0 mod both orders
def test_crt_powmod_formula(m1, m2, phi1, phi2, coeff, b, e):
    # whatever the parameters, the native kernel computes exactly what the gmpy2 one does
    b %= m1 * m2
    assert _native_backend.crt_powmod(b, e, m1, m2, phi1, phi2, coeff) == _gmpy2.crt_powmod(
        b, e, m1, m2, phi1, phi2, coeff
    )


def test_crt_powmod_paillier_sized():
    ps = [arith.random_safe_prime(512, seed=s) for s in (b"crt-p", b"crt-q")]
    p, q = ps
    crt = arith.crt_params(p * p, q * q, p * (p - 1), q * (q - 1))
    n2 = (p * q) ** 2
    b, e = n2 // 3, (1 << 2100) + 12345
    for backend in BACKENDS:
        with using(backend):
            assert arith.crt_powmod(b, e, crt) == pow(b, e, n2)


# ---------------------------------------------------------------------------------- invert


@SETTINGS
@given(a=signed, m=moduli)
@example(a=0, m=2)
@example(a=1, m=2)
@example(a=2, m=4)
@example(a=M2048 - 1, m=M2048)
@example(a=6, m=9)
@example(a=-1, m=1 << 100)
def test_invert(a, m):
    want = _pow_or_none(a, -1, m)
    assert _native_backend.invert(a % m, m) == want
    assert _gmpy2.invert(a % m, m) == want
    for backend in BACKENDS:
        with using(backend):
            if want is None:
                with pytest.raises(UsageError):
                    arith.invert(a, m)
            else:
                assert arith.invert(a, m) == want


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.NAME)
def test_invert_edge_moduli_in_backend(backend):
    assert backend.invert(3, 1) == 0
    assert backend.invert(0, 1) == 0
    assert backend.invert(3, 0) is None


# ----------------------------------------------------------------------------- primality

PSEUDOPRIMES = [
    2047, 3277, 4033, 4681, 8321,  # strong pseudoprimes to base 2
    561, 1105, 1729, 41041, 825265,  # Carmichael numbers
    3215031751, 3825123056546413051,  # strong pseudoprimes to several small bases
    318665857834031151167461,  # strong pseudoprime to the first 12 prime bases
]  # fmt: skip


@pytest.mark.parametrize(
    "n, want",
    [(0, False), (1, False), (2, True), (3, True), (4, False), (9, False), (65537, True),
     (P127, True), (P521, True), (P127 * P521, False), ((1 << 1279) - 1, True),
     ((1 << 1277) - 1, False)]
    + [(n, False) for n in PSEUDOPRIMES],
)  # fmt: skip
def test_is_probable_prime_known(n, want):
    assert _native_backend.is_probable_prime(n) is want
    assert _gmpy2.is_probable_prime(n) is want
    for backend in BACKENDS:
        with using(backend):
            assert arith.is_probable_prime(n) is want
            assert arith.is_probable_prime(-n) is False


@SETTINGS
@given(n=st.one_of(st.integers(0, 1 << 20), st.integers(0, 1 << 600)))
def test_is_probable_prime(n):
    want = bool(gmpy2.is_prime(n, 40))
    assert _native_backend.is_probable_prime(n) is want
    assert _gmpy2.is_probable_prime(n) is want


# ----------------------------------------------------------------------------- safe primes


@settings(max_examples=25, deadline=None)
@given(q0=st.integers(1, 1 << 200).map(lambda x: 2 * x + 1), window=st.integers(0, 3000))
@example(q0=1, window=3000)  # q equal to a sieving prime is struck, as in _sieve.py
@example(q0=3, window=40000)
@example(q0=(1 << 63) + 1, window=2000)
@example(q0=(1 << 64) - 1, window=2000)
def test_safe_prime_window_agrees(q0, window):
    got = _native_backend.safe_prime_window(q0, window)
    assert got == _gmpy2.safe_prime_window(q0, window)
    if got:
        i = (got - q0) // 2
        assert 0 <= i < window and got == q0 + 2 * i
        assert gmpy2.is_prime(got) and gmpy2.is_prime(2 * got + 1)
        # no survivor of the sieve before it is a safe-prime pair
        for j in sieve_window(q0, i):
            q = q0 + 2 * j
            assert not (gmpy2.is_prime(q) and gmpy2.is_prime(2 * q + 1))


@pytest.mark.parametrize("q0", [(1 << 40) + 1, (1 << 100) + 1, 3])
def test_safe_prime_window_in_slices(monkeypatch, q0):
    # windows longer than one kernel call are scanned slice by slice, with the same answer
    want = _gmpy2.safe_prime_window(q0, 20000)
    monkeypatch.setattr(_native_backend, "_WINDOW_SLICE", 37)
    assert _native_backend.safe_prime_window(q0, 20000) == want


def _check_safe(p: int, bits: int) -> None:
    q = (p - 1) // 2
    assert p.bit_length() == bits
    assert p % 4 == 3
    assert p >> (bits - 2) == 0b11  # top two bits set
    assert gmpy2.is_prime(p, 50) and gmpy2.is_prime(q, 50)


@pytest.mark.parametrize("bits", [32, 64, 65, 127, 128, 200, 256])
def test_random_safe_prime_same_on_both_backends(bits):
    seed = b"kernels-%d" % bits
    got = []
    for backend in BACKENDS:
        with using(backend):
            got.append(arith.random_safe_prime(bits, seed=seed))
    assert got[0] == got[1]
    _check_safe(got[0], bits)


def test_random_safe_prime_unseeded():
    with using(_native_backend):
        p = arith.random_safe_prime(160)
    _check_safe(p, 160)


def test_random_safe_prime_1024_same_on_both_backends():
    seed = b"kernels-1024"
    with using(_native_backend):
        p = arith.random_safe_prime(1024, seed=seed)
    _check_safe(p, 1024)
    with using(_gmpy2):
        assert arith.random_safe_prime(1024, seed=seed) == p


# ----------------------------------------------------------------------- threads, errors


def test_native_calls_from_threads():
    m = M2048
    jobs = [(i + 2, (1 << 2000) + i, m) for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda t: _native_backend.powmod(*t), jobs))
        windows = list(
            pool.map(lambda q0: _native_backend.safe_prime_window(q0, 2000), [(1 << 80) + 1] * 4)
        )
    assert got == [pow(*t) for t in jobs]
    assert len(set(windows)) == 1


BAD = [1.0, 2.5, "7", b"7", True, False, None, [3]]


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.NAME)
def test_public_validation(backend):
    with using(backend):
        for m in (0, 1, -1, -7):
            with pytest.raises(UsageError):
                arith.powmod(2, 3, m)
            with pytest.raises(UsageError):
                arith.powmod_sec(2, 3, m)
            with pytest.raises(UsageError):
                arith.invert(2, m)
            with pytest.raises(UsageError):
                arith.multi_powmod([2], [3], m)
            with pytest.raises(UsageError):
                arith.batch_powmod([(2, 3, m)])
        for bad in BAD:
            for args in [(bad, 3, 7), (2, bad, 7), (2, 3, bad)]:
                with pytest.raises(UsageError):
                    arith.powmod(*args)
                with pytest.raises(UsageError):
                    arith.powmod_sec(*args)
                with pytest.raises(UsageError):
                    arith.batch_powmod([args])
            with pytest.raises(UsageError):
                arith.invert(bad, 7)
            with pytest.raises(UsageError):
                arith.multi_powmod([bad], [1], 7)
            with pytest.raises(UsageError):
                arith.is_probable_prime(bad)
            with pytest.raises(UsageError):
                arith.random_safe_prime(bad)
        with pytest.raises(UsageError):
            arith.powmod_sec(2, 3, 8)  # even modulus
        with pytest.raises(UsageError):
            arith.invert(6, 9)
        with pytest.raises(UsageError):
            arith.powmod(6, -1, 9)
        with pytest.raises(UsageError):
            arith.multi_powmod([2, 3], [1], 7)
        with pytest.raises(UsageError):
            arith.batch_powmod([(2, 3)])
        with pytest.raises(UsageError):
            arith.batch_powmod([(2, 3, 7)], threads=0)
        with pytest.raises(UsageError):
            arith.crt_params(8, 9, 4, 6)  # even
        with pytest.raises(UsageError):
            arith.crt_params(9, 15, 6, 8)  # not coprime
        with pytest.raises(UsageError):
            arith.crt_params(7, 11, 0, 10)
        with pytest.raises(UsageError):
            arith.crt_powmod(2, 3, (7, 11, 6, 10, 8))
        with pytest.raises(UsageError):
            arith.random_safe_prime(31)
        with pytest.raises(UsageError):
            arith.random_safe_prime(64, seed="text")
        assert arith.multi_powmod([], [], 7) == 1
        assert arith.batch_powmod([]) == []
        assert arith.powmod_sec(5, 0, 7) == 1
        assert arith.crt_powmod(5, 0, arith.crt_params(7, 11, 6, 10)) == 1
