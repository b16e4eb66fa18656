"""Prove and verify cost of every zero-knowledge proof at both levels, against a GMP floor.

Run ``PYTHONPATH=src python benchmarks/proof_table.py``: it prints a markdown table and writes it
into docs/performance.md under the heading ``## Proofs`` (the file is created if missing; only
that section is replaced, the other sections are left as they are).

For each proof and level: the median CPU time of prove and of verify; the modular
exponentiations each performs, bucketed by (modulus bits, exponent bits) as
:func:`tss.arith.counting` records them (a multi-exponentiation with k bases counts k, at its
largest exponent; a CRT exponentiation counts its two half-size halves); the "GMP floor", i.e. for
each bucket the time of one plain ``gmpy2.powmod`` with random operands of those sizes, measured
in the same run, times the count, summed; and the ratio time / floor. A ratio near 1 means the
proof costs what its exponentiations cost; constant-time exponentiation (``powmod_sec``) alone
is slower than ``powmod``, and interleaved multi-exponentiation can beat the floor.

The case builders here are shared with bench_proofs.py (pytest-benchmark).
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import gmpy2

from tss import arith
from tss.curve import Q, base_mul
from tss.paillier import PaillierSecretKey, RingPedersenSecret, ring_pedersen_from
from tss.params import HIGH, STANDARD, SecurityLevel
from tss.randomness import SeededRng
from tss.zk import aff_g, enc, log_star, sch
from tss.zk._common import ProofContext

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
HEADING = "## Proofs"

PROOFS = ["sch", "enc", "aff_g", "log_star", "mod", "prm", "fac"]
LEVELS = [STANDARD, HIGH]

Case = tuple[Callable[[], object], Callable[[object], None]]


# -- fixtures: the same stored safe primes as the tests ----------------------------------------

@cache
def _primes() -> dict[int, list[int]]:
    raw = json.loads((ROOT / "tests" / "data" / "safe_primes.json").read_text())
    return {int(bits): [int(p, 16) for p in ps] for bits, ps in raw.items()}


@cache
def paillier_key(level: SecurityLevel, i: int) -> PaillierSecretKey:
    ps = _primes()[level.prime_bits]
    return PaillierSecretKey(ps[2 * i], ps[2 * i + 1])


@cache
def ring_pedersen(level: SecurityLevel, i: int) -> RingPedersenSecret:
    return ring_pedersen_from(paillier_key(level, i), SeededRng(f"bench-rp-{level.name}-{i}"))


def available() -> list[str]:
    """The proofs whose module can be imported (mod, prm, fac are written in parallel)."""
    out = []
    for name in PROOFS:
        try:
            __import__(f"tss.zk.{name}")
        except ImportError:
            continue
        out.append(name)
    return out


def make_case(name: str, level: SecurityLevel) -> Case:
    """(prove, verify): prove() returns a fresh proof, verify(proof) raises if it is invalid.

    The prover always owns key 0, the verifier key 1 (its ring-Pedersen parameters too)."""
    rng = SeededRng(f"bench-{name}-{level.name}")
    ctx = ProofContext(b"bench-session", 1, level, 1)
    sk = paillier_key(level, 0)
    rp = ring_pedersen(level, 1).params

    def pair(mod, stmt, wit) -> Case:  # type: ignore[no-untyped-def]
        return (lambda: mod.prove(ctx, stmt, wit, rng)), (lambda p: mod.verify(ctx, stmt, p))

    if name == "sch":
        x = rng.scalar(Q)
        return pair(sch, sch.Statement(base_mul(x)), sch.Witness(x))
    if name == "enc":
        k = rng.scalar(Q)
        K, rho = sk.encrypt(k, rng)
        return pair(enc, enc.Statement(sk.public, K, rp), enc.Witness(k, rho, sk))
    if name == "aff_g":
        alice = paillier_key(level, 1)
        K, _ = alice.encrypt(rng.scalar(Q), rng)
        x, y = rng.scalar(Q), rng.signed(level.ell_prime)
        rho, rho_y = rng.unit(alice.n), rng.unit(sk.n)
        D = alice.public.mul(K, x) * alice.encrypt_with(y, rho) % alice.public.n2
        Y = sk.encrypt_with(y, rho_y)
        stmt = aff_g.Statement(alice.public, sk.public, K, D, Y, base_mul(x), rp)
        return pair(aff_g, stmt, aff_g.Witness(x, y, rho, rho_y, sk))
    if name == "log_star":
        g = base_mul(rng.scalar(Q))
        x = rng.scalar(Q)
        C, rho = sk.encrypt(x, rng)
        stmt = log_star.Statement(sk.public, C, g * x, rp, g)
        return pair(log_star, stmt, log_star.Witness(x, rho, sk))
    if name == "mod":
        from tss.zk import mod

        return pair(mod, mod.Statement(sk.n), mod.Witness(sk))
    if name == "prm":
        from tss.zk import prm

        own = ring_pedersen(level, 0)
        return pair(prm, prm.Statement(own.params), prm.Witness(own, sk))
    if name == "fac":
        from tss.zk import fac

        return pair(fac, fac.Statement(sk.n, rp), fac.Witness(sk))
    raise ValueError(f"unknown proof {name!r}")


# -- measurement --------------------------------------------------------------------------------

# CPU time of this process (everything here is single-threaded): other jobs on the machine do not
# inflate it the way they inflate wall time.
_clock = time.process_time


def _median_ms(fn: Callable[[], object], min_runs: int = 5, budget_s: float = 1.5) -> float:
    times: list[float] = []
    start = _clock()
    while len(times) < min_runs or (_clock() - start < budget_s and len(times) < 50):
        t0 = _clock()
        fn()
        times.append(_clock() - t0)
    return statistics.median(times) * 1e3


def _counts(fn: Callable[[], object]) -> tuple[object, Counter[tuple[int, int]]]:
    with arith.counting() as c:
        out = fn()
    return out, Counter(c.counts)


_floor_cache: dict[tuple[int, int], float] = {}


def floor_ms(bucket: tuple[int, int]) -> float:
    """Median time of one gmpy2.powmod with a random odd modulus of ``bucket[0]`` bits and a
    random exponent of ``bucket[1]`` bits (both top bits set)."""
    if bucket not in _floor_cache:
        mb, eb = bucket
        r = random.Random(mb * 100003 + eb)
        m = gmpy2.mpz(r.getrandbits(mb) | (1 << (mb - 1)) | 1)
        b = gmpy2.mpz(r.getrandbits(mb)) % m
        e = gmpy2.mpz(r.getrandbits(eb) | (1 << (eb - 1)))
        reps = max(5, min(2000, 200_000_000 // (mb * mb * eb // 64 + 1)))
        samples = []
        for _ in range(7):
            t0 = _clock()
            for _ in range(reps):
                gmpy2.powmod(b, e, m)
            samples.append((_clock() - t0) / reps)
        _floor_cache[bucket] = statistics.median(samples) * 1e3
    return _floor_cache[bucket]


def _floor_of(counts: Counter[tuple[int, int]]) -> float:
    return sum(floor_ms(k) * n for k, n in counts.items())


def _fmt_counts(counts: Counter[tuple[int, int]]) -> str:
    if not counts:
        return "—"
    return ", ".join(f"{n}×{mb}/{eb}" for (mb, eb), n in sorted(counts.items()))


def measure(name: str, level: SecurityLevel) -> dict[str, object]:
    prove, verify = make_case(name, level)
    proof, pc = _counts(prove)
    _, vc = _counts(lambda: verify(proof))
    prove_ms = _median_ms(prove)
    verify_ms = _median_ms(lambda: verify(proof))
    pf, vf = _floor_of(pc), _floor_of(vc)
    return {
        "proof": name, "level": level.name, "prove_ms": prove_ms, "verify_ms": verify_ms,
        "prove_counts": pc, "verify_counts": vc, "prove_floor": pf, "verify_floor": vf,
    }


def _ms(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.1f}"


def _ratio(t: float, f: float) -> str:
    return f"{t / f:.2f}" if f > 0 else "—"


def table(rows: list[dict[str, object]]) -> str:
    head = ("| Proof | Level | Prove ms | Prove modexps | Prove floor ms | Prove ratio "
            "| Verify ms | Verify modexps | Verify floor ms | Verify ratio |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {r['proof']} | {r['level']} | {_ms(r['prove_ms'])}"
            f" | {_fmt_counts(r['prove_counts'])}"
            f" | {_ms(r['prove_floor'])} | {_ratio(r['prove_ms'], r['prove_floor'])}"
            f" | {_ms(r['verify_ms'])} | {_fmt_counts(r['verify_counts'])}"
            f" | {_ms(r['verify_floor'])} | {_ratio(r['verify_ms'], r['verify_floor'])} |"
        )
    return "\n".join(lines)


def section(rows: list[dict[str, object]], missing: list[str]) -> str:
    env = (f"Backend `{arith.BACKEND}`, gmpy2 {gmpy2.version()} on {gmpy2.mp_version()}, "
           f"Python {platform.python_version()}, {platform.machine()}. "
           "Produced by `benchmarks/proof_table.py`.")
    legend = (
        "Modexps: `count×modulus bits/exponent bits` as `tss.arith.counting` records them "
        "(buckets rounded up to 64 bits; a k-base multi-exponentiation counts k at its largest "
        "exponent; a CRT exponentiation counts its two halves). Floor: the same count of plain "
        "`gmpy2.powmod` calls with random operands of those sizes, timed in the same run. "
        "Ratio: time / floor. Times are medians of CPU time (`time.process_time`, all threads: "
        "Πmod and Πprm run their batches on two), in ms, with the fixed-base tables of s and t "
        "kept from earlier runs. Point multiplications (libsecp256k1) are not counted."
    )
    parts = [HEADING, "", env, "", legend, "", table(rows)]
    if missing:
        parts += ["", "Not measured (module not present): " + ", ".join(missing) + "."]
    return "\n".join(parts) + "\n"


def write_section(text: str, path: Path = DOC) -> None:
    """Replace the ``## Proofs`` section of ``path`` (up to the next ``## `` heading), or append
    it; create the file if it does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Performance\n\n" + text)
        return
    lines = path.read_text().splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == HEADING), None)
    if start is None:
        old = "".join(lines)
        sep = "" if not old or old.endswith("\n\n") else ("\n" if old.endswith("\n") else "\n\n")
        path.write_text(old + sep + text)
        return
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("## ") or lines[i].startswith("# ")), len(lines))
    tail = lines[end:]
    new = "".join(lines[:start]) + text + ("\n" if tail else "") + "".join(tail)
    path.write_text(new)


def main(argv: list[str]) -> int:
    names = available()
    missing = [p for p in PROOFS if p not in names]
    rows = []
    for level in LEVELS:
        for name in names:
            rows.append(measure(name, level))
            print(f"measured {name} at {level.name}", file=sys.stderr)
    text = section(rows, missing)
    print(text)
    if "--no-write" not in argv:
        write_section(text)
        print(f"written to {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
