"""Hash commitments bound to tag, session, party, values and fresh randomness."""

from __future__ import annotations

import pytest

from tss.commitments import COMMITMENT_BYTES, RANDOMNESS_BYTES, commit, verify_commitment
from tss.curve import G, base_mul
from tss.randomness import SeededRng

TAG = "keygen/round1"
SID = bytes(range(32))
PARTY = 3
VALUES: list[object] = [G, base_mul(5), 12345, -7, b"\x00\x01", "label", [1, [b"x"]]]


def _flip(data: bytes, i: int = 0, bit: int = 0) -> bytes:
    b = bytearray(data)
    b[i] ^= 1 << bit
    return bytes(b)


def test_sizes() -> None:
    assert COMMITMENT_BYTES == 32
    assert RANDOMNESS_BYTES == 32


def test_round_trip() -> None:
    c, rho = commit(TAG, SID, PARTY, VALUES)
    assert isinstance(c, bytes) and len(c) == COMMITMENT_BYTES
    assert isinstance(rho, bytes) and len(rho) == RANDOMNESS_BYTES
    assert verify_commitment(c, TAG, SID, PARTY, VALUES, rho)
    # a tuple of the same values is the same opening
    assert verify_commitment(c, TAG, SID, PARTY, tuple(VALUES), rho)


@pytest.mark.parametrize("values", [[], [0], [b""], [""], [G], [[]], list(range(50))], ids=repr)
def test_round_trip_edge_values(values: list[object]) -> None:
    c, rho = commit(TAG, SID, PARTY, values)
    assert verify_commitment(c, TAG, SID, PARTY, values, rho)


def test_rho_fresh_each_time() -> None:
    seen_rho = set()
    seen_c = set()
    for _ in range(20):
        c, rho = commit(TAG, SID, PARTY, VALUES)
        assert len(rho) == 32
        seen_rho.add(rho)
        seen_c.add(c)
    assert len(seen_rho) == 20
    assert len(seen_c) == 20  # hiding: the same values never give the same commitment


def test_seeded_rng_is_reproducible_and_used() -> None:
    c1, r1 = commit(TAG, SID, PARTY, VALUES, rng=SeededRng(b"seed"))
    c2, r2 = commit(TAG, SID, PARTY, VALUES, rng=SeededRng(b"seed"))
    c3, r3 = commit(TAG, SID, PARTY, VALUES, rng=SeededRng(b"other"))
    assert (c1, r1) == (c2, r2)
    assert r1 != r3 and c1 != c3
    assert r1 == SeededRng(b"seed").bytes(32)


@pytest.mark.parametrize("tag", ["", "keygen/round2", "keygen/round", "Keygen/round1",
                                 "keygen/round1 ", "sign/round1"])
def test_other_tag_fails(tag: str) -> None:
    c, rho = commit(TAG, SID, PARTY, VALUES)
    assert not verify_commitment(c, tag, SID, PARTY, VALUES, rho)


@pytest.mark.parametrize("sid", [b"", SID[:-1], SID + b"\x00", bytes(32), _flip(SID, 31),
                                 _flip(SID, 0, 7)], ids=repr)
def test_other_session_fails(sid: bytes) -> None:
    c, rho = commit(TAG, SID, PARTY, VALUES)
    assert not verify_commitment(c, TAG, sid, PARTY, VALUES, rho)


@pytest.mark.parametrize("party", [0, 1, 2, 4, -3, 3 + 2**64])
def test_other_party_fails(party: int) -> None:
    # a rushing party cannot replay party 3's commitment as its own (attack A-12)
    c, rho = commit(TAG, SID, PARTY, VALUES)
    assert not verify_commitment(c, TAG, SID, party, VALUES, rho)


def _variants() -> list[list[object]]:
    out: list[list[object]] = []
    out.append([-G] + VALUES[1:])
    out.append([G, base_mul(6)] + VALUES[2:])
    out.append(VALUES[:2] + [12346] + VALUES[3:])
    out.append(VALUES[:3] + [7] + VALUES[4:])  # sign
    out.append(VALUES[:4] + [b"\x00\x02"] + VALUES[5:])
    out.append(VALUES[:4] + [b"\x01"] + VALUES[5:])  # leading zero byte dropped
    out.append(VALUES[:5] + ["label "] + VALUES[6:])
    out.append(VALUES[:5] + [b"label"] + VALUES[6:])  # str vs bytes
    out.append(VALUES[:6] + [[1, b"x"]])  # nesting
    out.append(VALUES[:-1])  # one fewer
    out.append(VALUES + [0])  # one more
    out.append([VALUES[1], VALUES[0]] + VALUES[2:])  # order
    out.append([VALUES])  # wrapped
    out.append([])
    return out


@pytest.mark.parametrize("values", _variants(), ids=lambda v: f"variant{len(v)}")
def test_other_values_fail(values: list[object]) -> None:
    c, rho = commit(TAG, SID, PARTY, VALUES)
    assert values != VALUES
    assert not verify_commitment(c, TAG, SID, PARTY, values, rho)


def test_any_bit_of_rho_matters() -> None:
    c, rho = commit(TAG, SID, PARTY, VALUES)
    for i in range(32):
        for bit in (0, 7):
            assert not verify_commitment(c, TAG, SID, PARTY, VALUES, _flip(rho, i, bit))
    assert not verify_commitment(c, TAG, SID, PARTY, VALUES, bytes(32))


def test_any_bit_of_commitment_matters() -> None:
    c, rho = commit(TAG, SID, PARTY, VALUES)
    for i in range(32):
        assert not verify_commitment(_flip(c, i, i % 8), TAG, SID, PARTY, VALUES, rho)


def test_another_commitments_opening_fails() -> None:
    c1, rho1 = commit(TAG, SID, PARTY, VALUES)
    c2, rho2 = commit(TAG, SID, PARTY, VALUES)
    assert not verify_commitment(c1, TAG, SID, PARTY, VALUES, rho2)
    assert not verify_commitment(c2, TAG, SID, PARTY, VALUES, rho1)


@pytest.mark.parametrize("length", [0, 1, 16, 31, 33, 64])
def test_wrong_lengths_fail(length: int) -> None:
    c, rho = commit(TAG, SID, PARTY, VALUES)
    # padded or truncated commitment
    bad_c = (c + c + c)[:length]
    assert not verify_commitment(bad_c, TAG, SID, PARTY, VALUES, rho)
    # padded or truncated randomness
    bad_rho = (rho + rho + rho)[:length]
    assert not verify_commitment(c, TAG, SID, PARTY, VALUES, bad_rho)


def test_truncated_commitment_prefix_fails() -> None:
    c, rho = commit(TAG, SID, PARTY, VALUES)
    assert not verify_commitment(c[:16], TAG, SID, PARTY, VALUES, rho)
    assert not verify_commitment(c + b"\x00", TAG, SID, PARTY, VALUES, rho)


def test_unencodable_values_raise() -> None:
    with pytest.raises(TypeError):
        commit(TAG, SID, PARTY, [None])
    with pytest.raises(TypeError):
        commit(TAG, SID, PARTY, [1.5])
