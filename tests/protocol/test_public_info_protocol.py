"""PublicKeyInfo: what a new member of a reshare receives, encoded and validated."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_support import keygen

import tss
from tss.curve import G
from tss.protocol.reshare import NEW_MEMBER_BASE
from tss.simulation import run


def test_round_trip_and_reshare_from_decoded_info():
    shares = keygen(2, 3)
    info = shares[0].public_info()
    decoded = tss.PublicKeyInfo.from_bytes(info.to_bytes())
    assert decoded == info
    # a new-only member built from the decoded bytes takes part in a real reshare
    sid = b"tests/public-info reshare"
    machines = {s.index: tss.Reshare(sid, old_parties=[0, 1], new_threshold=2, new_parties=2,
                                     old_share=s) for s in shares[:2]}
    for j in range(2):
        machines[NEW_MEMBER_BASE + j] = tss.Reshare(
            sid, old_parties=[0, 1], new_threshold=2, new_parties=2, new_index=j,
            key_info=decoded)
    out = run(machines)
    new = [out[NEW_MEMBER_BASE + j] for j in range(2)]
    assert all(isinstance(out[i], tss.ReshareReceipt) for i in (0, 1))
    assert new[0].public_key == shares[0].public_key


def test_inconsistent_info_is_rejected():
    info = keygen(2, 3)[0].public_info()
    moved = list(info.public_shares)
    moved[2] = moved[2] + G
    bad = dataclasses.replace(info, public_shares=tuple(moved))
    with pytest.raises(tss.DecodeError):
        tss.PublicKeyInfo.from_bytes(bad.to_bytes())
    wrong_key = dataclasses.replace(info, public_key_point=info.public_key_point + G)
    with pytest.raises(tss.DecodeError):
        tss.PublicKeyInfo.from_bytes(wrong_key.to_bytes())


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=399))
def test_garbage_and_bit_flips_raise_decode_error(garbage, pos):
    data = keygen(2, 3)[0].public_info().to_bytes()
    k = pos % len(data)
    flipped = data[:k] + bytes([data[k] ^ 1]) + data[k + 1:]
    for candidate in (garbage, data[:k], flipped):
        with pytest.raises(tss.DecodeError):
            tss.PublicKeyInfo.from_bytes(candidate)
