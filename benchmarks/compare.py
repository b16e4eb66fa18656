"""tss side by side with ggmpc and the GMP floor, and the issue-7 targets, from one run.

Run from the project root with the project's venv:

    .venv/bin/python benchmarks/compare.py

It measures, in this one process and in subprocesses it starts:

* tss (this package, STANDARD level, every party simulated in this process): for t-of-n with
  n = 3, 5, 7 and t = n // 2 + 1, the safe primes of all parties (``tss.aux.pregenerate`` on all
  cores), the key generation with those keys (``simulate_keygen``, which verifies every peer's
  proofs on two threads), the presignature of t signers (the first one after key generation,
  when the fixed-base tables of the parties' ring-Pedersen s and t are built, and later ones)
  and the online round (partial signatures, combination, verification). Signing is measured
  with the process pinned to one core.
* ggmpc 0.3.0 from PyPI, installed by this script into ``.bench-venvs/ggmpc`` as it installs by
  default (phe and python-ecdsa on Python integers) and into ``.bench-venvs/ggmpc-gmpy2`` with
  gmpy2 added (phe and python-ecdsa then use GMP), each run by ``benchmarks/_ggmpc_runner.py``
  in its venv: the same t-of-n key generation and one signature by t parties. ggmpc proves
  nothing about its keys, uses 3072-bit Paillier keys and makes a fresh Ntilde per signature.
* the GMP floor: for every (modulus bits, exponent bits) bucket that ``tss.arith.counting``
  records in our runs, one ``gmpy2.powmod`` of those sizes timed here, times the count; and the
  exponentiation count of tss-lib's signing (../shared/reference/tss-lib-notes.md section 4) at
  the same GMP speed.

It writes the sections ``## Peers`` (tables, and the chart ``docs/perf_phases.png`` drawn with
matplotlib from ``.bench-venvs/plot``) and ``## Targets`` of docs/performance.md, and prints the
raw figures as JSON, which it also keeps in ``.bench-venvs/compare-last.json`` (with the floor
timings), so that ``--from-json`` can redraw and rewrite from a run without measuring again.
Options: ``--rounds`` (2-of-3 rounds, default 3), ``--chart-rounds`` (rounds for n = 5 and 7,
default 1), ``--ns`` (default 3,5,7), ``--no-peers`` (tss and the floor only), ``--no-write``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _doc import replace_section  # noqa: E402
from proof_table import _fmt_counts, floor_ms  # noqa: E402

import tss  # noqa: E402
from tss import arith  # noqa: E402
from tss.aux import pregenerate  # noqa: E402
from tss.simulation import sign_with_presignatures  # noqa: E402

VENVS = ROOT / ".bench-venvs"
RUNNER = HERE / "_ggmpc_runner.py"
CHART = ROOT / "docs" / "perf_phases.png"
COMMAND = ".venv/bin/python benchmarks/compare.py"
GGMPC = "ggmpc==0.3.0"
PEERS = {"ggmpc": [GGMPC], "ggmpc-gmpy2": [GGMPC, "gmpy2"]}


# ------------------------------------------------------------------------------ helpers

def _cpu_all() -> float:
    """CPU seconds of this process (all threads) and of its finished children."""
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


class Timer:
    def __init__(self) -> None:
        self.w, self.c = time.perf_counter(), _cpu_all()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.w, _cpu_all() - self.c


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _venv_python(name: str, packages: list[str]) -> Path:
    """The python of .bench-venvs/<name>, created and filled with ``packages`` if missing."""
    venv = VENVS / name
    py = venv / "bin" / "python"
    stamp = venv / ".installed"
    want = " ".join(packages)
    if not (py.exists() and stamp.exists() and stamp.read_text() == want):
        print(f"[compare] creating {venv} with {want}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *packages], check=True)
        stamp.write_text(want)
    return py


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------------------ tss

def measure_tss(t: int, n: int, rounds: int) -> dict:
    digest = hashlib.sha256(b"compare.py").digest()
    out: dict[str, list] = {k: [] for k in (
        "primes_wall", "primes_cpu", "keygen_wall", "keygen_cpu", "presign_first_wall",
        "presign_first_cpu", "presign_wall", "presign_cpu", "online_wall", "online_cpu")}
    counts: dict[str, Counter] = {}
    for _ in range(rounds):
        arith.fixed_base_cache_clear()  # new parameters every round: nothing carried over
        tm = Timer()
        keys = pregenerate(n)
        w, c = tm.stop()
        out["primes_wall"].append(w)
        out["primes_cpu"].append(c)
        with arith.counting() as kc:
            tm = Timer()
            shares = tss.simulate_keygen(t, n, paillier_keys=keys)
            w, c = tm.stop()
        counts["keygen"] = Counter(kc.counts)
        out["keygen_wall"].append(w)
        out["keygen_cpu"].append(c)
        # signing on one core
        cpus = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cpus)})
        try:
            for k in range(3):
                with arith.counting() as pc:
                    tm = Timer()
                    presigs = tss.simulate_presign(shares[:t])
                    pw, pcpu = tm.stop()
                tm = Timer()
                sig = sign_with_presignatures(presigs, digest)
                ow, ocpu = tm.stop()
                if not sig.verify(shares[0].public_key, digest):
                    raise RuntimeError("tss signature does not verify")
                if k == 0:
                    out["presign_first_wall"].append(pw)
                    out["presign_first_cpu"].append(pcpu)
                else:
                    out["presign_wall"].append(pw)
                    out["presign_cpu"].append(pcpu)
                out["online_wall"].append(ow)
                out["online_cpu"].append(ocpu)
                counts["presign"] = Counter(pc.counts)
        finally:
            os.sched_setaffinity(0, cpus)
    res = {k: _med(v) for k, v in out.items()}
    res["rounds"] = rounds
    res["t"], res["n"] = t, n
    res["counts"] = {k: {f"{m}/{e}": c for (m, e), c in v.items()} for k, v in counts.items()}
    res["_counts"] = counts
    return res


def floor_s(counts: Counter) -> float:
    return sum(floor_ms(k) * c for k, c in counts.items()) / 1e3


# ------------------------------------------------------------------------------ ggmpc

def measure_ggmpc(py: Path, t: int, n: int, rounds: int) -> dict:
    r = subprocess.run([str(py), str(RUNNER), "--n", str(n), "--t", str(t),
                        "--rounds", str(rounds)], check=True, capture_output=True, text=True)
    raw = json.loads(r.stdout.strip().splitlines()[-1])
    res = {k: _med([x[k] for x in raw["rounds"]]) for k in raw["rounds"][0] if k != "verified"}
    res["verified"] = all(x["verified"] for x in raw["rounds"])
    res["rounds"] = rounds
    res["t"], res["n"] = t, n
    for k in ("phe_uses_gmpy2", "python_ecdsa_uses_gmpy2", "paillier_bits"):
        res[k] = raw[k]
    return res


# ------------------------------------------------------------------------------ chart

PLOT = r'''
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
d = json.load(sys.stdin)
ns = d["ns"]
fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
for ax, panel in zip(axes, d["panels"]):
    series = panel["series"]  # [[label, color, hatch, [seconds per n]], ...]
    width = 0.8 / len(series)
    for k, (label, color, hatch, vals) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(ns))]
        ax.bar(xs, vals, width, color=color, hatch=hatch, edgecolor="white", label=label)
        for x, v in zip(xs, vals):
            txt = f"{v * 1e3:.1f} ms" if v < 0.01 else f"{v:.2g}"
            ax.text(x, v * 1.1, txt, ha="center", va="bottom", fontsize=6.5, rotation=90)
    ax.set_yscale("log")
    ax.set_ylim(panel["ymin"], panel["ymax"])
    ax.set_xticks(range(len(ns)))
    ax.set_xticklabels([f"{n // 2 + 1}-of-{n}" for n in ns])
    ax.set_ylabel("wall seconds (log scale)")
    ax.set_title(panel["title"], fontsize=10)
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2)
fig.suptitle(d["title"], fontsize=9.5)
fig.tight_layout()
fig.savefig(d["out"], dpi=120)
'''


def draw_chart(ns: list[int], tss_rows: dict, peers: dict) -> bool:
    tss_c, gm_c, gg_c = "#1f77b4", "#ff7f0e", "#d62728"
    keygen = [
        ["tss: safe primes (all cores)", "#9ecae1", "//",
         [tss_rows[n]["primes_wall"] for n in ns]],
        ["tss: proofs and shares", tss_c, "", [tss_rows[n]["keygen_wall"] for n in ns]],
    ]
    sign = [
        ["tss: presign (first after keygen)", tss_c, "",
         [tss_rows[n]["presign_first_wall"] for n in ns]],
        ["tss: online round", "#9ecae1", "xx", [tss_rows[n]["online_wall"] for n in ns]],
    ]
    for key, label, color in (("ggmpc-gmpy2", "ggmpc + gmpy2", gm_c),
                              ("ggmpc", "ggmpc as installed", gg_c)):
        if key in peers and all(n in peers[key] for n in ns):
            keygen.append([label, color, "", [peers[key][n]["keygen_wall"] for n in ns]])
            sign.append([label, color, "", [peers[key][n]["sign_wall"] for n in ns]])
    top = max(v for ser in keygen + sign for v in ser[3]) * 4
    data = {"ns": ns, "out": str(CHART),
            "panels": [
                {"title": "t-of-n key generation, all parties", "series": keygen,
                 "ymin": 0.05, "ymax": top},
                {"title": "one signature by t parties, all signers", "series": sign,
                 "ymin": 1e-4, "ymax": top}],
            "title": "tss (every key proven, 2048-bit Paillier) and ggmpc 0.3.0 (nothing proven, "
                     "3072-bit Paillier): wall time by phase, all parties in one process"}
    try:
        py = _venv_python("plot", ["matplotlib"])
        subprocess.run([str(py), "-c", PLOT], input=json.dumps(data), text=True, check=True)
        return True
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"[compare] no chart: {exc}", file=sys.stderr)
        return False


# ------------------------------------------------------------------------------ report

def _f(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


def tsslib_sign_s(floor_2048: float, floor_4096: float) -> float:
    """tss-lib's signing exponentiations at GMP speed, 2 parties with one counterparty each:
    per party and counterparty 41 at 2048/2048 and 34 at 4096/2048 (tss-lib-notes.md s. 4)."""
    return 2 * (41 * floor_2048 + 34 * floor_4096) / 1e3


def report(ns, tss_rows, peers, chart_ok, started, load0, load1,
           simd: bool) -> tuple[str, str]:
    r3 = tss_rows[3]
    kc, pc = r3["_counts"]["keygen"], r3["_counts"]["presign"]
    f2048, f4096 = floor_ms((2048, 2048)), floor_ms((4096, 2048))
    per_party_keygen = Counter({k: v // 3 for k, v in kc.items()})
    keygen_floor = floor_s(kc)          # all three parties
    presign_floor = floor_s(pc)         # both signers
    sign_wall = r3["presign_first_wall"] + r3["online_wall"]
    sign_warm = r3["presign_wall"] + r3["online_wall"]
    sign_cpu = r3["presign_first_cpu"] + r3["online_cpu"]
    kg_wall = r3["primes_wall"] + r3["keygen_wall"]
    kg_cpu_party = (r3["primes_cpu"] + r3["keygen_cpu"]) / 3
    tsslib = tsslib_sign_s(f2048, f4096)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor())
    gg = peers.get("ggmpc", {}).get(3)
    ggm = peers.get("ggmpc-gmpy2", {}).get(3)
    head = (f"Measured {started} on {cpu}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, tss backend `{arith.BACKEND}` (AVX-512 IFMA lanes "
            f"{'on' if simd else 'off'}); load average {load0} at the start and {load1} "
            "at the end (the machine was shared, so wall times carry some noise). Medians of "
            f"{r3['rounds']} rounds for 2-of-3 and {tss_rows[ns[-1]]['rounds']} for the larger "
            "sets; every round makes new keys and verifies its signature. tss: STANDARD level "
            "(2048-bit Paillier, every key proven with Πmod, Πprm, Πfac); ggmpc 0.3.0: 3072-bit "
            "Paillier, nothing proven, a fresh Ntilde per signature. Reproduce: "
            f"`{COMMAND}` (it installs ggmpc into `.bench-venvs/`).")
    lines = ["## Peers", "", head, "",
             "| 2-of-3 key generation, one 2-party signature | keygen wall s | keygen CPU s | "
             "sign wall s | sign CPU s | notes |", "|---|---|---|---|---|---|"]
    lines.append(
        f"| tss | {_f(kg_wall)} | {_f(r3['primes_cpu'] + r3['keygen_cpu'])} | {_f(sign_wall)} | "
        f"{_f(sign_cpu)} | keygen: safe primes {_f(r3['primes_wall'])} s wall on all cores, "
        f"then proofs {_f(r3['keygen_wall'])} s; sign: first presign after keygen (tables "
        f"built) + online, one core; later presigns {_f(r3['presign_wall'])} s |")
    for key, label in (("ggmpc", "ggmpc, as installed (no gmpy2)"),
                       ("ggmpc-gmpy2", "ggmpc + gmpy2")):
        g = peers.get(key, {}).get(3)
        if g:
            lines.append(
                f"| {label} | {_f(g['keygen_wall'])} | {_f(g['keygen_cpu'])} | "
                f"{_f(g['sign_wall'])} | {_f(g['sign_cpu'])} | of sign, Ntilde set-up "
                f"{_f(g['sign_ntilde_wall'])} s; phe on gmpy2: {g['phe_uses_gmpy2']}; "
                f"verified: {g['verified']} |")
    lines.append(
        f"| GMP floor, our exponentiation count | {_f(keygen_floor)} | | {_f(presign_floor)} | "
        f"| one `gmpy2.powmod` per counted exponentiation; keygen without primes |")
    lines.append(
        f"| tss-lib's signing count at GMP speed | | | {_f(tsslib)} | | 2 × (41 × "
        f"{_f(f2048, 2)} ms + 34 × {_f(f4096, 2)} ms), tss-lib-notes.md §4 |")
    lines.append("")
    if gg and ggm:
        lines.append(
            f"Signing: tss is {ggm['sign_wall'] / sign_wall:.1f}x faster than ggmpc with gmpy2 "
            f"and {gg['sign_wall'] / sign_wall:.1f}x faster than ggmpc as installed. Key "
            f"generation, every prime included: {gg['keygen_wall'] / kg_wall:.1f}x faster than "
            f"ggmpc as installed and {ggm['keygen_wall'] / kg_wall:.2f}x ggmpc with gmpy2's "
            "speed, although ggmpc proves nothing about its keys.")
        lines.append("")
    lines += ["| t-of-n | tss safe primes | tss keygen | tss presign (first) | tss online | "
              "ggmpc + gmpy2 keygen | ggmpc + gmpy2 sign | ggmpc keygen | ggmpc sign |",
              "|---|---|---|---|---|---|---|---|---|"]
    for n in ns:
        r = tss_rows[n]
        cells = [f"{r['t']}-of-{n}", _f(r["primes_wall"]), _f(r["keygen_wall"]),
                 _f(r["presign_first_wall"]), _f(r["online_wall"], 4)]
        for key in ("ggmpc-gmpy2", "ggmpc"):
            g = peers.get(key, {}).get(n)
            cells += [_f(g["keygen_wall"]), _f(g["sign_wall"])] if g else ["—", "—"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Wall seconds, all parties in one process; signing by t parties."]
    if chart_ok:
        lines += ["", "![phase times for n = 3, 5, 7](perf_phases.png)"]
    lines += ["", "Exponentiations per party (`count×modulus bits/exponent bits`) in this run: "
              f"2-of-3 keygen {_fmt_counts(per_party_keygen)}; presign (per signer) "
              f"{_fmt_counts(Counter({k: v // 2 for k, v in pc.items()}))}."]
    peers_md = "\n".join(lines)

    # ------------------------------------------------------------------ targets
    def row(target, figure, ok, note=""):
        return f"| {target} | {figure} | {'met' if ok else 'not met'} | {note} |"

    t_lines = ["## Targets", "",
               f"Issue 7, STANDARD level, all parties simulated in one process; every figure "
               f"is from the run of `{COMMAND}` on {started} described under Peers (2-of-3: "
               f"medians of {r3['rounds']} rounds).", "",
               "| target | measured | | notes |", "|---|---|---|---|"]
    t_lines.append(row(
        "2-party signing (presign + online, both signers) ≤ 0.4 s on one core",
        f"{_f(sign_wall)} s wall ({_f(sign_cpu)} s CPU)", sign_wall <= 0.4,
        f"first presign after keygen, tables for s, t built; later ones {_f(sign_warm)} s"))
    ratio = sign_cpu / presign_floor if presign_floor else float("nan")
    t_lines.append(row(
        "signing within 1.3x of the GMP floor for our own count",
        f"{ratio:.2f}x ({_f(sign_cpu)} s CPU / {_f(presign_floor)} s floor)", ratio <= 1.3,
        "floor: one gmpy2.powmod per counted exponentiation (fixed-base, multi-exponentiation "
        "and AVX-512 lanes make ours cheaper than that)"))
    t_lines.append(row("online signing round (partial signatures, combine, verify) < 2 ms",
                       f"{r3['online_wall'] * 1e3:.2f} ms wall ({r3['online_cpu'] * 1e3:.2f} ms "
                       "CPU)", r3["online_wall"] < 0.002, "both signers, through the encodings"))
    t_lines.append(row("2-of-3 keygen incl. every prime ≤ 1.5 s CPU per party",
                       f"{_f(kg_cpu_party)} s", kg_cpu_party <= 1.5,
                       f"(primes {_f(r3['primes_cpu'])} s + keygen {_f(r3['keygen_cpu'])} s) "
                       "/ 3, CPU of every thread and worker process"))
    t_lines.append(row("2-of-3 keygen incl. every prime ≤ 2.5 s wall on 2 cores",
                       f"{_f(kg_wall)} s", kg_wall <= 2.5,
                       f"primes {_f(r3['primes_wall'])} s + keygen {_f(r3['keygen_wall'])} s"))
    if ggm:
        x = ggm["sign_wall"] / sign_wall
        t_lines.append(row("signing ≥ 20x faster than ggmpc with gmpy2",
                           f"{x:.1f}x ({_f(ggm['sign_wall'])} s / {_f(sign_wall)} s)", x >= 20))
    else:
        t_lines.append(row("signing ≥ 20x faster than ggmpc with gmpy2", "not run", False,
                           "--no-peers"))
    if gg:
        x = gg["keygen_wall"] / kg_wall
        t_lines.append(row("keygen faster than ggmpc as installed (no gmpy2)",
                           f"{x:.1f}x ({_f(gg['keygen_wall'])} s / {_f(kg_wall)} s)", x > 1))
    else:
        t_lines.append(row("keygen faster than ggmpc as installed (no gmpy2)", "not run", False,
                           "--no-peers"))
    t_lines += ["", "Where the time goes and what removes it (kernels in csrc/, their Python "
                "face in tss.arith):", "",
                "- Πprm verification: the 128 powers t^z_i share one Lim-Lee comb for t "
                "(`fixed_base_powmod`, csrc/fixedbase.c), on two threads; s^e_i with a bit e_i "
                "is one product.",
                "- Eight exponentiations at once with AVX-512 IFMA (csrc/lanes.c, used when the "
                "CPU has it): Πmod verification's z_i^N, the constant-time CRT halves of the Πmod "
                "and Πprm provers (`batch_powmod_sec`, `batch_crt_powmod`), and the Fermat filter "
                "of the safe-prime search. About 4x GMP's mpz_powm per exponentiation. "
                "`TSS_NO_SIMD=1` in the environment switches them off (GMP alone).",
                "- Every party's ring-Pedersen s and t get fixed-base tables kept across proofs "
                "and runs (`multi_powmod_fixed_sec` for provers, constant time: every table "
                "entry read, no branch on the exponent's sign; `multi_powmod_fixed` for "
                "verifiers).",
                "- Earlier work kept: CRT wherever the factors are known, (1+N)^m = 1+mN, "
                "multi-exponentiation for every verification equation, no proof verified twice "
                "and none by its own prover, safe primes by a joint sieve on all cores.",
                "- What is left in signing is mostly modulo N^2 (Paillier encryption r^N by CRT, "
                "and the verifiers' z^N0 and D^-e with the prover's modulus, whose factors they "
                "do not know): single exponentiations of different moduli, on GMP."]
    return peers_md, "\n".join(t_lines)


def _simd_on() -> bool:
    try:
        from tss.arith import _native_backend
    except ImportError:
        return False
    return _native_backend.set_simd()[0] if arith.BACKEND == "native" else False


LAST = VENVS / "compare-last.json"


def _counters(row: dict) -> dict[str, Counter]:
    return {k: Counter({tuple(int(x) for x in b.split("/")): c for b, c in v.items()})
            for k, v in row["counts"].items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds for 2-of-3 (default 3)")
    ap.add_argument("--chart-rounds", type=int, default=1, help="rounds for n = 5, 7")
    ap.add_argument("--ns", default="3,5,7", help="party counts (default 3,5,7; must hold 3)")
    ap.add_argument("--no-peers", action="store_true", help="tss and the floor only")
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/")
    ap.add_argument("--from-json", type=Path, nargs="?", const=LAST, default=None,
                    help=f"no measuring: redraw and rewrite from a saved run (default file "
                         f"{LAST.relative_to(ROOT)}, written by every run)")
    args = ap.parse_args()
    if args.from_json is not None:
        data = json.loads(args.from_json.read_text())
    else:
        ns = [int(x) for x in args.ns.split(",")]
        if 3 not in ns:
            ap.error("--ns must include 3 (the 2-of-3 comparison)")
        data = {"started": time.strftime("%Y-%m-%d %H:%M"), "load0": _load(), "ns": ns,
                "simd": _simd_on(), "peers": {}, "tss": {}}
        if not args.no_peers:
            for name, pkgs in PEERS.items():
                py = _venv_python(name, pkgs)
                data["peers"][name] = {}
                for n in ns:
                    rounds = args.rounds if n == 3 else args.chart_rounds
                    print(f"[compare] {name} {n // 2 + 1}-of-{n} x{rounds}", file=sys.stderr,
                          flush=True)
                    data["peers"][name][str(n)] = measure_ggmpc(py, n // 2 + 1, n, rounds)
        for n in ns:
            rounds = args.rounds if n == 3 else args.chart_rounds
            print(f"[compare] tss {n // 2 + 1}-of-{n} x{rounds}", file=sys.stderr, flush=True)
            row = measure_tss(n // 2 + 1, n, rounds)
            row.pop("_counts")
            data["tss"][str(n)] = row
        data["load1"] = _load()
        # the floor of every bucket the report uses, timed now and kept with the run
        buckets = {(2048, 2048), (4096, 2048)}
        for row in data["tss"].values():
            for cnt in _counters(row).values():
                buckets |= set(cnt)
        data["floor_ms"] = {f"{m}/{e}": floor_ms((m, e)) for m, e in sorted(buckets)}
        VENVS.mkdir(exist_ok=True)
        LAST.write_text(json.dumps(data, indent=1))
    # the report reads the floor through floor_ms: give it this run's figures
    from proof_table import _floor_cache

    for b, ms in data["floor_ms"].items():
        _floor_cache[tuple(int(x) for x in b.split("/"))] = ms
    ns = data["ns"]
    tss_rows = {int(n): dict(r, _counts=_counters(r)) for n, r in data["tss"].items()}
    peers = {k: {int(n): r for n, r in v.items()} for k, v in data["peers"].items()}
    chart_ok = False if args.no_write else draw_chart(ns, tss_rows, peers)
    peers_md, targets_md = report(ns, tss_rows, peers, chart_ok, data["started"],
                                  data["load0"], data["load1"], data["simd"])
    print(json.dumps(data, indent=1))
    print(peers_md)
    print(targets_md)
    if not args.no_write:
        replace_section("## Peers", peers_md)
        replace_section("## Targets", targets_md)


if __name__ == "__main__":
    main()
