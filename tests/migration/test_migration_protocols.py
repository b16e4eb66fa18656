"""Imported tss-lib shares through Refresh and Reshare, then signing under the original key.

Every refresh and reshare runs once (module-level caches) with cached Paillier keys; the tests
then look at the results from several sides.
"""

from __future__ import annotations

import functools
import hashlib

import pytest
from migration_support import (
    CHAIN_CODE,
    KEYS,
    N_SECP256K1,
    SHAPE,
    check_tss_signature,
    doc,
    ecdsa_pub,
    imported,
    paillier_keys,
    secret_of,
    shared_verification,
    tss_lib_file,
)

import tss
from tss.migration import import_tss_lib
from tss.randomness import SeededRng
from tss.simulation import run

#: which slice of the Paillier key pool each run takes (no modulus is reused across runs)
_OFFSET = {"refresh/2of3": 0, "refresh/3of5": 3, "reshare/3of5->2of3": 8,
           "reshare/2of3->3of5": 11, "mixed/refresh": 16, "mixed/reshare": 19}


def _sid(label: str) -> bytes:
    return hashlib.sha256(f"tests/migration {label}".encode()).digest()


@functools.cache
def refreshed(key: str) -> tuple[tss.KeyShare, ...]:
    """Every imported share of ``key``, refreshed together."""
    label = f"refresh/{key}"
    with shared_verification():
        out = tss.simulate_refresh(list(imported(key)), session_id=_sid(label),
                                   rng=SeededRng(label),
                                   paillier_keys=paillier_keys(SHAPE[key][1], _OFFSET[label]))
    return tuple(out)


#: (source key, old signers, new threshold, new parties)
RESHARES = {"3of5->2of3": ("3of5", (0, 2, 4), 2, 3), "2of3->3of5": ("2of3", (1, 2), 3, 5)}


@functools.cache
def reshared(name: str) -> tuple[tss.KeyShare, ...]:
    """t imported shares of a key reshared to a new committee."""
    key, old, t, n = RESHARES[name]
    label = f"reshare/{name}"
    shares = [imported(key)[i] for i in old]
    with shared_verification():
        out = tss.simulate_reshare(shares, t, n, session_id=_sid(label), rng=SeededRng(label),
                                   paillier_keys=paillier_keys(n, _OFFSET[label]))
    return tuple(out)


def _sign_and_check(shares, signers, message: str, path: str | None = None) -> None:
    digest = hashlib.sha256(message.encode()).digest()
    sig = tss.simulate_sign([shares[i] for i in signers], digest, derivation_path=path)
    pub = shares[0].public_key
    if path is not None:
        pub = tss.derive_public_key(pub, shares[0].chain_code, path)
    check_tss_signature(sig, pub, digest)


# -- refresh ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_refresh_keeps_the_key_and_the_evaluation_points(key):
    t, n = SHAPE[key]
    old, new = imported(key), refreshed(key)
    assert len(new) == n
    for o, s in zip(old, new):
        assert s.index == o.index
        assert (s.threshold, s.parties) == (t, n)
        assert s.points == o.points == tuple(doc(key, 0)["Ks"])  # tss-lib's Ks, kept
        assert s.public_key == ecdsa_pub(key)
        assert s.chain_code == CHAIN_CODE
        assert s.epoch == o.epoch + 1 == 1
        assert not s.imported and s.can_sign and s.paillier is not None
        assert all(m != 0 for m in s.paillier_moduli)
        assert all(rp is not None for rp in s.ring_pedersen)
        assert s.secret_share != o.secret_share  # the shares move, the key does not
        assert s.public_shares == new[0].public_shares
        back = tss.KeyShare.from_bytes(s.to_bytes())
        assert back.to_bytes() == s.to_bytes() and not back.imported
    assert all(a != b for a, b in zip(new[0].public_shares, old[0].public_shares))
    # the old shares are untouched: still imported, still unable to sign
    assert all(o.imported and not o.can_sign and o.epoch == 0 for o in old)


@pytest.mark.parametrize(("key", "subsets"), [
    ("2of3", [(0, 1), (1, 2), (0, 2)]),
    ("3of5", [(0, 2, 4), (1, 3, 4)]),
])
def test_refresh_then_sign_with_several_signer_subsets(key, subsets):
    shares = refreshed(key)
    for signers in subsets:
        _sign_and_check(shares, signers, f"after refresh of {key}, signers {signers}")


def test_refreshed_shares_interpolate_to_the_same_secret():
    shares = refreshed("2of3")
    signers = [0, 2]
    secret = sum(shares[i].secret_share * shares[i].lagrange(signers)
                 for i in signers) % N_SECP256K1
    assert secret == secret_of("2of3")


# -- reshare ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(RESHARES))
def test_reshare_a_subset_to_a_new_committee(name):
    key, _old, t, n = RESHARES[name]
    new = reshared(name)
    assert [s.index for s in new] == list(range(n))
    for s in new:
        assert (s.threshold, s.parties) == (t, n)
        assert s.points == tuple(range(1, n + 1))
        assert s.public_key == ecdsa_pub(key)
        assert s.chain_code == CHAIN_CODE
        assert not s.imported and s.can_sign
        assert s.public_shares == new[0].public_shares
    # the new shares are a t-of-n sharing of the old secret
    signers = list(range(t))
    secret = sum(new[i].secret_share * new[i].lagrange(signers) for i in signers) % N_SECP256K1
    assert secret == secret_of(key)


def test_reshare_to_2of3_then_sign():
    shares = reshared("3of5->2of3")
    _sign_and_check(shares, (0, 2), "after reshare 3of5 -> 2of3")
    _sign_and_check(shares, (1, 2), "after reshare 3of5 -> 2of3, other signers")


def test_reshare_to_3of5_then_sign():
    _sign_and_check(reshared("2of3->3of5"), (0, 3, 4), "after reshare 2of3 -> 3of5")


# -- HD children ------------------------------------------------------------------------------
PATHS = ("m/0", "m/0/1", "m/44/60/0/0/5")


@pytest.mark.parametrize("source", ["refresh/2of3", "refresh/3of5", "reshare/3of5->2of3",
                                    "reshare/2of3->3of5"])
def test_hd_children_are_the_same_before_and_after_migration(source):
    kind, name = source.split("/")
    shares = refreshed(name) if kind == "refresh" else reshared(name)
    key = name if kind == "refresh" else RESHARES[name][0]
    for path in PATHS:
        before = tss.derive_public_key(ecdsa_pub(key), CHAIN_CODE, path)
        assert tss.derive_public_key(shares[0].public_key, shares[0].chain_code, path) == before


def test_sign_for_an_hd_child_after_migration():
    _sign_and_check(reshared("3of5->2of3"), (0, 1), "a child key", path="m/44/60/0/0/5")


# -- mixing shares of two keys ----------------------------------------------------------------
def _another_committee_of(key: str) -> tuple[tss.KeyShare, ...]:
    """The same key shared again at the same Ks on another polynomial (what a tss-lib reshare
    to the same parties would leave): same public key, other public shares."""
    t, n = SHAPE[key]
    ks = doc(key, 0)["Ks"]
    coeffs = [(777 + c) % N_SECP256K1 for c in range(t - 1)]
    return tuple(import_tss_lib(tss_lib_file(secret_of(key), coeffs, ks, me), chain_code=CHAIN_CODE)
                 for me in range(n))


def test_refresh_of_two_keys_is_refused():
    a, b = imported("2of3"), imported("3of5")
    with pytest.raises(tss.TssError):
        tss.simulate_refresh([a[0], a[1], b[2]])
    with pytest.raises(tss.TssError):
        tss.simulate_refresh([b[0], b[1], b[2], b[3], a[2]])


def test_reshare_of_two_keys_is_refused():
    a, b = imported("2of3"), imported("3of5")
    with pytest.raises(tss.TssError):
        tss.simulate_reshare([a[0], b[1]], 2, 3)
    with pytest.raises(tss.TssError):
        tss.simulate_reshare([b[0], b[2], a[1]], 2, 3)


def test_shares_of_two_committees_of_one_key_are_refused():
    a, other = imported("2of3"), _another_committee_of("2of3")
    assert other[1].public_key == a[1].public_key and other[1].public_shares != a[1].public_shares
    with pytest.raises(tss.TssError):
        tss.simulate_reshare([a[0], other[1]], 2, 3)
    with pytest.raises(tss.TssError):
        tss.simulate_refresh([a[0], other[1], a[2]])


@functools.cache
def _second_2of3_key() -> tuple[tss.KeyShare, ...]:
    """Another 2-of-3 key at the very same Ks as the 2of3 data (only the key differs)."""
    ks = doc("2of3", 0)["Ks"]
    return tuple(import_tss_lib(tss_lib_file(secret_of("2of3") + 1, [4242], ks, me))
                 for me in range(3))


def test_refresh_machines_of_two_keys_do_not_make_a_key():
    """Past simulate_refresh's check: the sans-IO machines themselves refuse a mixed run (each
    party binds its own key into the proofs), and no party ends with a share."""
    a, b = imported("2of3"), _second_2of3_key()
    keys = paillier_keys(3, _OFFSET["mixed/refresh"])
    sid = _sid("mixed refresh")
    # parties 0 and 1 hold the tss-lib 2-of-3 key, party 2 another key at the same points
    mixed = [a[0], a[1], b[2]]
    machines = {s.index: tss.Refresh(s, sid, paillier_key=keys[k]) for k, s in enumerate(mixed)}
    with pytest.raises(tss.TssError):
        with shared_verification():
            run(machines)
    assert not any(m.done for m in machines.values())


def test_reshare_machines_of_two_keys_do_not_make_a_key():
    """Old members of two keys, new members told the 2-of-3 key: refused, no new share."""
    from tss.protocol.reshare import NEW_MEMBER_BASE

    a, b = imported("2of3"), _second_2of3_key()
    keys = paillier_keys(3, _OFFSET["mixed/reshare"])
    sid = _sid("mixed reshare")
    old = [a[0], b[1]]
    machines: dict[int, object] = {
        s.index: tss.Reshare(sid, old_parties=[0, 1], new_threshold=2, new_parties=3,
                             old_share=s) for s in old}
    for j in range(3):
        machines[NEW_MEMBER_BASE + j] = tss.Reshare(
            sid, old_parties=[0, 1], new_threshold=2, new_parties=3, new_index=j,
            key_info=a[0].public_info(), paillier_key=keys[j])
    with pytest.raises(tss.TssError):
        with shared_verification():
            run(machines)  # type: ignore[arg-type]
    assert not any(machines[NEW_MEMBER_BASE + j].done for j in range(3))  # type: ignore[attr-defined]
