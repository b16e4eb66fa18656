"""pytest-benchmark: the big-number kernels, native (tss._native) against the gmpy2 backend.

Not collected by the default test run (testpaths = tests, and the file name does not match
test_*.py). Run it explicitly:

    PYTHONPATH=src .venv/bin/python -m pytest benchmarks/bench_kernels.py -q

Compare within a group (``--benchmark-group-by=group``, the default). The operands and the
Paillier key come from kernel_table.py, which prints the ratios as a markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kernel_table import (  # noqa: E402
    batch_items,
    operands,
    paillier,
    separate,
    using,
)

import tss.arith as arith  # noqa: E402
from tss.arith import _gmpy2, _native_backend  # noqa: E402

BACKENDS = [_native_backend, _gmpy2]


def _id(backend) -> str:
    return backend.NAME


@pytest.mark.parametrize("bits", [(2048, 2048), (4096, 2048)], ids=lambda b: f"{b[0]}-{b[1]}")
@pytest.mark.parametrize("impl", ["native", "gmpy2", "int"])
def test_powmod(benchmark, impl, bits):
    benchmark.group = f"powmod {bits[0]}/{bits[1]}"
    (b,), (e,), m = operands(*bits, 1)
    fn = {"native": _native_backend.powmod, "gmpy2": _gmpy2.powmod, "int": pow}[impl]
    if impl == "int":
        benchmark.pedantic(fn, (b, e, m), rounds=5, iterations=1)
    else:
        assert benchmark(fn, b, e, m) == pow(b, e, m)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("impl", ["native-multi", "native-separate", "gmpy2"])
def test_multi_powmod(benchmark, impl, k):
    benchmark.group = f"{k}-base multi-exp 2048/2048"
    bs, es, m = operands(2048, 2048, k)
    if impl == "native-multi":
        got = benchmark(_native_backend.multi_powmod, bs, es, m)
    elif impl == "native-separate":
        got = benchmark(separate, _native_backend, bs, es, m)
    else:
        got = benchmark(_gmpy2.multi_powmod, bs, es, m)
    assert got == separate(_gmpy2, bs, es, m)


@pytest.mark.parametrize("backend", BACKENDS, ids=_id)
@pytest.mark.parametrize("how", ["plain", "crt"])
def test_paillier_decrypt(benchmark, how, backend):
    benchmark.group = "Paillier decryption, N 2048 bits"
    key = paillier()
    fn = key.plain if how == "plain" else key.crt_decrypt
    assert benchmark(fn, backend) == key.m


@pytest.mark.parametrize("backend", BACKENDS, ids=_id)
def test_safe_prime_1024(benchmark, backend):
    benchmark.group = "1024-bit safe prime"
    seeds = iter(range(1000))

    def run() -> int:
        with using(backend):
            return arith.random_safe_prime(1024, seed=b"bench-kernels-%d" % next(seeds))

    p = benchmark.pedantic(run, rounds=10, iterations=1)
    assert p.bit_length() == 1024


@pytest.mark.parametrize("backend", BACKENDS, ids=_id)
@pytest.mark.parametrize("threads", [1, 2])
def test_batch_powmod(benchmark, threads, backend):
    benchmark.group = "batch_powmod 16 x 2048/2048"
    items = batch_items()
    got = benchmark(backend.batch_powmod, items, threads)
    assert got == [_gmpy2.powmod(*t) for t in items]
