"""The fuzz targets of fuzz/targets.py driven by hypothesis, for machines without atheris:
random bytes, and mutations (bit flips, cuts, insertions, splices) of the seed corpus.

    python fuzz/run_hypothesis.py [--seconds PER_TARGET] [--corpus DIR] [TARGET ...]

Exits non-zero and prints the failing input (hex) on the first crash.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import targets  # noqa: E402


@st.composite
def mutated(draw, seeds: list[bytes]):
    if not seeds or draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=4096))
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "splice", "set"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            end = draw(st.integers(pos, len(data)))
            del data[pos:end]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "splice" and seeds:
            other = draw(st.sampled_from(seeds))
            i = draw(st.integers(0, max(len(other) - 1, 0)))
            data[pos:pos + 32] = other[i:i + 32]
        elif op == "set" and data:
            data[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
    return bytes(data)


def fuzz(name: str, seconds: float, seeds: list[bytes]) -> int:
    runs = 0

    @settings(max_examples=200, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(mutated(seeds))
    def one(data):
        nonlocal runs
        runs += 1
        try:
            targets.check(name, data)
        except BaseException:
            print(f"CRASH in {name} on input {data.hex()}", file=sys.stderr)
            raise

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        one()
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="per target")
    ap.add_argument("--corpus", type=Path, help="seed corpus (fuzz/seeds.py)")
    ap.add_argument("targets", nargs="*")
    args = ap.parse_args()
    for name in args.targets or list(targets.TARGETS):
        d = args.corpus / name if args.corpus else None
        seeds = [p.read_bytes() for p in sorted(d.iterdir())] if d and d.is_dir() else []
        runs = fuzz(name, args.seconds, seeds)
        print(f"{name}: {runs} inputs, no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
