"""Big-number kernels: the Python face of ``tss._native`` with a gmpy2 fallback.

``BACKEND`` is ``"native"`` when the C extension is built and ``"gmpy2"`` otherwise;
``TSS_BACKEND=gmpy2`` in the environment forces the fallback so that both paths can be tested.
Every function validates its arguments and raises :class:`tss.UsageError` on bad ones; the
backends only compute.

Exponentiations whose exponent or base is secret go through :func:`powmod_sec` or
:func:`crt_powmod` (constant time in GMP); :func:`powmod` and :func:`multi_powmod` are variable
time and for public values only.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import UsageError
from . import _gmpy2
from ._counter import OpCounter, counting, record

__all__ = [
    "BACKEND", "powmod", "powmod_sec", "multi_powmod", "multi_powmod_sec", "batch_powmod",
    "batch_powmod_sec", "batch_crt_powmod", "fixed_base_powmod", "multi_powmod_fixed",
    "multi_powmod_fixed_sec", "fixed_base_cache_clear", "invert", "crt_params", "CrtParams",
    "crt_powmod", "random_safe_prime", "is_probable_prime", "counting", "OpCounter",
]


def _choose_backend():
    if os.environ.get("TSS_BACKEND", "").lower() == "gmpy2":
        return _gmpy2
    try:
        from . import _native_backend
    except ImportError:
        return _gmpy2
    return _native_backend


_B = _choose_backend()
BACKEND: str = _B.NAME


def _int(name: str, x: object) -> int:
    # bool is an int subclass but never a meaningful operand here
    if type(x) is bool or not isinstance(x, int):
        raise UsageError(f"{name} must be an int, not {type(x).__name__}")
    return int(x)


def _modulus(m: object) -> int:
    m = _int("modulus", m)
    if m < 2:
        raise UsageError("modulus must be at least 2")
    return m


def invert(a: int, m: int) -> int:
    """a^-1 mod m; UsageError when gcd(a, m) != 1."""
    a = _int("a", a)
    m = _modulus(m)
    r = _B.invert(a % m, m)
    if r is None:
        raise UsageError("no inverse: the value is not coprime to the modulus")
    return r


def _prepare(b: object, e: object, m: int) -> tuple[int, int]:
    b = _int("base", b) % m
    e = _int("exponent", e)
    if e < 0:
        b = invert(b, m)
        e = -e
    return b, e


def powmod(b: int, e: int, m: int) -> int:
    """b^e mod m, variable time: public values only. Negative e uses the inverse of b."""
    m = _modulus(m)
    b, e = _prepare(b, e, m)
    record(m, e)
    return _B.powmod(b, e, m)


def powmod_sec(b: int, e: int, m: int) -> int:
    """b^e mod m in constant time (GMP's mpz_powm_sec), for secret b or e. m must be odd."""
    m = _modulus(m)
    if not m & 1:
        raise UsageError("powmod_sec needs an odd modulus")
    b, e = _prepare(b, e, m)
    if e == 0:
        return 1
    record(m, e)
    return _B.powmod_sec(b, e, m)


def multi_powmod(bases: Sequence[int], exps: Sequence[int], m: int) -> int:
    """prod b_i^e_i mod m in one simultaneous exponentiation (public values). Any number of bases;
    the native kernel runs one shared chain of squarings for all bases."""
    m = _modulus(m)
    if len(bases) != len(exps):
        raise UsageError("multi_powmod needs as many exponents as bases")
    if not bases:
        return 1 % m
    pairs = [_prepare(b, e, m) for b, e in zip(bases, exps)]
    record(m, max(e for _, e in pairs), len(pairs))
    return _B.multi_powmod([b for b, _ in pairs], [e for _, e in pairs], m)


def multi_powmod_sec(bases: Sequence[int], exps: Sequence[int], m: int) -> int:
    """prod b_i^e_i mod m with every exponentiation in constant time (secret exponents over a
    modulus whose factors the caller does not know, e.g. a peer's ring-Pedersen modulus)."""
    m = _modulus(m)
    if len(bases) != len(exps):
        raise UsageError("multi_powmod_sec needs as many exponents as bases")
    acc = 1 % m
    for b, e in zip(bases, exps):
        acc = acc * powmod_sec(b, e, m) % m
    return acc


# ---------------------------------------------------------------- kept fixed-base tables
#
# A base used for many exponentiations modulo one modulus (every party's ring-Pedersen s and t)
# gets a table once (a Lim-Lee comb, tss_fb_new) kept here, keyed by (modulus, base, exponent
# length class, flavour). An exponent e with |e| < 2^L, L its length class (a multiple of 64), is
# taken as e + 2^L, which is positive whatever the sign of e, against the table of b for
# exponents below 2^(L+1) that multiplies every power by b^(-2^L): no branch on the sign of a
# secret exponent, and the class reveals less than GMP's powm_sec does (the exponent's limbs).

_KEPT_BUDGET = 64 << 20  # bytes of tables kept, least recently used dropped first
_kept: OrderedDict[tuple[str, int, int, int, bool], object] = OrderedDict()
_kept_bytes = 0
_kept_lock = threading.Lock()
_sizes: dict[int, int] = {}  # id(table) -> bytes, for the tables in _kept
_NO_TABLE = object()  # the base is not a unit: no table, plain exponentiation


def fixed_base_cache_clear() -> None:
    """Drop every kept fixed-base table (they are rebuilt on demand)."""
    global _kept_bytes
    with _kept_lock:
        _kept.clear()
        _sizes.clear()
        _kept_bytes = 0


def _length_class(e: int) -> int:
    # a multiple of 64 at least 33 bits above |e|: the protocol's exponent bounds are multiples
    # of 64 bits and a random exponent is rarely more than a few bits below its bound, so all
    # the exponents drawn from one range share one class (one table), and the class tells
    # nothing about an exponent unless it is 2^-32-unlikely short
    return (abs(e).bit_length() + 33 + 63) // 64 * 64


def _kept_table(b: int, m: int, cls: int, sec: bool):
    global _kept_bytes
    key = (_B.NAME, m, b, cls, sec)  # the backend too: tests switch backends in one process
    with _kept_lock:
        h = _kept.get(key)
        if h is not None:
            _kept.move_to_end(key)
            return h
    # the table multiplies every power by b^(-2^cls); None when b is not a unit
    h = _B.fb_new(b, m, cls, cls + 1, sec)
    if h is None:
        h, size = _NO_TABLE, 0
    else:
        size = _B.fb_bytes(h)
    with _kept_lock:
        if key not in _kept:
            _kept[key] = h
            _sizes[id(h)] = size
            _kept_bytes += size
            while _kept_bytes > _KEPT_BUDGET and len(_kept) > 1:
                _, old = _kept.popitem(last=False)
                _kept_bytes -= _sizes.pop(id(old), 0)
        return _kept[key]


def _fixed_tables(bases: list[int], exps: list[int], m: int, sec: bool):
    """(tables, offset exponents) for prod b_i^e_i mod m, or None when a base has no table."""
    handles, offsets, nbytes = [], [], []
    for b, e in zip(bases, exps):
        cls = _length_class(e)
        h = _kept_table(b, m, cls, sec)
        if h is _NO_TABLE:
            return None
        handles.append(h)
        offsets.append(e + (1 << cls))
        nbytes.append((cls + 8) // 8)  # the table's capacity, 2^(cls+1)
    return handles, offsets, nbytes


def _fixed_args(name: str, bases: Sequence[int], exps: Sequence[int],
                m: object) -> tuple[int, list[int], list[int]]:
    m = _modulus(m)
    if len(bases) != len(exps):
        raise UsageError(f"{name} needs as many exponents as bases")
    return m, [_int("base", b) % m for b in bases], [_int("exponent", e) for e in exps]


def multi_powmod_fixed(bases: Sequence[int], exps: Sequence[int], m: int) -> int:
    """The same as :func:`multi_powmod` (variable time, public values), for bases that recur:
    each base gets a fixed-base table kept for later calls, after which a power costs a few
    hundred products instead of one per exponent bit. Falls back to :func:`multi_powmod` for an
    even modulus or a base that is not a unit."""
    m, bs, es = _fixed_args("multi_powmod_fixed", bases, exps, m)
    tables = _fixed_tables(bs, es, m, False) if bs and m & 1 and m > 2 else None
    if tables is None:
        return multi_powmod(bs, es, m)
    record(m, max(abs(e) for e in es), len(bs))
    return _B.fb_pow(*tables[:2], m, tables[2])


def multi_powmod_fixed_sec(bases: Sequence[int], exps: Sequence[int], m: int) -> int:
    """The same as :func:`multi_powmod_sec` (constant time in the exponents), for bases that
    recur (a verifier's ring-Pedersen s and t): kept tables, as in :func:`multi_powmod_fixed`,
    read in constant time. m must be odd. Falls back to :func:`multi_powmod_sec` for a base that
    is not a unit."""
    m, bs, es = _fixed_args("multi_powmod_fixed_sec", bases, exps, m)
    if not m & 1:
        raise UsageError("powmod_sec needs an odd modulus")
    tables = _fixed_tables(bs, es, m, True) if bs and m > 2 else None
    if tables is None:
        return multi_powmod_sec(bs, es, m)
    for e in es:
        if e:
            record(m, abs(e))
    return _B.fb_pow(*tables[:2], m, tables[2])


def batch_powmod(items: Sequence[tuple[int, int, int]], threads: int = 1) -> list[int]:
    """Several independent b^e mod m (public values) in one call, optionally on two threads."""
    threads = _int("threads", threads)
    if threads < 1:
        raise UsageError("threads must be at least 1")
    prepared = []
    for item in items:
        if len(item) != 3:
            raise UsageError("batch_powmod takes (base, exponent, modulus) triples")
        b, e, m = item
        m = _modulus(m)
        b, e = _prepare(b, e, m)
        record(m, e)
        prepared.append((b, e, m))
    if not prepared:
        return []
    return _B.batch_powmod(prepared, min(threads, 2))


def fixed_base_powmod(b: int, exps: Sequence[int], m: int, threads: int = 1) -> list[int]:
    """[b^e mod m for e in exps] (public values), the same results as ``powmod`` one by one.

    The native kernel builds one fixed-base table for b (a Lim-Lee comb, sized for the number
    and length of the exponents) and shares it among all the exponents, optionally on two
    threads: for many exponents of one base, several times faster than separate powers.
    Negative exponents use the inverse of b (UsageError when there is none)."""
    m = _modulus(m)
    threads = _int("threads", threads)
    if threads < 1:
        raise UsageError("threads must be at least 1")
    b = _int("base", b) % m
    es = [_int("exponent", e) for e in exps]
    if not es:
        return []
    for e in es:
        record(m, e)
    neg = [i for i, e in enumerate(es) if e < 0]
    if not neg:
        return _B.fixed_base_powmod(b, es, m, min(threads, 2))
    inv = invert(b, m)
    out = [0] * len(es)
    pos = [i for i, e in enumerate(es) if e >= 0]
    for idx, base, sign in ((pos, b, 1), (neg, inv, -1)):
        if idx:
            res = _B.fixed_base_powmod(base, [sign * es[i] for i in idx], m, min(threads, 2))
            for i, r in zip(idx, res):
                out[i] = r
    return out


def batch_powmod_sec(items: Sequence[tuple[int, int, int]], threads: int = 1) -> list[int]:
    """[powmod_sec(b, e, m) for (b, e, m) in items] in one call, optionally on two threads:
    constant time in every b and e (odd moduli only). The native kernel computes up to eight of
    them at once with AVX-512 IFMA when the CPU has it."""
    threads = _int("threads", threads)
    if threads < 1:
        raise UsageError("threads must be at least 1")
    out: list[int | None] = []
    todo: list[tuple[int, int, int]] = []
    where: list[int] = []
    for item in items:
        if len(item) != 3:
            raise UsageError("batch_powmod_sec takes (base, exponent, modulus) triples")
        b, e, m = item
        m = _modulus(m)
        if not m & 1:
            raise UsageError("powmod_sec needs an odd modulus")
        b, e = _prepare(b, e, m)
        if e == 0:
            out.append(1)
            continue
        record(m, e)
        where.append(len(out))
        out.append(None)
        todo.append((b, e, m))
    if todo:
        for i, r in zip(where, _B.batch_powmod_sec(todo, min(threads, 2))):
            out[i] = r
    return out  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, repr=False)
class CrtParams:
    """Two coprime moduli with their group orders, for exponentiation when the factors are known.

    For a Paillier modulus N = p q: ``crt_params(p, q, p - 1, q - 1)``; for N^2:
    ``crt_params(p*p, q*q, p*(p-1), q*(q-1))``. Holds secrets: no repr.
    """

    m1: int
    m2: int
    phi1: int
    phi2: int
    coeff: int  # m1^-1 mod m2

    @property
    def modulus(self) -> int:
        return self.m1 * self.m2

    def __repr__(self) -> str:
        return "CrtParams(<secret>)"


def crt_params(m1: int, m2: int, phi1: int, phi2: int) -> CrtParams:
    m1, m2 = _modulus(m1), _modulus(m2)
    phi1, phi2 = _int("phi1", phi1), _int("phi2", phi2)
    if phi1 < 1 or phi2 < 1:
        raise UsageError("group orders must be positive")
    if not (m1 & 1 and m2 & 1):
        raise UsageError("CRT moduli must be odd")
    return CrtParams(m1, m2, phi1, phi2, invert(m1, m2))


def crt_powmod(b: int, e: int, crt: CrtParams) -> int:
    """b^e mod (m1 m2) computed as two half-size constant-time exponentiations, the exponent
    reduced modulo each group order. For the holder of the factors (provers, decryption)."""
    if not isinstance(crt, CrtParams):
        raise UsageError("crt must come from crt_params()")
    m = crt.modulus
    b, e = _prepare(b, e, m)
    if e == 0:
        return 1
    record(crt.m1, min(e, crt.phi1))
    record(crt.m2, min(e, crt.phi2))
    return _B.crt_powmod(b, e, crt.m1, crt.m2, crt.phi1, crt.phi2, crt.coeff)


def batch_crt_powmod(items: Sequence[tuple[int, int]], crt: CrtParams,
                     threads: int = 1) -> list[int]:
    """[crt_powmod(b, e, crt) for (b, e) in items] in one call, all the half-size constant-time
    exponentiations batched (optionally on two threads, up to eight at once with AVX-512 IFMA)."""
    if not isinstance(crt, CrtParams):
        raise UsageError("crt must come from crt_params()")
    threads = _int("threads", threads)
    if threads < 1:
        raise UsageError("threads must be at least 1")
    m = crt.modulus
    prepared = []
    for item in items:
        if len(item) != 2:
            raise UsageError("batch_crt_powmod takes (base, exponent) pairs")
        b, e = _prepare(item[0], item[1], m)
        if e:
            record(crt.m1, min(e, crt.phi1))
            record(crt.m2, min(e, crt.phi2))
        prepared.append((b, e))
    if not prepared:
        return []
    res = _B.batch_crt_powmod(prepared, crt.m1, crt.m2, crt.phi1, crt.phi2, crt.coeff,
                              min(threads, 2))
    return [1 if e == 0 else r for (_, e), r in zip(prepared, res)]


def is_probable_prime(n: int) -> bool:
    """Baillie-PSW plus Miller-Rabin rounds (error below 2^-80 for any input)."""
    n = _int("n", n)
    if n < 2:
        return False
    return _B.is_probable_prime(n)


class _SeededStream:
    """Deterministic bytes from a seed (SHAKE-256 of seed and a counter): for reproducible tests."""

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._n = 0

    def __call__(self, n: int) -> bytes:
        self._n += 1
        h = hashlib.shake_256(b"tss/arith/seeded-stream\x00" + self._n.to_bytes(8, "big")
                              + self._seed)
        return h.digest(n)


_WINDOW = 1 << 15


def random_safe_prime(bits: int, seed: bytes | None = None) -> int:
    """A random safe prime p = 2q + 1 of exactly ``bits`` bits with p = 3 mod 4 (so a product of
    two is a Blum integer) and the top two bits set (so a product of two has exactly 2*bits bits).

    Randomness comes from the OS, or from ``seed`` for reproducible tests: the same seed gives the
    same prime on both backends.
    """
    bits = _int("bits", bits)
    if bits < 32:
        raise UsageError("safe primes need at least 32 bits")
    if seed is not None and not isinstance(seed, (bytes, bytearray)):
        raise UsageError("seed must be bytes")
    rand = _SeededStream(seed) if seed is not None else secrets.token_bytes
    qbits = bits - 1
    nbytes = (qbits + 7) // 8
    while True:
        q0 = int.from_bytes(rand(nbytes), "big") & ((1 << qbits) - 1)
        q0 |= (1 << (qbits - 1)) | (1 << (qbits - 2)) | 1  # top two bits and odd
        q = _B.safe_prime_window(q0, _WINDOW)
        if q and q.bit_length() == qbits:
            return 2 * q + 1
