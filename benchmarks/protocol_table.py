"""Time per protocol phase, per party exponentiation count, and the GMP floor for that count.

Run ``PYTHONPATH=src python benchmarks/protocol_table.py [--quick]``. It measures, in one
process (all parties simulated, so party work is summed; "per party" divides by the party count):
safe-prime generation, keygen with those keys, presign with t signers and the online sign, for
2-of-3 and 3-of-5 at both levels (``--quick``: STANDARD only). It prints a markdown table and
writes it into docs/performance.md under ``## Protocols`` (other sections are left alone).
The floor of a phase is, for every (modulus bits, exponent bits) bucket that
``tss.arith.counting`` saw, one plain ``gmpy2.powmod`` of those sizes timed in this run, times
the count.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _doc import replace_section  # noqa: E402
from proof_table import _floor_of, _fmt_counts  # noqa: E402

import tss  # noqa: E402
from tss import arith  # noqa: E402
from tss.aux import pregenerate  # noqa: E402
from tss.simulation import sign_with_presignatures  # noqa: E402

HEADING = "## Protocols"


def _cpu() -> float:
    """CPU seconds of this process (every thread) and of its finished worker processes."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


_last_cpu = [0.0]


def _timed(fn):
    with arith.counting() as c:
        c0 = _cpu()
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        _last_cpu[0] = _cpu() - c0
    return out, dt, Counter(c.counts)


def measure(t: int, n: int, level, repeats: int) -> list[dict]:
    rows = []
    keys, dt, _ = _timed(lambda: pregenerate(n, level))
    rows.append({"phase": "safe primes (all cores)", "t": t, "n": n, "level": level.name,
                 "sec": dt, "cpu": _last_cpu[0], "per_party": None, "counts": Counter()})
    shares, dt, cnt = _timed(lambda: tss.simulate_keygen(t, n, level=level, paillier_keys=keys))
    rows.append({"phase": "keygen", "t": t, "n": n, "level": level.name, "sec": dt,
                 "cpu": _last_cpu[0], "per_party": n, "counts": cnt})
    digest = hashlib.sha256(b"bench").digest()
    pre_times, pre_cpu, sign_times, sign_cpu = [], [], [], []
    pre_cnt = Counter()
    for _ in range(repeats):
        presigs, dt, pre_cnt = _timed(lambda: tss.simulate_presign(shares[:t]))
        pre_times.append(dt)
        pre_cpu.append(_last_cpu[0])
        _, dt2, _ = _timed(lambda p=presigs: sign_with_presignatures(p, digest))
        sign_times.append(dt2)
        sign_cpu.append(_last_cpu[0])
    rows.append({"phase": "presign", "t": t, "n": n, "level": level.name,
                 "sec": statistics.median(pre_times), "cpu": statistics.median(pre_cpu),
                 "per_party": t, "counts": pre_cnt})
    rows.append({"phase": "sign (online)", "t": t, "n": n, "level": level.name,
                 "sec": statistics.median(sign_times), "cpu": statistics.median(sign_cpu),
                 "per_party": t, "counts": Counter()})
    return rows


def table(rows: list[dict]) -> str:
    out = ["| level | t-of-n | phase | wall s (all parties) | CPU s (all parties) | "
           "modexps per party | floor s per party | CPU ratio to floor |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        k = r["per_party"]
        head = (f"| {r['level']} | {r['t']}-of-{r['n']} | {r['phase']} | {r['sec']:.3f} "
                f"| {r['cpu']:.3f} ")
        if k:
            per = Counter({b: c // k for b, c in r["counts"].items()})
            floor = _floor_of(per) / 1e3
            ratio = f"{(r['cpu'] / k) / floor:.2f}" if floor else "—"
            out.append(head + f"| {_fmt_counts(per)} | {floor:.3f} | {ratio} |")
        else:
            out.append(head + "| — | — | — |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="STANDARD level only")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    levels = [tss.STANDARD] if args.quick else [tss.STANDARD, tss.HIGH]
    rows = []
    for level in levels:
        for t, n in ((2, 3), (3, 5)):
            rows.extend(measure(t, n, level, args.repeats))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    body = "\n".join([
        HEADING, "",
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} cores, backend "
        f"`{arith.BACKEND}`, Python {platform.python_version()}. All parties simulated in one "
        "process and one thread (safe primes: on all cores; keygen verifies its Πmod and Πprm "
        "batches on two threads); presign and sign: medians of "
        f"{args.repeats}. \"Per party\" divides the run's exponentiation count by the number "
        "of parties in the phase. CPU: every thread and worker process (less disturbed than "
        "wall time by other work on a shared machine: load average "
        f"{os.getloadavg()[0]:.2f} at the end); the ratio divides CPU per party by the floor. "
        "Reproduce: `PYTHONPATH=src python benchmarks/protocol_table.py`.",
        "", table(rows), ""])
    print(body)
    replace_section(HEADING, body)


if __name__ == "__main__":
    main()
