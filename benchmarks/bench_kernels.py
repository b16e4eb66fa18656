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


def _fixed_operands(k: int):
    bs, es, m = operands(2048, 2048, k)
    return bs[0], es, m


@pytest.mark.parametrize("impl", ["fixed-base", "batch"])
def test_fixed_base_128(benchmark, impl):
    benchmark.group = "128 powers of one base, 2048/2048, 2 threads (Πprm verify)"
    t, es, m = _fixed_operands(128)
    if impl == "fixed-base":
        got = benchmark(_native_backend.fixed_base_powmod, t, es, m, 2)
    else:
        got = benchmark(_native_backend.batch_powmod, [(t, e, m) for e in es], 2)
    assert got[:3] == [pow(t, e, m) for e in es[:3]]


@pytest.mark.parametrize("impl", ["kept-tables", "powmod_sec"])
def test_ring_pedersen_commitment_sec(benchmark, impl):
    benchmark.group = "s^x t^y mod N^ constant time, x 768 / y 2560 bits (prover)"
    (s, t), _, m = operands(2048, 2048, 2)
    x, y = (1 << 767) + 12345, (1 << 2559) + 6789
    fn = arith.multi_powmod_fixed_sec if impl == "kept-tables" else arith.multi_powmod_sec
    assert benchmark(fn, [s, t], [x, y], m) == pow(s, x, m) * pow(t, y, m) % m


@pytest.mark.parametrize("lanes", [True, False], ids=["ifma-lanes", "gmp"])
def test_batch_same_exponent(benchmark, lanes):
    benchmark.group = "32 x z^N mod N, 2048 bits, 1 thread (Πmod verify)"
    bs, _, m = operands(2048, 2048, 32)
    before, _ = _native_backend.set_simd(lanes)
    try:
        got = benchmark(_native_backend.batch_powmod, [(b, m, m) for b in bs], 1)
    finally:
        _native_backend.set_simd(before)
    assert got[0] == pow(bs[0], m, m)
