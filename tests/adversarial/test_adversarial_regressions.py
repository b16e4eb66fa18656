"""The decoder fuzz targets of fuzz/ inside the test suite, and the regressions they found.

* Every target runs on its seed corpus (valid encodings, which must decode canonically) and on
  deterministic mutations of it, so the suite exercises the same code as the atheris run even
  where atheris is not installed.
* ``REGRESSIONS`` is where every input a fuzzer reports as a crash goes, as (target, hex): each
  must from then on be refused with a ``tss.TssError`` (or decode canonically). No run so far
  found a crash (atheris with the seed corpus, 50 s per target; the hypothesis loop), so the
  list holds hand-written boundary inputs for now (lengths, counts, signs, nesting), so that a
  change to a decoder meets them in every test run.
"""

from __future__ import annotations

import functools
import importlib.util
import random
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"tss_fuzz_{name}", FUZZ / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


targets = _load("targets")


@functools.cache
def _seeds():
    return _load("seeds").seeds()


def _mutations(data: bytes, rnd: random.Random, count: int):
    for _ in range(count):
        out = bytearray(data)
        op = rnd.randrange(4)
        pos = rnd.randrange(len(out)) if out else 0
        if op == 0 and out:
            out[pos] ^= 1 << rnd.randrange(8)
        elif op == 1:
            del out[pos:pos + rnd.randint(1, 40)]
        elif op == 2:
            out[pos:pos] = rnd.randbytes(rnd.randint(1, 40))
        elif out:
            out[pos] = rnd.choice([0, 1, 0x7F, 0x80, 0xFF])
        yield bytes(out)


@pytest.mark.parametrize("name", list(targets.TARGETS))
def test_fuzz_target_on_its_seeds_and_their_mutations(name):
    seeds = _seeds()[name]
    assert seeds
    for data in seeds:
        targets.TARGETS[name](data)  # a valid encoding decodes, and canonically
    rnd = random.Random(name)
    for data in seeds:
        for m in _mutations(data, rnd, 150):
            targets.check(name, m)


def test_every_decoder_has_a_target():
    """Message, KeyShare, Presignature, Signature, each proof's decoder, import_tss_lib."""
    assert set(targets.TARGETS) >= {"message", "keyshare", "presignature", "signature",
                                    "sch", "enc", "aff_g", "log_star", "mod", "fac", "prm",
                                    "import_tss_lib"}


def test_the_combined_target_dispatches_to_every_target():
    seeds = _seeds()
    for name in targets.TARGETS:
        for data in seeds[name]:
            targets._all(targets.all_input(name, data))  # decodes, canonically


REGRESSIONS = [
    # message: payload length field larger than the data; version 2; round 0; broadcast sender
    ("message", "0101010000ffff0178000000ff"),
    ("message", "0201010000ffff017800000000"),
    ("message", "0101000000ffff017800000000"),
    ("message", "01010100ffffffff017800000000"),
    # message: session id of length 0 and of length 65
    ("message", "0101010000ffff0000000000"),
    ("message", "0101010000ffff41" + "78" * 65 + "00000000"),
    # signature: s high, r = 0, recovery id 4
    ("signature", "01" * 32 + "ff" * 32),
    ("signature", "00" * 32 + "01" * 32),
    ("signature", "01" * 32 + "01" * 32 + "04"),
    # proofs: a negative-zero integer, a leading zero byte, a count of 0xFFFF with no items
    ("sch", "02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798" + "010000"),
    ("enc", "00" + "000001" + "00"),
    ("mod", "00" + "000000" + "ffff"),
    ("prm", "00" + "ffff"),
    ("fac", "01" + "010000"),
    ("log_star", "00"),
    ("aff_g", "00" + "00000100"),
    # key share / presignature bodies: party count 0 and 1001, a bad level code
    ("keyshare_body", "0100" + "0005" + "000000" * 5),
    ("keyshare_body", "0300"),
    ("presignature_body", "00"),
    ("presignature_body", "4000"),
    # tss-lib import: deep nesting, a float, a duplicate key, not JSON at all
    ("import_tss_lib", ("5b" * 5000)),
    ("import_tss_lib", "7b224b73223a5b312e355d7d"),
    ("import_tss_lib", "7b224b73223a5b5d2c224b73223a5b5d7d"),
    ("import_tss_lib", "ff00"),
]


@pytest.mark.parametrize("name, data", REGRESSIONS, ids=[f"{n}-{i}" for i, (n, _) in
                                                         enumerate(REGRESSIONS)])
def test_fuzz_regression(name, data):
    targets.check(name, bytes.fromhex(data))
