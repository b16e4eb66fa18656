"""Importing tss-lib's save files: the key, the shares and tss-lib's own signature."""

from __future__ import annotations

import hashlib
import itertools
import json

import coincurve
import pytest
from migration_support import (
    CHAIN_CODE,
    KEYS,
    N_SECP256K1,
    SHAPE,
    doc,
    dump,
    ecdsa_pub,
    files,
    imported,
    lagrange_at_zero,
    raw,
    secret_of,
    signature,
    tss_lib_file,
)

import tss
from tss.migration import CHAIN_CODE_TAG, derived_chain_code, import_tss_lib


@pytest.mark.parametrize("key", KEYS)
def test_every_file_imports(key):
    t, n = SHAPE[key]
    paths = files(key)
    assert len(paths) == n
    for i, path in enumerate(paths):
        d = json.loads(path.read_bytes())
        share = import_tss_lib(path.read_bytes())
        assert isinstance(share, tss.KeyShare)
        assert share.imported and not share.can_sign
        assert share.index == d["Ks"].index(d["ShareID"]) == i  # tss-lib sorts its parties
        assert (share.threshold, share.parties) == (t, n)
        assert share.points == tuple(d["Ks"])
        assert share.secret_share == d["Xi"]
        assert share.epoch == 0
        assert share.paillier is None
        assert share.paillier_moduli == (0,) * n
        assert share.ring_pedersen == (None,) * n
        assert [p.xy() for p in share.public_shares] == [tuple(p["Coords"])
                                                         for p in d["BigXj"]]


@pytest.mark.parametrize("key", KEYS)
def test_public_key_is_ecdsapub(key):
    sig = signature(key)
    for share in imported(key):
        assert share.public_key == ecdsa_pub(key)
        assert share.public_key_point.xy() == (int(sig["x"], 16), int(sig["y"], 16))
        d = doc(key, share.index)
        assert share.public_key_point.xy() == tuple(d["ECDSAPub"]["Coords"])


@pytest.mark.parametrize("key", KEYS)
def test_tss_lib_signature_verifies_under_the_imported_key(key):
    sig = signature(key)
    digest = bytes.fromhex(sig["digest"])
    r, s = int(sig["r"], 16), int(sig["s"], 16)
    assert len(digest) == 32
    pub = imported(key)[0].public_key
    # with cryptography (OpenSSL); the digest is already a hash
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

    der = encode_dss_signature(r, s)
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), pub).verify(
        der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    # with coincurve (libsecp256k1), and the recovery id recovers the imported key
    assert coincurve.PublicKey(pub).verify(der, digest, hasher=None)
    rec = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([int(sig["recovery_id"], 16)])
    recovered = coincurve.PublicKey.from_signature_and_message(rec, digest, hasher=None)
    assert recovered.format(compressed=True) == pub
    # and through tss.Signature
    assert tss.Signature(r, s, int(sig["recovery_id"], 16)).verify(pub, digest)
    # a different digest does not verify
    assert not tss.Signature(r, s, 0).verify(pub, hashlib.sha256(digest).digest())


@pytest.mark.parametrize("key", KEYS)
def test_imported_shares_of_a_key_agree(key):
    shares = imported(key)
    first = shares[0]
    assert sorted(s.index for s in shares) == list(range(first.parties))
    for s in shares:
        assert s.public_key == first.public_key
        assert s.points == first.points
        assert s.public_shares == first.public_shares
        assert (s.threshold, s.parties) == (first.threshold, first.parties)
        assert s.chain_code == first.chain_code == CHAIN_CODE
        assert s.key_id == first.key_id


@pytest.mark.parametrize("key", KEYS)
def test_any_t_imported_shares_interpolate_to_the_key(key):
    t, n = SHAPE[key]
    shares = imported(key)
    pub = ecdsa_pub(key)
    for subset in itertools.combinations(shares, t):
        xs = [s.points[s.index] for s in subset]
        secret = sum(s.secret_share * lagrange_at_zero(xs, s.points[s.index])
                     for s in subset) % N_SECP256K1
        assert coincurve.PublicKey.from_valid_secret(secret.to_bytes(32, "big")).format() == pub
        # KeyShare.lagrange uses the same (tss-lib) evaluation points
        signers = [s.index for s in subset]
        assert sum(s.secret_share * s.lagrange(signers) for s in subset) % N_SECP256K1 == secret
    # t - 1 shares are not enough: they interpolate something else
    subset = shares[:t - 1]
    xs = [s.points[s.index] for s in subset]
    wrong = sum(s.secret_share * lagrange_at_zero(xs, s.points[s.index])
                for s in subset) % N_SECP256K1
    assert coincurve.PublicKey.from_valid_secret(wrong.to_bytes(32, "big")).format() != pub


@pytest.mark.parametrize("key", KEYS)
def test_str_and_bytes_give_the_same_share(key):
    a = import_tss_lib(raw(key, 1))
    b = import_tss_lib(raw(key, 1).decode())
    c = import_tss_lib(bytearray(raw(key, 1)))
    assert a.to_bytes() == b.to_bytes() == c.to_bytes()


@pytest.mark.parametrize("key", KEYS)
def test_threshold_argument_that_matches_is_accepted(key):
    t, _ = SHAPE[key]
    assert import_tss_lib(raw(key, 0), threshold=t).threshold == t


def test_derived_chain_code_is_the_documented_one():
    assert CHAIN_CODE_TAG == b"tss/tss-lib-import/chain-code/v1"
    for key in KEYS:
        share = import_tss_lib(raw(key, 0))
        expected = hashlib.sha256(b"tss/tss-lib-import/chain-code/v1" + ecdsa_pub(key)).digest()
        assert share.chain_code == expected == derived_chain_code(ecdsa_pub(key))
        # every party derives the same one
        assert all(import_tss_lib(raw(key, i)).chain_code == expected
                   for i in range(SHAPE[key][1]))


def test_caller_chain_code_is_kept():
    code = bytes(range(32))
    assert import_tss_lib(raw("2of3", 0), chain_code=code).chain_code == code
    assert import_tss_lib(raw("2of3", 0), chain_code=bytearray(code)).chain_code == code


@pytest.mark.parametrize("key", KEYS)
def test_hd_children_of_the_imported_key_are_tss_lib_keys_children(key):
    """Given the chain code the tss-lib deployment used, the imported key's BIP32 children are
    the same ones (computed here independently, with the bip32 package when present)."""
    share = imported(key)[0]
    for path in ("m/0", "m/0/1", "m/44/60/0/0/7"):
        child = tss.derive_public_key(share.public_key, CHAIN_CODE, path)
        assert child == tss.derive_public_key(ecdsa_pub(key), CHAIN_CODE, path)
    bip32 = pytest.importorskip("bip32")
    node = bip32.BIP32(chaincode=CHAIN_CODE, pubkey=ecdsa_pub(key))
    assert node.get_pubkey_from_path("m/0/1") == tss.derive_public_key(
        share.public_key, share.chain_code, "m/0/1")


@pytest.mark.parametrize("key", KEYS)
def test_key_share_bytes_round_trip_stays_imported(key):
    for share in imported(key):
        data = share.to_bytes()
        back = tss.KeyShare.from_bytes(data)
        assert back.imported and not back.can_sign
        assert back.to_bytes() == data
        assert (back.index, back.threshold, back.parties, back.epoch) == \
            (share.index, share.threshold, share.parties, share.epoch)
        assert back.points == share.points
        assert back.secret_share == share.secret_share
        assert back.public_shares == share.public_shares
        assert back.public_key == share.public_key
        assert back.chain_code == share.chain_code
        assert back.paillier is None
        assert back.paillier_moduli == share.paillier_moduli
        assert back.ring_pedersen == share.ring_pedersen


@pytest.mark.parametrize("key", KEYS)
def test_imported_shares_cannot_sign(key):
    t, _ = SHAPE[key]
    shares = list(imported(key))
    digest = hashlib.sha256(b"not yet").digest()
    # enough shares to sign, but imported: the error says what to do
    with pytest.raises(tss.UsageError, match="(?i)refresh or reshare"):
        tss.simulate_sign(shares[:t], digest)
    with pytest.raises(tss.UsageError, match="(?i)refresh or reshare"):
        tss.simulate_presign(shares)
    # one share alone, through the sans-IO machine
    with pytest.raises(tss.UsageError, match="(?i)refresh or reshare"):
        tss.Presign(shares[0], list(range(t)), b"s" * 32)
    # one share alone, through simulate_sign
    with pytest.raises(tss.UsageError):
        tss.simulate_sign(shares[:1], digest)


def test_a_share_from_bytes_cannot_sign_either():
    shares = [tss.KeyShare.from_bytes(s.to_bytes()) for s in imported("2of3")]
    with pytest.raises(tss.UsageError, match="(?i)refresh or reshare"):
        tss.simulate_sign(shares[:2], bytes(32))


def test_v1_points_without_a_curve_name_import():
    """binance-chain/tss-lib v1 wrote points as {"Coords": [x, y]}: read them as secp256k1."""
    d = doc("3of5", 2)
    for p in [*d["BigXj"], d["ECDSAPub"]]:
        del p["Curve"]
    share = import_tss_lib(dump(d))
    assert share.to_bytes() == import_tss_lib(raw("3of5", 2)).to_bytes()


def test_paillier_fields_are_not_needed():
    """The Paillier keys are replaced by the refresh or reshare: the import does not read them
    (v1 files lack some of them)."""
    d = doc("2of3", 0)
    for name in ("PaillierSK", "NTildei", "H1i", "H2i", "Alpha", "Beta", "P", "Q",
                 "NTildej", "H1j", "H2j", "PaillierPKs"):
        d.pop(name)
    assert import_tss_lib(dump(d)).to_bytes() == import_tss_lib(raw("2of3", 0)).to_bytes()


def test_the_degree_is_derived_from_the_public_shares():
    """Files written here for polynomials of every degree 0..n-1 import with threshold
    degree + 1, at tss-lib-style evaluation points."""
    secret = secret_of("2of3")
    ks = [2**200 + 7 * j for j in range(1, 5)]
    for degree in range(4):
        coeffs = [(1234567 + 89 * c) % N_SECP256K1 for c in range(degree)]
        shares = [import_tss_lib(tss_lib_file(secret, coeffs, ks, me)) for me in range(4)]
        assert {s.threshold for s in shares} == {degree + 1}
        assert {s.public_key for s in shares} == {ecdsa_pub("2of3")}
        assert [s.index for s in shares] == [0, 1, 2, 3]
