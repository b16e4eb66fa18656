"""The native backend: the GMP kernels of ``tss._native`` (csrc/, built with cffi).

Same function names and semantics as :mod:`tss.arith._gmpy2`. Arguments arrive validated by
:mod:`tss.arith`; the few cheap guards below only keep direct callers (tests) on the same
behaviour as the gmpy2 backend: bases outside [0, m) are reduced, a negative exponent means the
inverse, and a value outside a kernel's domain raises ValueError as gmpy2 does. Each function is
one cffi call on byte strings: ``int.to_bytes`` in, ``int.from_bytes`` out. cffi releases the GIL
around the call, and nothing here is shared between threads.

Importing this module raises ImportError when the extension is not built, and :mod:`tss.arith`
then falls back to gmpy2.
"""

from __future__ import annotations

from collections.abc import Sequence

from tss._native import ffi, lib

NAME = "native"

_new = ffi.new
_buffer = ffi.buffer
_from_bytes = int.from_bytes

# the C kernel takes windows up to 2^30; longer ones are scanned in slices (the sieve depends only
# on the candidate's value, so slicing changes neither the survivors nor their order)
_WINDOW_SLICE = 1 << 20


def _bytes(x: int) -> bytes:
    return x.to_bytes((x.bit_length() + 7) >> 3, "big")


def _fail(rc: int, what: str) -> None:
    if rc == lib.TSS_ERR_NOINV:
        raise ValueError(f"{what}: base not invertible")
    if rc == lib.TSS_ERR_ARG:
        raise ValueError(f"{what}: argument outside the kernel's domain")
    if rc == lib.TSS_ERR_NOMEM:
        raise MemoryError(what)
    raise RuntimeError(f"{what}: native kernel error {rc}")


def _norm(b: int, e: int, m: int) -> tuple[int, int]:
    """b reduced into [0, m) and e >= 0 (a negative e takes the inverse of b, like gmpy2)."""
    if m <= 0:
        raise ValueError("modulus must be positive")
    if b < 0 or b >= m:
        b %= m
    if e < 0:
        inv = invert(b, m)
        if inv is None:
            raise ValueError("base not invertible")
        b, e = inv, -e
    return b, e


def powmod(b: int, e: int, m: int) -> int:
    if b < 0 or e < 0 or b >= m:
        b, e = _norm(b, e, m)
    mb = m.to_bytes((m.bit_length() + 7) >> 3, "big")
    bb = b.to_bytes((b.bit_length() + 7) >> 3, "big")
    eb = e.to_bytes((e.bit_length() + 7) >> 3, "big")
    ml = len(mb)
    out = _new("unsigned char[]", ml)
    rc = lib.tss_powmod(bb, len(bb), eb, len(eb), mb, ml, out)
    if rc:
        _fail(rc, "powmod")
    return _from_bytes(_buffer(out), "big")


def powmod_sec(b: int, e: int, m: int) -> int:
    # like gmpy2.powmod_sec: e > 0 and m odd (the caller guarantees both)
    if e <= 0 or m <= 0 or not m & 1:
        raise ValueError("powmod_sec needs e > 0 and an odd positive modulus")
    if b < 0 or b >= m:
        b %= m
    mb = m.to_bytes((m.bit_length() + 7) >> 3, "big")
    bb = b.to_bytes((b.bit_length() + 7) >> 3, "big")
    eb = e.to_bytes((e.bit_length() + 7) >> 3, "big")
    ml = len(mb)
    out = _new("unsigned char[]", ml)
    rc = lib.tss_powmod_sec(bb, len(bb), eb, len(eb), mb, ml, out)
    if rc:
        _fail(rc, "powmod_sec")
    return _from_bytes(_buffer(out), "big")


def multi_powmod(bases: Sequence[int], exps: Sequence[int], m: int) -> int:
    if len(bases) != len(exps):
        raise ValueError("multi_powmod needs as many exponents as bases")
    bs: list[bytes] = []
    es: list[bytes] = []
    for b, e in zip(bases, exps, strict=True):
        if b < 0 or e < 0 or b >= m:
            b, e = _norm(b, e, m)
        bs.append(_bytes(b))
        es.append(_bytes(e))
    if m <= 0:
        raise ValueError("modulus must be positive")
    mb = _bytes(m)
    ml = len(mb)
    out = _new("unsigned char[]", ml)
    k = len(bs)
    rc = lib.tss_multi_powmod(
        k,
        b"".join(bs),
        _new("size_t[]", [len(x) for x in bs]),
        b"".join(es),
        _new("size_t[]", [len(x) for x in es]),
        mb,
        ml,
        out,
    )
    if rc:
        _fail(rc, "multi_powmod")
    return _from_bytes(_buffer(out), "big")


def _batch(fn, items: Sequence[tuple[int, int, int]], threads: int, what: str) -> list[int]:
    parts: list[bytes] = []
    lens: list[int] = []
    outlens: list[int] = []
    for b, e, m in items:
        b, e = _norm(b, e, m)
        bb, eb, mb = _bytes(b), _bytes(e), _bytes(m)
        parts += (bb, eb, mb)
        lens += (len(bb), len(eb), len(mb))
        outlens.append(len(mb))
    n = len(outlens)
    if n == 0:
        return []
    out = _new("unsigned char[]", sum(outlens))
    rc = fn(n, b"".join(parts), _new("size_t[]", lens), out, min(threads, 2))
    if rc:
        _fail(rc, what)
    raw = _buffer(out)[:]
    res = []
    off = 0
    for ln in outlens:
        res.append(_from_bytes(raw[off : off + ln], "big"))
        off += ln
    return res


def batch_powmod(items: Sequence[tuple[int, int, int]], threads: int) -> list[int]:
    return _batch(lib.tss_batch_powmod, items, threads, "batch_powmod")


def batch_powmod_sec(items: Sequence[tuple[int, int, int]], threads: int) -> list[int]:
    # like powmod_sec, item by item: e > 0 and m odd (the caller guarantees both)
    for _b, e, m in items:
        if e <= 0 or m <= 0 or not m & 1:
            raise ValueError("batch_powmod_sec needs e > 0 and an odd positive modulus")
    return _batch(lib.tss_batch_powmod_sec, items, threads, "batch_powmod_sec")


def batch_crt_powmod(items: Sequence[tuple[int, int]], m1: int, m2: int, phi1: int, phi2: int,
                     coeff: int, threads: int) -> list[int]:
    """[crt_powmod(b, e, m1, m2, phi1, phi2, coeff) for (b, e) in items], all halves in one
    constant-time batch (m1, m2 odd above 1, e >= 0)."""
    if min(m1, m2) < 3 or not m1 & m2 & 1 or min(phi1, phi2) <= 0:
        raise ValueError("batch_crt_powmod: moduli must be odd above 1, group orders positive")
    parts: list[bytes] = []
    lens: list[int] = []
    for b, e in items:
        if e < 0:
            raise ValueError("batch_crt_powmod needs e >= 0")
        if b < 0:
            b %= m1 * m2
        bb, eb = _bytes(b), _bytes(e)
        parts += (bb, eb)
        lens += (len(bb), len(eb))
    n = len(items)
    if n == 0:
        return []
    m1b, m2b = _bytes(m1), _bytes(m2)
    p1b, p2b, cb = _bytes(phi1), _bytes(phi2), _bytes(coeff % m2)
    outlen = len(m1b) + len(m2b)
    out = _new("unsigned char[]", n * outlen)
    rc = lib.tss_batch_crt_powmod(
        n, b"".join(parts), _new("size_t[]", lens), m1b, len(m1b), m2b, len(m2b),
        p1b, len(p1b), p2b, len(p2b), cb, len(cb), out, outlen, min(threads, 2),
    )  # fmt: skip
    if rc:
        _fail(rc, "batch_crt_powmod")
    raw = _buffer(out)[:]
    return [_from_bytes(raw[i : i + outlen], "big") for i in range(0, n * outlen, outlen)]


def set_simd(on: bool | None = None) -> tuple[bool, bool]:
    """(in use before the call, available on this CPU) for the AVX-512 IFMA lanes; on=True/False
    switches them on or off for the whole process."""
    r = lib.tss_set_simd(-1 if on is None else int(bool(on)))
    return bool(r & 1), bool(r & 2)


def fixed_base_powmod(b: int, exps: Sequence[int], m: int, threads: int) -> list[int]:
    """[b^e mod m for e in exps] with one fixed-base table shared by all exponents (e >= 0)."""
    if m <= 0:
        raise ValueError("modulus must be positive")
    if any(e < 0 for e in exps):
        raise ValueError("fixed_base_powmod needs exponents >= 0")
    k = len(exps)
    if k == 0:
        return []
    if b < 0 or b >= m:
        b %= m
    mb, bb = _bytes(m), _bytes(b)
    ml = len(mb)
    es = [e.to_bytes((e.bit_length() + 7) >> 3, "big") for e in exps]
    out = _new("unsigned char[]", k * ml)
    rc = lib.tss_fixed_base_powmod(bb, len(bb), k, b"".join(es),
                                   _new("size_t[]", [len(x) for x in es]), mb, ml, out,
                                   min(threads, 2))
    if rc:
        _fail(rc, "fixed_base_powmod")
    raw = _buffer(out)[:]
    return [_from_bytes(raw[i : i + ml], "big") for i in range(0, k * ml, ml)]


def fb_new(b: int, m: int, offset: int, bits: int, sec: bool):
    """A kept fixed-base table for b mod m (odd m > 1), exponents below 2^bits; with offset > 0
    every power is multiplied by b^(-2^offset). None when b is not a unit (and offset > 0).
    Freed when the returned handle is garbage."""
    if m < 3 or not m & 1 or bits < 1 or not 0 <= offset < bits:
        raise ValueError("fixed-base tables need an odd modulus above 1, 0 <= offset < bits")
    mb, bb = _bytes(m), _bytes(b % m)
    h = lib.tss_fb_new(bb, len(bb), mb, len(mb), offset, bits, 1 if sec else 0)
    if h == ffi.NULL:
        if offset and invert(b, m) is None:
            return None
        raise MemoryError("fixed-base table")
    return ffi.gc(h, lib.tss_fb_free, size=lib.tss_fb_bytes(h))


def fb_bytes(handle) -> int:
    return int(lib.tss_fb_bytes(handle))


def fb_pow(handles: Sequence, exps: Sequence[int], m: int,
           nbytes: Sequence[int] | None = None) -> int:
    """prod b_i^(e_i - 2^offset_i) mod m over kept tables of one modulus and flavour, each e_i
    in [0, 2^bits). nbytes: the byte length to pass each exponent in (the table's capacity), so
    that the length does not depend on the exponent's value."""
    if nbytes is None:
        nbytes = [(e.bit_length() + 7) >> 3 for e in exps]
    es = [e.to_bytes(nb, "big") for e, nb in zip(exps, nbytes, strict=True)]
    ml = (m.bit_length() + 7) >> 3
    out = _new("unsigned char[]", ml)
    rc = lib.tss_fb_pow(len(es), _new("tss_fb *[]", list(handles)), b"".join(es),
                        _new("size_t[]", [len(x) for x in es]), out, ml)
    if rc:
        _fail(rc, "fb_pow")
    return _from_bytes(_buffer(out), "big")


def crt_powmod(b: int, e: int, m1: int, m2: int, phi1: int, phi2: int, coeff: int) -> int:
    """b^e mod m1*m2 from the two halves; e >= 0; coeff = m1^-1 mod m2; secrets: constant time."""
    if min(e, m1, m2, phi1, phi2) < 0 or min(m1, m2, phi1, phi2) == 0:
        raise ValueError("crt_powmod: negative value, zero modulus or zero group order")
    if b < 0:
        b %= m1 * m2
    coeff %= m2
    m1b, m2b = _bytes(m1), _bytes(m2)
    bb, eb = _bytes(b), _bytes(e)
    p1b, p2b, cb = _bytes(phi1), _bytes(phi2), _bytes(coeff)
    outlen = len(m1b) + len(m2b)
    out = _new("unsigned char[]", outlen)
    rc = lib.tss_crt_powmod(
        bb, len(bb), eb, len(eb), m1b, len(m1b), m2b, len(m2b),
        p1b, len(p1b), p2b, len(p2b), cb, len(cb), out, outlen,
    )  # fmt: skip
    if rc:
        _fail(rc, "crt_powmod")
    return _from_bytes(_buffer(out), "big")


def invert(a: int, m: int) -> int | None:
    if m < 0:
        m = -m
    if m == 0:
        return None
    if a < 0 or a >= m:
        a %= m
    mb = _bytes(m)
    ab = _bytes(a)
    ml = len(mb)
    out = _new("unsigned char[]", ml)
    rc = lib.tss_invert(ab, len(ab), mb, ml, out)
    if rc == lib.TSS_ERR_NOINV:
        return None
    if rc:
        _fail(rc, "invert")
    return _from_bytes(_buffer(out), "big")


def is_probable_prime(n: int) -> bool:
    if n < 2:
        return False
    nb = _bytes(n)
    return bool(lib.tss_is_probable_prime(nb, len(nb)))


def safe_prime_window(q0: int, window: int) -> int:
    """The smallest odd q = q0 + 2i (i < window) with q and 2q+1 both prime, or 0."""
    if q0 < 0:
        raise ValueError("safe_prime_window needs q0 >= 0")
    start = 0
    while start < window:
        span = min(window - start, _WINDOW_SLICE)
        qb = _bytes(q0 + 2 * start)
        outlen = len(qb) + 8
        out = _new("unsigned char[]", outlen)
        rc = lib.tss_safe_prime_window(qb, len(qb), span, out, outlen)
        if rc:
            _fail(rc, "safe_prime_window")
        q = _from_bytes(_buffer(out), "big")
        if q:
            return q
        start += span
    return 0


__all__ = [
    "NAME", "powmod", "powmod_sec", "multi_powmod", "batch_powmod", "batch_powmod_sec",
    "batch_crt_powmod", "set_simd", "fixed_base_powmod", "fb_new", "fb_bytes", "fb_pow",
    "crt_powmod", "invert", "is_probable_prime", "safe_prime_window",
]
