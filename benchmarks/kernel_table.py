"""The big-number kernels: native (tss._native, C over GMP) against the gmpy2 backend and Python
integers, measured in one run.

Run ``PYTHONPATH=src python benchmarks/kernel_table.py`` (``--quick`` for fewer repetitions): it
prints a markdown table and writes it into docs/performance.md under the heading ``## Kernels``
(the file is created if missing; only that section is replaced).

Single-threaded figures are medians of CPU time (``time.process_time``), which a busy machine
disturbs less than wall time; the two-thread batch is wall time, since that is what threads buy.
Both backends are called directly (``tss.arith._native_backend`` and ``tss.arith._gmpy2``),
except for the safe primes, which go through ``tss.arith.random_safe_prime`` with the public
layer pointed at each backend in turn: the same seeds give the same primes, so both do the same
search.

The case builders are shared with bench_kernels.py (pytest-benchmark).
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import gmpy2

import tss.arith as arith
from tss.arith import _gmpy2, _native_backend

sys.path.insert(0, str(Path(__file__).resolve().parent))

HEADING = "## Kernels"
TARGET_POWMOD = 0.95  # native powmod speed / gmpy2 powmod speed, 2048-bit, at least
TARGET_MULTI = 1.4  # two powmods + multiply / 2-base multi-exponentiation, at least
TARGET_CRT = 3.0  # plain / CRT Paillier decryption, at least
TARGET_PRIME = 0.2  # seconds, median 1024-bit safe prime, at most


@contextmanager
def using(backend):
    """Point the public tss.arith API at ``backend`` for the block."""
    saved = arith._B
    arith._B = backend
    try:
        yield
    finally:
        arith._B = saved


def per_call(fn: Callable[[], object], budget: float = 0.25, samples: int = 7,
             clock: Callable[[], float] = time.process_time,
             agg: Callable[[list[float]], float] = statistics.median) -> float:
    """Seconds per call, ``agg`` (median) of ``samples`` samples taking ``budget`` seconds in
    all."""
    fn()
    t = clock()
    fn()
    one = max(clock() - t, 1e-6)
    loops = max(1, int(budget / samples / one))
    out = []
    for _ in range(samples):
        t = clock()
        for _ in range(loops):
            fn()
        out.append((clock() - t) / loops)
    return agg(out)


# -- cases -------------------------------------------------------------------------------------

def operands(mbits: int, ebits: int, k: int, seed: int = 1) -> tuple[list[int], list[int], int]:
    rnd = random.Random(seed * 1000 + mbits + ebits + k)
    m = rnd.getrandbits(mbits) | 1 | (1 << (mbits - 1))
    return [rnd.randrange(m) for _ in range(k)], [rnd.getrandbits(ebits) for _ in range(k)], m


def separate(backend, bases: list[int], exps: list[int], m: int) -> int:
    """The product of separate exponentiations: what a multi-exponentiation replaces."""
    acc = 1
    for b, e in zip(bases, exps, strict=True):
        acc = acc * backend.powmod(b, e, m) % m
    return acc


def _crt(a1: int, m1: int, a2: int, m2: int) -> int:
    """x = a1 mod m1, x = a2 mod m2 for moduli that need not be coprime."""
    g = math.gcd(m1, m2)
    assert (a2 - a1) % g == 0
    k = (a2 - a1) // g * pow(m1 // g, -1, m2 // g) % (m2 // g)
    return a1 + m1 * k


class Paillier:
    """A 2048-bit Paillier key (g = N + 1) from two seeded 1024-bit safe primes, with the plain
    decryption L(c^lambda mod N^2) mu mod N and a CRT one through a single crt_powmod call.

    CRT: with e = p - 1 (mod p(p-1)) and e = q - 1 (mod q(q-1)), crt_powmod(c, e) works mod p^2
    and q^2 with the 1024-bit exponents p - 1 and q - 1 (it reduces e modulo the group orders).
    x = c^e (mod N^2) is 1 + N y with y = m (p - 1) = -m (mod p) and likewise mod q, so
    m = -L(x) mod N.
    """

    def __init__(self) -> None:
        with using(_native_backend):
            p = arith.random_safe_prime(1024, seed=b"kernel-table-p")
            q = arith.random_safe_prime(1024, seed=b"kernel-table-q")
        self.n = n = p * q
        self.n2 = n * n
        self.lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        self.mu = pow(self.lam, -1, n)
        self.crt = arith.crt_params(p * p, q * q, p * (p - 1), q * (q - 1))
        self.e = _crt(p - 1, p * (p - 1), q - 1, q * (q - 1))
        rnd = random.Random(7)
        self.m = rnd.randrange(n)
        r = rnd.randrange(1, n)
        self.c = (1 + self.m * n) * pow(r, n, self.n2) % self.n2

    def plain(self, backend, sec: bool = True) -> int:
        f = backend.powmod_sec if sec else backend.powmod
        x = f(self.c, self.lam, self.n2)
        return (x - 1) // self.n * self.mu % self.n

    def crt_decrypt(self, backend) -> int:
        k = self.crt
        x = backend.crt_powmod(self.c, self.e, k.m1, k.m2, k.phi1, k.phi2, k.coeff)
        return -((x - 1) // self.n) % self.n


@cache
def paillier() -> Paillier:
    key = Paillier()
    for backend in (_native_backend, _gmpy2):
        assert key.plain(backend) == key.m == key.crt_decrypt(backend)
    return key


def safe_prime_times(backend, runs: int, bits: int = 1024) -> tuple[list[float], list[float]]:
    """CPU and wall seconds of ``runs`` seeded safe-prime generations."""
    cpu, wall = [], []
    with using(backend):
        for i in range(runs):
            t, w = time.process_time(), time.perf_counter()
            arith.random_safe_prime(bits, seed=b"kernel-table-%d" % i)
            cpu.append(time.process_time() - t)
            wall.append(time.perf_counter() - w)
    return cpu, wall


def batch_items(count: int = 16, bits: int = 2048) -> list[tuple[int, int, int]]:
    rnd = random.Random(11)
    out = []
    for _ in range(count):
        m = rnd.getrandbits(bits) | 1 | (1 << (bits - 1))
        out.append((rnd.randrange(m), rnd.getrandbits(bits), m))
    return out


# -- the table ---------------------------------------------------------------------------------

def _ms(t: float) -> str:
    return f"{t * 1e3:.3f}" if t < 0.01 else f"{t * 1e3:.1f}"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(quick: bool = False) -> str:
    from tss._native import ffi, lib

    budget = 0.1 if quick else 0.3
    prime_runs = 5 if quick else 15
    N, G = _native_backend, _gmpy2
    rows: list[str] = []
    met: list[tuple[str, str, bool]] = []

    def row(name: str, native: str, gm: str, py: str, note: str) -> None:
        rows.append(f"| {name} | {native} | {gm} | {py} | {note} |")

    # single powmod
    ratio_2048 = 0.0
    for mbits, ebits in [(2048, 2048), (4096, 2048)]:
        (b,), (e,), m = operands(mbits, ebits, 1)
        tn = per_call(lambda: N.powmod(b, e, m), budget)  # noqa: B023
        tg = per_call(lambda: G.powmod(b, e, m), budget)  # noqa: B023
        tp = per_call(lambda: pow(b, e, m), budget, samples=3)  # noqa: B023
        row(f"powmod {mbits}/{ebits} bits", _ms(tn), _ms(tg), _ms(tp),
            f"native is {tg / tn:.2f}x gmpy2's speed, {tp / tn:.1f}x int's")
        if mbits == 2048:
            ratio_2048 = tg / tn

    # multi-exponentiation
    ratio_multi2 = 0.0
    for k in (2, 3):
        bs, es, m = operands(2048, 2048, k)
        tn = per_call(lambda: N.multi_powmod(bs, es, m), budget)  # noqa: B023
        tns = per_call(lambda: separate(N, bs, es, m), budget)  # noqa: B023
        tg = per_call(lambda: G.multi_powmod(bs, es, m), budget)  # noqa: B023
        row(f"{k}-base multi-exp 2048/2048", _ms(tn), _ms(tg), "",
            f"{k} separate native powmods: {_ms(tns)} ms, so {tns / tn:.2f}x faster "
            f"({tg / tn:.2f}x vs the gmpy2 backend, which takes separate powers)")
        if k == 2:
            ratio_multi2 = tns / tn

    # Paillier decryption
    key = paillier()
    tn_plain = per_call(lambda: key.plain(N), budget)
    tn_plain_vt = per_call(lambda: key.plain(N, sec=False), budget)
    tn_crt = per_call(lambda: key.crt_decrypt(N), budget)
    tg_plain = per_call(lambda: key.plain(G), budget)
    tg_crt = per_call(lambda: key.crt_decrypt(G), budget)
    row("Paillier decryption, N 2048 bits: plain", _ms(tn_plain), _ms(tg_plain), "",
        f"L(c^λ mod N²)·μ, constant-time powmod_sec; variable-time powmod: {_ms(tn_plain_vt)} ms")
    row("Paillier decryption: CRT (crt_powmod)", _ms(tn_crt), _ms(tg_crt), "",
        f"{tn_plain / tn_crt:.2f}x faster than plain (gmpy2 backend {tg_plain / tg_crt:.2f}x); "
        f"{tn_plain_vt / tn_crt:.2f}x vs the variable-time plain one")

    # safe primes
    sp_n, wall_n = safe_prime_times(N, prime_runs)
    sp_g, wall_g = safe_prime_times(G, prime_runs)
    med_n, med_g = statistics.median(sp_n), statistics.median(sp_g)
    row(f"1024-bit safe prime, median of {prime_runs} seeds", _ms(med_n), _ms(med_g), "",
        f"same seeds, same primes: {med_g / med_n:.2f}x; native/gmpy2 mean "
        f"{_ms(statistics.mean(sp_n))} / {_ms(statistics.mean(sp_g))} ms, max "
        f"{_ms(max(sp_n))} / {_ms(max(sp_g))} ms; median wall time "
        f"{_ms(statistics.median(wall_n))} / {_ms(statistics.median(wall_g))} ms")

    # AVX-512 IFMA lanes (eight exponentiations at once), one thread, CPU time
    simd_before, simd_available = N.set_simd()
    zs, _, nmod = operands(2048, 2048, 32)
    same = [(z, nmod, nmod) for z in zs]
    N.set_simd(True)
    t_on = per_call(lambda: N.batch_powmod(same, 1), budget)
    N.set_simd(False)
    t_off = per_call(lambda: N.batch_powmod(same, 1), budget)
    sp_off, _ = safe_prime_times(N, prime_runs)
    N.set_simd(simd_before)
    tg_same = per_call(lambda: G.batch_powmod(same, 1), budget)
    row("batch_powmod 32 × z^N mod N, 2048 bits, 1 thread (Πmod verify)", _ms(t_on),
        _ms(tg_same), "",
        (f"with the AVX-512 IFMA lanes; without them {_ms(t_off)} ms, so {t_off / t_on:.2f}x "
         f"(safe prime median without them: {_ms(statistics.median(sp_off))} ms)")
        if simd_available else "this CPU has no AVX-512 IFMA: GMP alone")

    # fixed base: 128 powers of one base (Πprm verify), and kept tables (ring-Pedersen)
    tbase, texps, tmod = zs[0], [e for _, e, _ in batch_items(128)], nmod
    t_fb = per_call(lambda: N.fixed_base_powmod(tbase, texps, tmod, 1), budget)
    t_sep = per_call(lambda: N.batch_powmod([(tbase, e, tmod) for e in texps], 1), budget)
    tg_fb = per_call(lambda: G.fixed_base_powmod(tbase, texps, tmod, 1), budget)
    row("fixed_base_powmod: 128 powers of one base, 2048/2048, 1 thread", _ms(t_fb),
        _ms(tg_fb), "", f"one Lim-Lee comb for all: {t_sep / t_fb:.2f}x the native batch "
        f"({_ms(t_sep)} ms), {tg_fb / t_fb:.1f}x gmpy2 powmod one by one")
    (s_, t_), _, rmod = operands(2048, 2048, 2)
    x_, y_ = (1 << 767) + 12345, (1 << 2559) + 6789
    with using(N):
        arith.multi_powmod_fixed_sec([s_, t_], [x_, y_], rmod)  # build the kept tables
        t_kept = per_call(lambda: arith.multi_powmod_fixed_sec([s_, t_], [x_, y_], rmod), budget)
        t_sec = per_call(lambda: arith.multi_powmod_sec([s_, t_], [x_, y_], rmod), budget)
    with using(G):
        tg_sec = per_call(lambda: arith.multi_powmod_sec([s_, t_], [x_, y_], rmod), budget)
    row("s^x t^y mod N̂ constant time, x 768 / y 2560 bits (ring-Pedersen commitment)",
        _ms(t_kept), _ms(tg_sec), "",
        f"kept fixed-base tables for s and t: {t_sec / t_kept:.2f}x two native powmod_sec "
        f"({_ms(t_sec)} ms)")

    # batch on threads (wall time)
    # (the fastest of the samples: the one least disturbed by other work on the machine)
    items = batch_items()

    def wall(fn: Callable[[], object]) -> float:
        return per_call(fn, budget * 3, samples=10, clock=time.perf_counter, agg=min)

    t1 = wall(lambda: N.batch_powmod(items, 1))
    t2 = wall(lambda: N.batch_powmod(items, 2))
    g1 = wall(lambda: G.batch_powmod(items, 1))
    g2 = wall(lambda: G.batch_powmod(items, 2))
    row(f"batch_powmod {len(items)} × 2048/2048, 1 thread (wall, best)", _ms(t1), _ms(g1), "",
        "")
    row(f"batch_powmod {len(items)} × 2048/2048, 2 threads (wall, best)", _ms(t2), _ms(g2), "",
        f"native {t1 / t2:.2f}x the 1-thread speed (gmpy2 backend {g1 / g2:.2f}x: "
        "this gmpy2 build does not release the GIL in powmod)")

    met.append((f"native powmod ≥ {TARGET_POWMOD}x gmpy2's speed (2048/2048)",
                f"{ratio_2048:.2f}x", ratio_2048 >= TARGET_POWMOD))
    met.append((f"2-base multi-exp ≥ {TARGET_MULTI}x faster than two powmods",
                f"{ratio_multi2:.2f}x", ratio_multi2 >= TARGET_MULTI))
    crt_ratio = tn_plain / tn_crt
    met.append((f"CRT Paillier decryption ≥ {TARGET_CRT}x faster than plain",
                f"{crt_ratio:.2f}x (vs variable-time plain: {tn_plain_vt / tn_crt:.2f}x)",
                crt_ratio >= TARGET_CRT))
    met.append((f"1024-bit safe prime median ≤ {TARGET_PRIME} s (one core)",
                f"{med_n:.3f} s", med_n <= TARGET_PRIME))

    gmp_native = ffi.string(lib.tss_gmp_version()).decode()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    head = [
        HEADING,
        "",
        f"Measured {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} on {_cpu()} "
        f"({platform.machine()}), Python {platform.python_version()}; native kernels on GMP "
        f"{gmp_native} (system library), gmpy2 {gmpy2.version()} on its bundled "
        f"{gmpy2.mp_version()}. Produced by `benchmarks/kernel_table.py`.",
        "",
        "Times in ms per call: medians of CPU time, except the batch rows (wall time, fastest "
        "of 10 samples). "
        "Operand sizes are modulus bits / exponent bits; operands are random. "
        f"{os.cpu_count()} logical CPUs, load average {load:.2f} when the run ended: the "
        "two-thread row only shows its 2x when the second core is otherwise idle.",
        "",
        "| Kernel | native ms | gmpy2 ms | Python int ms | Notes |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
        *(f"| {t} | {v} | {'yes' if ok else 'NO'} |" for t, v, ok in met),
    ]
    return "\n".join(head) + "\n"


def main(argv: list[str]) -> int:
    text = measure(quick="--quick" in argv)
    print(text)
    if "--no-write" not in argv:
        from _doc import replace_section

        replace_section(HEADING, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
