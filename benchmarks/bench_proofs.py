"""pytest-benchmark: prove and verify time of every zero-knowledge proof at both levels.

Not collected by the default test run (testpaths = tests, and the file name does not match
test_*.py). Run it explicitly:

    PYTHONPATH=src .venv/bin/python -m pytest benchmarks/bench_proofs.py -q

The case builders (keys from tests/data, prover key 0, verifier key 1) live in proof_table.py,
which also prints the markdown table with exponentiation counts and the GMP floor.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proof_table import LEVELS, PROOFS, available, make_case  # noqa: E402

_AVAILABLE = set(available())
_SLOW = {"mod", "prm"}  # 128 iterations each


def _params() -> list[object]:
    out = []
    for level in LEVELS:
        for name in PROOFS:
            marks = [] if name in _AVAILABLE else [pytest.mark.skip(reason=f"no tss.zk.{name}")]
            out.append(pytest.param(name, level, id=f"{name}-{level.name.lower()}", marks=marks))
    return out


def _rounds(name: str, level: object) -> int:
    if name in _SLOW:
        return 3
    return 20 if name == "sch" else 5


@pytest.mark.parametrize("name, level", _params())
def test_prove(benchmark, name, level) -> None:  # type: ignore[no-untyped-def]
    prove, verify = make_case(name, level)
    benchmark.group = f"prove-{level.name.lower()}"
    proof = benchmark.pedantic(prove, rounds=_rounds(name, level), iterations=1, warmup_rounds=1)
    verify(proof)


@pytest.mark.parametrize("name, level", _params())
def test_verify(benchmark, name, level) -> None:  # type: ignore[no-untyped-def]
    prove, verify = make_case(name, level)
    proof = prove()
    benchmark.group = f"verify-{level.name.lower()}"
    benchmark.pedantic(verify, args=(proof,), rounds=_rounds(name, level), iterations=1,
                       warmup_rounds=1)
