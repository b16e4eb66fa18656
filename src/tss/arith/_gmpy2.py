"""The fallback backend: every kernel on gmpy2 (GMP through its Python binding).

Arguments arrive validated by :mod:`tss.arith` (moduli >= 2, exponents >= 0, bases reduced), so
these functions only compute. The native backend (``_native_backend``) implements the same names.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import gmpy2
from gmpy2 import mpz

from ._sieve import SMALL_PRIMES, sieve_window

NAME = "gmpy2"


def powmod(b: int, e: int, m: int) -> int:
    return int(gmpy2.powmod(b, e, m))


def powmod_sec(b: int, e: int, m: int) -> int:
    # gmpy2.powmod_sec needs e > 0 and m odd; the caller guarantees both.
    return int(gmpy2.powmod_sec(b, e, m))


def multi_powmod(bases: Sequence[int], exps: Sequence[int], m: int) -> int:
    mm = mpz(m)
    acc = mpz(1)
    for b, e in zip(bases, exps):
        acc = acc * gmpy2.powmod(b, e, mm) % mm
    return int(acc)


def batch_powmod(items: Sequence[tuple[int, int, int]], threads: int) -> list[int]:
    if threads <= 1 or len(items) < 2:
        return [int(gmpy2.powmod(b, e, m)) for b, e, m in items]
    # gmpy2 releases the GIL inside powmod for large operands only on some builds; threads are
    # still correct, if not always faster.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [int(x) for x in pool.map(lambda t: gmpy2.powmod(*t), items)]


def batch_powmod_sec(items: Sequence[tuple[int, int, int]], threads: int) -> list[int]:
    for _b, e, m in items:
        if e <= 0 or m <= 0 or not m & 1:
            raise ValueError("batch_powmod_sec needs e > 0 and an odd positive modulus")
    return [int(gmpy2.powmod_sec(b, e, m)) for b, e, m in items]


def batch_crt_powmod(items: Sequence[tuple[int, int]], m1: int, m2: int, phi1: int, phi2: int,
                     coeff: int, threads: int) -> list[int]:
    if min(m1, m2) < 3 or not m1 & m2 & 1 or min(phi1, phi2) <= 0:
        raise ValueError("batch_crt_powmod: moduli must be odd above 1, group orders positive")
    if any(e < 0 for _, e in items):
        raise ValueError("batch_crt_powmod needs e >= 0")
    return [crt_powmod(b, e, m1, m2, phi1, phi2, coeff) for b, e in items]


def fixed_base_powmod(b: int, exps: Sequence[int], m: int, threads: int) -> list[int]:
    # the same results as the native comb, one powmod each (threads as in batch_powmod)
    mm = mpz(m)
    bb = mpz(b) % mm
    return batch_powmod([(bb, e, mm) for e in exps], threads)


class _Kept:
    """The gmpy2 stand-in for a kept fixed-base table: the same powers, one powmod each."""

    __slots__ = ("b", "m", "offset", "bits", "sec")

    def __init__(self, b: int, m: int, offset: int, bits: int, sec: bool) -> None:
        self.b, self.m = mpz(b % m), mpz(m)
        self.offset, self.bits, self.sec = offset, bits, sec


def fb_new(b: int, m: int, offset: int, bits: int, sec: bool) -> _Kept | None:
    if m < 3 or not m & 1 or bits < 1 or not 0 <= offset < bits:
        raise ValueError("fixed-base tables need an odd modulus above 1, 0 <= offset < bits")
    if offset and gmpy2.gcd(b, m) != 1:
        return None
    return _Kept(b, m, offset, bits, sec)


def fb_bytes(handle: _Kept) -> int:
    return 64


def fb_pow(handles: Sequence[_Kept], exps: Sequence[int], m: int,
           nbytes: Sequence[int] | None = None) -> int:
    acc = mpz(1)
    for h, e in zip(handles, exps, strict=True):
        if h.m != m or h.sec != handles[0].sec or not 0 <= e < (1 << h.bits):
            raise ValueError("fb_pow: another modulus or flavour, or an exponent out of range")
        e -= h.offset and 1 << h.offset
        b = h.b if e >= 0 else gmpy2.invert(h.b, h.m)
        p = gmpy2.powmod_sec(b, abs(e), h.m) if h.sec and e else gmpy2.powmod(b, abs(e), h.m)
        acc = acc * p % h.m
    return int(acc)


def crt_powmod(b: int, e: int, m1: int, m2: int, phi1: int, phi2: int, coeff: int) -> int:
    """b^e mod m1*m2 from the two halves; e >= 0; coeff = m1^-1 mod m2; secrets: constant time."""
    r1 = _half(b, e, m1, phi1)
    r2 = _half(b, e, m2, phi2)
    # Garner: x = r1 + m1 * ((r2 - r1) * coeff mod m2)
    return int(r1 + m1 * ((r2 - r1) * coeff % m2))


def _half(b: int, e: int, m: int, phi: int) -> mpz:
    bm = mpz(b) % m
    if gmpy2.gcd(bm, m) == 1:
        e = e % phi
    if e == 0:
        return mpz(1) % m
    return gmpy2.powmod_sec(bm, e, m) if m & 1 else gmpy2.powmod(bm, e, m)


def invert(a: int, m: int) -> int | None:
    try:
        return int(gmpy2.invert(a, m))
    except ZeroDivisionError:
        return None


def is_probable_prime(n: int) -> bool:
    return bool(gmpy2.is_prime(n, 40))


def safe_prime_window(q0: int, window: int) -> int:
    """The smallest odd q = q0 + 2i (i < window) with q and 2q+1 both prime, or 0."""
    q0 = mpz(q0)
    for i in sieve_window(int(q0), window):
        q = q0 + 2 * i
        p = 2 * q + 1
        # cheap base-2 tests on both before the full test
        if not gmpy2.is_strong_prp(q, 2) or not gmpy2.is_strong_prp(p, 2):
            continue
        if gmpy2.is_prime(q, 40) and gmpy2.is_prime(p, 40):
            return int(q)
    return 0


__all__ = [
    "NAME", "powmod", "powmod_sec", "multi_powmod", "batch_powmod", "batch_powmod_sec",
    "batch_crt_powmod", "fixed_base_powmod", "fb_new", "fb_bytes", "fb_pow", "crt_powmod",
    "invert", "is_probable_prime", "safe_prime_window", "SMALL_PRIMES",
]
