"""Every decoder fed garbage raises tss.DecodeError, never another exception; tampered stored
shares and presignatures are refused."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_support import N_SECP256K1, keygen

import tss
from tss import DecodeError, KeyShare, Message, Presignature, Signature
from tss.simulation import simulate_presign, simulate_sign

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(max_examples=60, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ----------------------------------------------------------------------------- valid encodings
@functools.cache
def valid_share():
    return keygen(2, 3)[1]


@functools.cache
def valid_presignature_bytes():
    s = keygen(2, 3)
    return simulate_presign([s[0], s[2]], session_id=b"decoder tests")[1].to_bytes()


@functools.cache
def valid_signature():
    s = keygen(2, 3)
    return simulate_sign([s[1], s[2]], hashlib.sha256(b"decoder tests").digest())


def valid_messages():
    return [
        Message("keygen", b"sid", 1, 0, None, b""),
        Message("presign", bytes(64), 2, 3, 1, b"\x00" * 100),
        Message("sign", b"\xff", 255, 0xFFFE, 0xFFFE, bytes(range(256))),
        Message("reshare", b"x" * 10, 7, 1, 0, b"payload"),
    ]


def reseal(data):
    """Recompute the (unkeyed) checksum of a share or presignature encoding."""
    body = data[:-32]
    return body + hashlib.sha256(body).digest()


def decodes_or_refuses(decode, data):
    """``decode(data)`` returns a value or raises DecodeError; nothing else."""
    try:
        return decode(data)
    except DecodeError:
        return None


NOT_BYTES = [None, "text", 5, 1.5, [1, 2, 3], object()]


@pytest.mark.parametrize("decode", [Message.from_bytes, KeyShare.from_bytes,
                                    Presignature.from_bytes, Signature.from_bytes],
                         ids=["Message", "KeyShare", "Presignature", "Signature"])
def test_decoders_refuse_what_is_not_bytes(decode):
    for value in NOT_BYTES:
        with pytest.raises(DecodeError):
            decode(value)
    for value in (b"", b"\x00", bytes(13), bytes(100)):
        with pytest.raises(DecodeError):
            decode(value)


# ----------------------------------------------------------------------------- Message
@SETTINGS
@given(st.binary(max_size=400))
def test_message_garbage(data):
    m = decodes_or_refuses(Message.from_bytes, data)
    if m is not None:
        assert m.to_bytes() == data  # one canonical encoding


@SETTINGS
@given(version=st.integers(0, 2), proto=st.integers(0, 7), rnd=st.integers(0, 255),
       sender=st.integers(0, 0xFFFF), rcpt=st.integers(0, 0xFFFF), slen=st.integers(0, 70),
       sid=st.binary(max_size=70), plen=st.one_of(st.integers(0, 300), st.integers(0, 2**32 - 1)),
       payload=st.binary(max_size=300))
def test_message_near_valid_headers(version, proto, rnd, sender, rcpt, slen, sid, plen, payload):
    data = (bytes([version, proto, rnd]) + sender.to_bytes(2, "big") + rcpt.to_bytes(2, "big")
            + bytes([slen]) + sid + plen.to_bytes(4, "big") + payload)
    m = decodes_or_refuses(Message.from_bytes, data)
    if m is not None:
        assert m.to_bytes() == data
        assert m.round == rnd and m.sender == sender and m.session_id == sid


def test_message_truncations_extensions_and_flips():
    for m in valid_messages():
        raw = m.to_bytes()
        assert Message.from_bytes(raw) == m
        assert Message.from_bytes(bytearray(raw)) == m
        assert Message.from_bytes(memoryview(raw)) == m
        for cut in range(len(raw)):
            with pytest.raises(DecodeError):
                Message.from_bytes(raw[:cut])
        for extra in (b"\x00", b"\xff" * 3):
            with pytest.raises(DecodeError):
                Message.from_bytes(raw + extra)
        for pos in range(len(raw)):
            for mask in (0x01, 0x80, 0xFF):
                flipped = bytearray(raw)
                flipped[pos] ^= mask
                back = decodes_or_refuses(Message.from_bytes, bytes(flipped))
                if back is not None:
                    assert back.to_bytes() == bytes(flipped)
                    assert back != m


def test_message_header_fields_are_checked():
    raw = bytearray(Message("sign", b"sid", 1, 2, None, b"abc").to_bytes())
    for pos, value in [(0, 2), (0, 0), (1, 0), (1, 6), (2, 0), (3, 0xFF), (7, 0), (7, 65)]:
        bad = bytearray(raw)
        bad[pos] = value
        if pos == 3:
            bad[4] = 0xFF  # sender 0xFFFF is the broadcast marker
        with pytest.raises(DecodeError):
            Message.from_bytes(bytes(bad))
    too_long = bytes(raw[:11]) + (tss.protocol.message.MAX_PAYLOAD + 1).to_bytes(4, "big")
    with pytest.raises(DecodeError):
        Message.from_bytes(too_long)


# ----------------------------------------------------------------------------- KeyShare
@SETTINGS
@given(st.binary(max_size=600))
def test_keyshare_garbage(data):
    with pytest.raises(DecodeError):
        KeyShare.from_bytes(data)
    with pytest.raises(DecodeError):
        KeyShare.from_bytes(b"TSSK\x01" + data)


@FEW
@given(body=st.binary(max_size=600), keep=st.integers(0, 4000))
def test_keyshare_garbage_with_a_valid_checksum(body, keep):
    # past the checksum: a prefix of a real body, then garbage, sealed properly
    real = valid_share().to_bytes()[:-32]
    data = reseal(real[:5 + keep] + body + bytes(32))
    share = decodes_or_refuses(KeyShare.from_bytes, data)
    if share is not None:
        assert share.to_bytes() == data


def test_keyshare_truncations():
    raw = valid_share().to_bytes()
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            KeyShare.from_bytes(raw[:cut])
    for cut in range(0, len(raw) - 32, 7):
        with pytest.raises(DecodeError):  # even with a fresh checksum
            KeyShare.from_bytes(reseal(raw[:cut] + bytes(32)))
    with pytest.raises(DecodeError):
        KeyShare.from_bytes(raw + b"\x00")
    with pytest.raises(DecodeError):
        KeyShare.from_bytes(reseal(raw[:-32] + b"\x00" + bytes(32)))


def test_tampered_keyshare_any_byte_flipped_is_refused():
    raw = valid_share().to_bytes()
    for pos in range(len(raw)):
        for mask in (0x01, 0x40, 0xFF):
            flipped = bytearray(raw)
            flipped[pos] ^= mask
            with pytest.raises(DecodeError):
                KeyShare.from_bytes(bytes(flipped))


@FEW
@given(st.data())
def test_keyshare_bit_flips_with_a_fresh_checksum(data):
    # an attacker who recomputes the (unkeyed) checksum: decoding re-validates the contents
    raw = valid_share().to_bytes()
    flipped = bytearray(raw[:-32])
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(5, len(flipped) - 1))
        flipped[pos] ^= 1 << data.draw(st.integers(0, 7))
    share = decodes_or_refuses(KeyShare.from_bytes, reseal(bytes(flipped) + bytes(32)))
    if share is not None:
        assert share.to_bytes() == reseal(bytes(flipped) + bytes(32))


def forged_share_bytes(share, **changes):
    """The encoding of ``share`` with some fields replaced, bypassing the constructor's checks."""
    fields = {f.name: getattr(share, f.name) for f in dataclasses.fields(KeyShare)}
    fields.update(changes)
    return KeyShare.to_bytes(types.SimpleNamespace(**fields))


def test_forged_share_helper_is_faithful():
    share = valid_share()
    assert forged_share_bytes(share) == share.to_bytes()


@pytest.mark.parametrize("change", [
    "secret share", "own public share", "other public share", "public key", "threshold down",
    "index", "parties", "points", "own modulus", "other modulus", "other ring-Pedersen modulus",
    "ring-Pedersen s = t", "no ring-Pedersen", "Paillier factors", "no Paillier key", "level",
])
def test_semantically_tampered_keyshare_is_refused(change):
    share = valid_share()  # index 1 of a 2-of-3 key
    G = tss.curve.G
    ps = list(share.public_shares)
    rps = list(share.ring_pedersen)
    moduli = list(share.paillier_moduli)
    other = share.paillier_moduli[0]
    changes = {
        "secret share": {"secret_share": share.secret_share + 1},
        "own public share": {"public_shares": (ps[0], ps[1] + G, ps[2])},
        "other public share": {"public_shares": (ps[0], ps[1], ps[2] + G)},
        "public key": {"public_key_point": share.public_key_point + G},
        "threshold down": {"threshold": 1},
        "index": {"index": 0},
        "parties": {"parties": 2},
        "points": {"points": (1, 2, 4)},
        "own modulus": {"paillier_moduli": (moduli[0], moduli[2], moduli[2])},
        "other modulus": {"paillier_moduli": (moduli[0], moduli[1], other)},
        "other ring-Pedersen modulus": {"ring_pedersen": (rps[0], rps[1], rps[0])},
        "ring-Pedersen s = t": {"ring_pedersen": (
            rps[0], rps[1], type(rps[2])(rps[2].n, rps[2].t, rps[2].t))},
        "Paillier factors": {"paillier": types.SimpleNamespace(
            p=share.paillier.p + 2, q=share.paillier.q)},
        "no Paillier key": {"paillier": None},
        "level": {"level": tss.HIGH},
        "no ring-Pedersen": {"ring_pedersen": (rps[0], None, rps[2])},
    }[change]
    with pytest.raises(DecodeError):
        KeyShare.from_bytes(forged_share_bytes(share, **changes))


@pytest.mark.parametrize("epoch", [-1, 1 << 32])
def test_keyshare_refuses_an_epoch_out_of_range(epoch):
    share = valid_share()
    with pytest.raises(DecodeError):
        KeyShare.from_bytes(forged_share_bytes(share, epoch=epoch))


@pytest.mark.parametrize("epoch", [-1, 1 << 32])
def test_out_of_range_epoch_fails_with_a_tss_error(epoch):
    s0, _, s2 = keygen(2, 3)
    with pytest.raises(tss.TssError):
        shares = [dataclasses.replace(s, epoch=epoch) for s in (s0, s2)]  # fixed: refused here
        simulate_presign(shares)  # today: OverflowError from the proof context


# ----------------------------------------------------------------------------- Presignature
@SETTINGS
@given(st.binary(max_size=600))
def test_presignature_garbage(data):
    with pytest.raises(DecodeError):
        Presignature.from_bytes(data)
    with pytest.raises(DecodeError):
        Presignature.from_bytes(b"TSSP\x01" + data)


@SETTINGS
@given(body=st.binary(max_size=400), keep=st.integers(0, 700))
def test_presignature_garbage_with_a_valid_checksum(body, keep):
    real = valid_presignature_bytes()[:-32]
    data = reseal(real[:5 + keep] + body + bytes(32))
    p = decodes_or_refuses(Presignature.from_bytes, data)
    if p is not None:
        assert p.to_bytes() == data


def test_presignature_truncations_and_flips():
    raw = valid_presignature_bytes()
    assert Presignature.from_bytes(raw).to_bytes() == raw
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            Presignature.from_bytes(raw[:cut])
        if cut > 5:
            decodes_or_refuses(Presignature.from_bytes, reseal(raw[:cut] + bytes(32)))
    for pos in range(len(raw)):
        for mask in (0x01, 0xFF):
            flipped = bytearray(raw)
            flipped[pos] ^= mask
            with pytest.raises(DecodeError):
                Presignature.from_bytes(bytes(flipped))
            resealed = reseal(bytes(flipped))
            p = decodes_or_refuses(Presignature.from_bytes, resealed)
            if p is not None:
                assert p.to_bytes() == resealed


def test_semantically_tampered_presignature_is_refused():
    p = Presignature.from_bytes(valid_presignature_bytes())
    G = tss.curve.G
    forged = [
        dict(k=(p.k + 1) % N_SECP256K1),
        dict(chi=(p.chi + 1) % N_SECP256K1),
        dict(Rbar={**p.Rbar, p.index: p.Rbar[p.index] + G}),
        dict(S={**p.S, p.index: p.S[p.index] + G}),
        dict(R=p.R + G),
        dict(signers=tuple(j for j in p.signers if j != p.index)),
        dict(signers=(p.index, p.index)),
        dict(session_id=bytes(65)),
        dict(k=0),
    ]
    for change in forged:
        fields = {name: getattr(p, name) for name in Presignature.__slots__}
        fields.update(change)
        data = Presignature.to_bytes(types.SimpleNamespace(**fields))
        with pytest.raises(DecodeError):
            Presignature.from_bytes(data)


# ----------------------------------------------------------------------------- Signature
@SETTINGS
@given(st.binary(max_size=100))
def test_signature_garbage(data):
    sig = decodes_or_refuses(Signature.from_bytes, data)
    if sig is not None:
        assert len(data) in (64, 65)
        assert sig.to_bytes() == data[:64]
        assert 0 < sig.r < N_SECP256K1 and 0 < sig.s <= N_SECP256K1 // 2
        assert sig.recovery_id < 4


@SETTINGS
@given(r=st.integers(0, 2**256 - 1), s=st.integers(0, 2**256 - 1), v=st.integers(0, 255))
def test_signature_ranges(r, s, v):
    data = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    sig = decodes_or_refuses(Signature.from_bytes, data)
    ok = 0 < r < N_SECP256K1 and 0 < s <= N_SECP256K1 // 2 and v < 4
    assert (sig is not None) == ok
    if ok:
        assert sig.to_recoverable() == data


def test_signature_truncations_and_flips():
    sig = valid_signature()
    for raw in (sig.to_bytes(), sig.to_recoverable()):
        assert Signature.from_bytes(raw).to_bytes() == sig.to_bytes()
        for cut in range(len(raw)):
            if cut != 64:
                with pytest.raises(DecodeError):
                    Signature.from_bytes(raw[:cut])
        with pytest.raises(DecodeError):
            Signature.from_bytes(raw + b"\x00" * (66 - len(raw)))
        for pos in range(len(raw)):
            for mask in (0x01, 0x80, 0xFF):
                flipped = bytearray(raw)
                flipped[pos] ^= mask
                back = decodes_or_refuses(Signature.from_bytes, bytes(flipped))
                if back is not None:
                    assert back != sig
    high_s = sig.r.to_bytes(32, "big") + (N_SECP256K1 - sig.s).to_bytes(32, "big")
    with pytest.raises(DecodeError):
        Signature.from_bytes(high_s)
