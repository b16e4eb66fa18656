"""Signing: BIP32 derivation, single-use presignatures, and the checks made before any message."""

from __future__ import annotations

import dataclasses

import bip32
import coincurve
import pytest
from protocol_support import (
    check_signature,
    digest,
    drive,
    keygen,
    presign_machines,
    sign_machines,
)

import tss
from tss import KeyShare, Presign, Presignature, ProtocolAborted, Sign, UsageError
from tss.simulation import sign_with_presignatures, simulate_presign, simulate_sign


def forbid_protocol_runs(monkeypatch):
    """Make any attempt to run machines fail the test: a check must come before any message."""

    def run(*args, **kwargs):
        raise AssertionError("a protocol run was started")

    monkeypatch.setattr(tss.simulation, "run", run)


# ----------------------------------------------------------------------------- derivation
@pytest.mark.parametrize("path", ["m/0/1", "m/7", "0/1/2", "m/2147483647"])
def test_sign_under_a_derivation_path(path):
    shares = keygen(2, 3)
    pk, chain = shares[0].public_key, shares[0].chain_code
    child = tss.derive_public_key(pk, chain, path)
    bip32_path = path if path.startswith("m") else "m/" + path
    assert child == bip32.BIP32(chaincode=chain, pubkey=pk).get_pubkey_from_path(bip32_path)
    assert child != pk
    message = f"derived {path}"
    sig = simulate_sign([shares[2], shares[0]], digest(message), derivation_path=path)
    check_signature(sig, child, message)
    # and it is not a signature of the parent key
    assert not coincurve.PublicKey(pk).verify(sig.to_der(), digest(message), hasher=None)


def test_derivation_path_m_is_the_key_itself():
    shares = keygen(2, 3)
    assert tss.derive_public_key(shares[0].public_key, shares[0].chain_code, "m") \
        == shares[0].public_key
    sig = simulate_sign(shares[:2], digest("path m"), derivation_path="m")
    check_signature(sig, shares[0].public_key, "path m")


def test_one_presignature_set_serves_any_child_key():
    shares = keygen(2, 3)
    pk, chain = shares[0].public_key, shares[0].chain_code
    for path in ("m/3", "m/3/4"):
        presigs = simulate_presign([shares[0], shares[1]])
        sig = sign_with_presignatures(presigs, digest(path), derivation_path=path)
        check_signature(sig, tss.derive_public_key(pk, chain, path), path)


HARDENED = ["m/0'", "m/1h", "m/0/5H", "m/2147483648", "m/44'/0'/0'"]


def test_hardened_paths_are_refused_before_the_presignature_is_spent():
    shares = keygen(2, 3)
    pk, chain = shares[0].public_key, shares[0].chain_code
    presigs = simulate_presign([shares[0], shares[1]])
    h = digest("hardened")
    for path in HARDENED:
        with pytest.raises(UsageError):
            tss.derive_public_key(pk, chain, path)
        for p in presigs:
            with pytest.raises(UsageError):
                Sign(p, h, derivation_path=path)
        with pytest.raises(UsageError):
            sign_with_presignatures(presigs, h, derivation_path=path)
        assert not any(p.consumed for p in presigs)
    with pytest.raises(UsageError):
        simulate_sign(shares[:2], h, derivation_path="m/0'")
    # the presignatures are still good
    sig = sign_with_presignatures(presigs, h)
    check_signature(sig, pk, "hardened")


# ----------------------------------------------------------------------------- single use
def test_presignature_signs_once():
    shares = keygen(2, 3)
    presigs = simulate_presign([shares[1], shares[2]])
    assert not any(p.consumed for p in presigs)
    sig = sign_with_presignatures(presigs, digest("first"))
    check_signature(sig, shares[0].public_key, "first")
    assert all(p.consumed for p in presigs)
    for p in presigs:
        with pytest.raises(UsageError):
            Sign(p, digest("second"))
    with pytest.raises(UsageError):
        sign_with_presignatures(presigs, digest("second"))
    # the consumed flag travels with the bytes
    for p in presigs:
        back = Presignature.from_bytes(p.to_bytes())
        assert back.consumed
        assert back.to_bytes() == p.to_bytes()
        with pytest.raises(UsageError):
            Sign(back, digest("second"))


def test_unconsumed_presignature_round_trips_and_signs():
    shares = keygen(2, 3)
    presigs = simulate_presign([shares[0], shares[2]])
    raws = [p.to_bytes() for p in presigs]
    back = [Presignature.from_bytes(r) for r in raws]
    for p, b in zip(presigs, back):
        assert not b.consumed
        assert (b.index, b.signers, b.R, b.public_key, b.chain_code, b.epoch) \
            == (p.index, p.signers, p.R, p.public_key, p.chain_code, p.epoch)
        assert b.to_bytes() == p.to_bytes()
    sig = sign_with_presignatures(back, digest("restored"))
    check_signature(sig, shares[0].public_key, "restored")
    assert all(b.consumed for b in back)


def test_two_sign_machines_on_one_presignature():
    shares = keygen(2, 3)
    presigs = simulate_presign([shares[0], shares[1]])
    first = Sign(presigs[0], digest("a"))
    second = Sign(presigs[0], digest("b"))  # made before the first one started
    first.start()
    with pytest.raises(UsageError) as info:
        second.start()
    with pytest.raises(UsageError) as again:
        second.start()
    assert again.value is info.value  # sticky


def test_an_aborted_sign_leaves_the_presignature_consumed():
    shares = keygen(2, 3)
    presigs = simulate_presign([shares[0], shares[1]])
    h = digest("aborted")

    def wrong_partial(msg):
        if msg.sender == 1:
            s = (int.from_bytes(msg.payload, "big") + 1) % tss.curve.Q
            return dataclasses.replace(msg, payload=s.to_bytes(32, "big"))
        return msg

    net = drive(sign_machines(presigs, h), tamper=wrong_partial)
    assert isinstance(net.errors[0], ProtocolAborted)
    assert net.errors[0].culprits == {1}
    assert all(p.consumed for p in presigs)
    for p in presigs:
        with pytest.raises(UsageError):
            Sign(p, h)
        assert Presignature.from_bytes(p.to_bytes()).consumed


# ----------------------------------------------------------------------------- checks first
def test_replace_makes_a_share_of_another_epoch():
    share = keygen(2, 3)[1]
    other = dataclasses.replace(share, epoch=1)
    assert isinstance(other, KeyShare)
    assert other.epoch == 1 and share.epoch == 0
    assert other.public_key == share.public_key and other.secret_share == share.secret_share
    assert KeyShare.from_bytes(other.to_bytes()).epoch == 1
    assert other.to_bytes() != share.to_bytes()


def test_shares_of_different_epochs_are_refused_before_any_message(monkeypatch):
    s0, s1, s2 = keygen(2, 3)
    s1e = dataclasses.replace(s1, epoch=1)
    forbid_protocol_runs(monkeypatch)
    with pytest.raises(UsageError, match="epoch"):
        simulate_sign([s0, s1e], digest("epochs"))
    with pytest.raises(UsageError, match="epoch"):
        simulate_presign([s0, s1e, s2])


def test_shares_of_different_keys_are_refused_before_any_message(monkeypatch):
    s0, s1, _ = keygen(2, 3)
    other = keygen(2, 2)
    forbid_protocol_runs(monkeypatch)
    with pytest.raises(UsageError, match="different keys"):
        simulate_sign([s0, other[1]], digest("keys"))
    with pytest.raises(UsageError, match="different keys"):
        simulate_presign([other[0], s1])


@pytest.mark.parametrize("which", ["too few", "duplicate index", "none", "not shares"])
def test_simulate_sign_share_checks(which, monkeypatch):
    s0, s1, s2 = keygen(2, 3)
    bad = {"too few": [s2], "duplicate index": [s0, s0], "none": [],
           "not shares": [s0, s1.to_bytes()]}[which]
    forbid_protocol_runs(monkeypatch)
    with pytest.raises(UsageError):
        simulate_sign(bad, digest(which))


def test_presign_machines_of_different_epochs_never_agree():
    # simulate_presign refuses mixed epochs up front; machines driven directly must still abort,
    # since the epoch is bound into every proof's context
    s0, s1, _ = keygen(2, 3)
    machines = presign_machines([s0, dataclasses.replace(s1, epoch=1)], b"mixed epochs")
    net = drive(machines)
    assert set(net.errors) == {0, 1}
    assert all(isinstance(e, ProtocolAborted) for e in net.errors.values())
    assert net.errors[0].culprits == {1} and net.errors[1].culprits == {0}


@pytest.mark.parametrize(("signers", "index"), [
    ([0], 0),            # too few for 2-of-3
    ([0, 0], 0),         # duplicate
    ([0, 0, 1], 0),      # duplicate
    ([0, 3], 0),         # out of range
    ([-1, 0], 0),        # out of range
    ([0, 1, 2, 3], 0),   # out of range
    ([1, 2], 0),         # this party is not a signer
    ([0, 1.0], 0),       # not an int
    ([], 0),
])
def test_presign_refuses_bad_signer_sets(signers, index):
    share = keygen(2, 3)[index]
    with pytest.raises(UsageError):
        Presign(share, signers, b"bad signers")


def test_presign_refuses_a_non_int_signer_with_usage_error():
    share = keygen(2, 3)[0]
    with pytest.raises(UsageError):
        Presign(share, [0, "1"], b"bad signers")


def test_presign_refuses_bad_session_ids_and_non_shares():
    share = keygen(2, 3)[0]
    for sid in (b"", bytes(65), "sid", None):
        with pytest.raises(UsageError):
            Presign(share, [0, 1], sid)
    with pytest.raises(UsageError):
        Presign(share.to_bytes(), [0, 1], b"sid")


BAD_HASHES = [b"", bytes(31), bytes(33), bytes(64), "a" * 32, None, 7, [0] * 32]


def test_sign_needs_a_32_byte_hash(monkeypatch):
    shares = keygen(2, 3)
    presigs = simulate_presign([shares[0], shares[1]])
    forbid_protocol_runs(monkeypatch)
    for h in BAD_HASHES:
        for p in presigs:
            with pytest.raises(UsageError):
                Sign(p, h)
        with pytest.raises(UsageError):
            simulate_sign(shares[:2], h)
        with pytest.raises(UsageError):
            sign_with_presignatures(presigs, h)
    assert not any(p.consumed for p in presigs)
    monkeypatch.undo()
    # a bytearray of 32 bytes is a hash
    sig = sign_with_presignatures(presigs, bytearray(digest("bytearray")))
    check_signature(sig, shares[0].public_key, "bytearray")


def test_sign_takes_a_presignature():
    share = keygen(2, 3)[0]
    with pytest.raises(UsageError):
        Sign(share, digest("x"))
