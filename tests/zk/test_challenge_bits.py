"""Challenge entropy (attacks.md A-19, test T-19).

LFDT/dfns cggmp21 derived Πprm's 128 challenge bits from a 32-bit word that was never refilled, so
bits 32..127 were always 0 and a forger needed only ~2^32 hashes. Here every challenge bit must be
live: over 2000 transcripts each of the 128 bit positions is 1 with frequency 0.5 +- 0.06 (about
5.4 sigma for n = 2000), no position is constant, no two positions are equal or strongly
correlated, and Πmod's y_i span the whole of Z_N (not a short hash as in tss-lib).
"""

from __future__ import annotations

import functools
from itertools import combinations

from conftest import paillier_key, ring_pedersen
from tss.hashing import Transcript
from tss.params import STANDARD
from tss.zk import fac, mod, prm
from tss.zk._common import ProofContext

SAMPLES = 2000
BITS = STANDARD.iterations  # 128
TOL = 0.06


def _columns(rows: list[list[int]]) -> list[int]:
    """Bit position j -> an int whose bit k is row k's bit j."""
    cols = [0] * len(rows[0])
    for k, row in enumerate(rows):
        for j, bit in enumerate(row):
            if bit:
                cols[j] |= 1 << k
    return cols


def _check_bits(rows: list[list[int]]) -> None:
    assert len(rows) == SAMPLES
    assert all(len(r) == BITS and set(r) <= {0, 1} for r in rows)
    cols = _columns(rows)
    mask = (1 << SAMPLES) - 1
    for j, c in enumerate(cols):
        freq = c.bit_count() / SAMPLES
        assert c not in (0, mask), f"challenge bit {j} is constant"
        assert abs(freq - 0.5) <= TOL, f"challenge bit {j} has frequency {freq}"
    for i, j in combinations(range(BITS), 2):
        assert cols[i] != cols[j], f"challenge bits {i} and {j} are identical"
        agree = (~(cols[i] ^ cols[j]) & mask).bit_count() / SAMPLES
        assert abs(agree - 0.5) <= TOL, f"challenge bits {i} and {j} agree {agree}"
    assert len({tuple(r) for r in rows}) == SAMPLES


@functools.cache
def _transcript_rows() -> list[list[int]]:
    rows = []
    for k in range(SAMPLES):
        t = Transcript("zk/prm", k.to_bytes(4, "big"), k % 7, k % 3)
        t.append("A", [k, k + 1])
        rows.append(t.challenge_bits(BITS))
    return rows


def test_transcript_challenge_bits_uniform() -> None:
    _check_bits(_transcript_rows())


def test_prm_challenge_bits_uniform() -> None:
    """The same through Πprm's own derivation (statement and commitments hashed)."""
    params = ring_pedersen(STANDARD, 0).params
    A = tuple(range(2, 2 + BITS))
    rows = [prm._challenge(ProofContext(k.to_bytes(4, "big"), 1, STANDARD, 1), params, A)
            for k in range(SAMPLES)]
    _check_bits(rows)


def test_prm_challenge_depends_on_every_commitment() -> None:
    params = ring_pedersen(STANDARD, 0).params
    ctx = ProofContext(b"sid", 1, STANDARD, 1)
    A = list(range(2, 2 + BITS))
    base = prm._challenge(ctx, params, A)
    for i in (0, 31, 32, 127):
        changed = list(A)
        changed[i] += 1
        assert prm._challenge(ctx, params, changed) != base


def test_bits_are_a_prefix_of_one_stream() -> None:
    """Fewer bits are a prefix of more bits (one XOF stream, no per-bit reuse of a short word)."""
    t = Transcript("zk/prm", b"sid", 0)
    assert t.challenge_bits(256)[:BITS] == t.challenge_bits(BITS)
    assert len(t.challenge_bits(80)) == 80


def test_mod_challenges_span_z_n() -> None:
    """Πmod's y_i are uniform in Z_N: the largest is within 8 bits of N and none repeat."""
    n = paillier_key(STANDARD, 0).n
    ys: list[int] = []
    for k in range(20):
        ctx = ProofContext(k.to_bytes(4, "big"), 1, STANDARD, 1)
        ys.extend(mod._challenges(ctx, n, 3 + k))
    assert len(ys) == 20 * STANDARD.iterations
    assert all(0 <= y < n for y in ys)
    assert len(set(ys)) == len(ys)
    assert max(y.bit_length() for y in ys) >= n.bit_length() - 8
    # about half of them lie above N / 2
    above = sum(y > n // 2 for y in ys) / len(ys)
    assert abs(above - 0.5) <= TOL


def test_mod_challenges_depend_on_w() -> None:
    n = paillier_key(STANDARD, 0).n
    ctx = ProofContext(b"sid", 1, STANDARD, 1)
    assert mod._challenges(ctx, n, 5) != mod._challenges(ctx, n, 7)


def test_fac_challenge_uses_all_bits() -> None:
    """Πfac's single challenge e in [-2^128, 2^128): sign and each magnitude bit are live."""
    stmt = fac.Statement(paillier_key(STANDARD, 0).n, ring_pedersen(STANDARD, 1).params)
    rows = []
    signs = 0
    for k in range(SAMPLES):
        ctx = ProofContext(k.to_bytes(4, "big"), 0, STANDARD, 2)
        e = fac._challenge(ctx, stmt, 2, 3, 5, 7, 11, 13)
        assert abs(e) < 1 << STANDARD.challenge_bits
        signs += e < 0
        rows.append([(abs(e) >> j) & 1 for j in range(STANDARD.challenge_bits)])
    assert abs(signs / SAMPLES - 0.5) <= TOL
    _check_bits(rows)
