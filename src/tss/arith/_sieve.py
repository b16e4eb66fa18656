"""The joint sieve used by safe-prime search in the pure (gmpy2) backend.

A window holds the odd candidates q = q0 + 2i, i < window. A candidate survives when neither q
nor 2q + 1 is divisible by any odd prime below ``SIEVE_BOUND``; only survivors reach a
probable-prime test. The native kernel implements the same sieve in C, so both backends visit
candidates in the same order and, given the same q0, find the same prime.
"""

from __future__ import annotations

from collections.abc import Iterator

SIEVE_BOUND = 1 << 16


def _odd_primes_below(n: int) -> list[int]:
    flags = bytearray([1]) * n
    flags[0:2] = b"\x00\x00"
    for i in range(2, int(n**0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = bytearray(len(range(i * i, n, i)))
    return [i for i in range(3, n) if flags[i]]


SMALL_PRIMES: tuple[int, ...] = tuple(_odd_primes_below(SIEVE_BOUND))


def sieve_window(q0: int, window: int) -> Iterator[int]:
    """Yield the offsets i (ascending) whose q = q0 + 2i passes the joint sieve; q0 must be odd."""
    alive = bytearray([1]) * window
    for r in SMALL_PRIMES:
        inv2 = (r + 1) // 2  # 2^-1 mod r
        q0r = q0 % r
        # q0 + 2i = 0 (mod r)  <=>  i = -q0 * 2^-1
        i1 = (-q0r * inv2) % r
        # 2(q0 + 2i) + 1 = 0 (mod r)  <=>  i = (-1 - 2 q0) * 4^-1
        i2 = ((-1 - 2 * q0r) * inv2 * inv2) % r
        # never strike q or p equal to r itself (only matters for tiny q0)
        if i1 < window:
            alive[i1::r] = bytes(len(range(i1, window, r)))
        if i2 < window:
            alive[i2::r] = bytes(len(range(i2, window, r)))
    for i, flag in enumerate(alive):
        if flag:
            yield i
