"""An honest key refresh (issue 9, attack A-17): the same key, new shares and new Paillier keys,
the epoch up by one; every new t-subset signs; the old shares are untouched and still sign on
their own, and old and new shares never mix."""

from __future__ import annotations

import itertools

import pytest
from refresh_support import (
    REFRESH_KEYS,
    Net,
    base_key,
    base_key_bytes,
    honest_refresh,
    interpolate_secret,
    pkeys,
    public_key_of,
    sign_and_verify,
)

import tss
from tss import KeyShare, Presign, ProtocolAborted, Refresh, UsageError
from tss.randomness import SeededRng
from tss.simulation import simulate_presign, simulate_refresh, simulate_sign


def refreshed():
    """(old shares, their bytes before the refresh, new shares)."""
    return base_key(), base_key_bytes(), honest_refresh()


def test_public_key_and_structure_unchanged():
    old, _, new = refreshed()
    for o, n in zip(old, new):
        assert isinstance(n, KeyShare)
        assert n.public_key == o.public_key
        assert n.public_key_point == o.public_key_point
        assert n.key_id == o.key_id
        assert n.chain_code == o.chain_code
        assert (n.index, n.threshold, n.parties, n.points, n.level) == \
            (o.index, o.threshold, o.parties, o.points, o.level)
        assert n.can_sign and not n.imported
    assert all(n.public_shares == new[0].public_shares for n in new)
    assert all(n.paillier_moduli == new[0].paillier_moduli for n in new)


def test_new_shares_reconstruct_the_same_key():
    """A-17 (KS-AMC-F-04): the new share is old share + zero-shares, never the zero-shares alone
    — any t new secret shares interpolate (independently, with coincurve) to the old key."""
    old, _, new = refreshed()
    for subset in itertools.combinations(new, 2):
        assert public_key_of(interpolate_secret(subset)) == old[0].public_key
    # and one new share alone is not the key
    for n in new:
        assert public_key_of(n.secret_share) != old[0].public_key


@pytest.mark.parametrize("subset", list(itertools.combinations(range(3), 2)),
                         ids=lambda s: "-".join(map(str, s)))
def test_every_new_t_subset_signs(subset):
    _, _, new = refreshed()
    sign_and_verify([new[i] for i in subset], f"refreshed {subset}")


def test_new_shares_differ_from_old():
    old, _, new = refreshed()
    for o, n in zip(old, new):
        assert n.secret_share != o.secret_share
        assert n.public_shares[n.index] != o.public_shares[o.index]
        assert n.paillier.n != o.paillier.n
        assert n.ring_pedersen[n.index] != o.ring_pedersen[o.index]
    # a whole new set of Paillier-Blum moduli, all distinct
    assert not set(new[0].paillier_moduli) & set(old[0].paillier_moduli)
    assert len(set(new[0].paillier_moduli)) == 3
    assert new[0].paillier_moduli == tuple(k.n for k in pkeys(*REFRESH_KEYS))


def test_epoch_goes_up_by_one():
    old, _, new = refreshed()
    assert {o.epoch for o in old} == {0}
    assert {n.epoch for n in new} == {1}
    # and the epoch survives storage
    assert {KeyShare.from_bytes(n.to_bytes()).epoch for n in new} == {1}


def test_old_share_objects_untouched():
    old, before, new = refreshed()
    assert tuple(s.to_bytes() for s in old) == before
    assert tuple(s.to_bytes() for s in base_key()) == before
    assert {s.epoch for s in old} == {0}
    assert all(n is not o for n, o in zip(new, old))


def test_old_shares_still_sign_after_refresh():
    """The application decides when to drop the old share; until then it is a valid share of
    its own epoch."""
    old, _, _ = refreshed()
    sign_and_verify([old[0], old[2]], "old shares after a refresh")


@pytest.mark.parametrize("pair", [(("old", 0), ("new", 1)), (("new", 0), ("old", 1)),
                                  (("new", 2), ("old", 0))],
                         ids=["old0-new1", "new0-old1", "new2-old0"])
def test_mixing_epochs_raises_before_any_message(pair, monkeypatch):
    old, _, new = refreshed()
    shares = [(old if kind == "old" else new)[i] for kind, i in pair]

    def no_run(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("a message was about to be sent")

    monkeypatch.setattr(tss.simulation, "run", no_run)
    with pytest.raises(UsageError, match="epoch"):
        simulate_sign(shares, bytes(32))
    with pytest.raises(UsageError, match="epoch"):
        simulate_presign(shares)
    # also after a round trip through storage
    stored = [KeyShare.from_bytes(s.to_bytes()) for s in shares]
    with pytest.raises(UsageError, match="epoch"):
        simulate_sign(stored, bytes(32))


def test_hand_driven_presign_across_epochs_never_completes():
    """A deployment that drives Presign itself cannot mix epochs either: the epoch is bound into
    every proof of the run, so the two parties reject each other's first round."""
    old, _, new = refreshed()
    shares = [old[0], new[1]]
    signers = [0, 1]
    machines = {s.index: Presign(s, signers, b"tests/refresh mixed presign",
                                 rng=SeededRng(f"mixed-presign-{s.index}")) for s in shares}
    net = Net(machines).run()
    assert not net.done(machines)
    assert set(net.errors) == {0, 1}
    assert all(isinstance(e, ProtocolAborted) for e in net.errors.values())
    # nothing past the first round was sent
    assert all(m.round == 1 for m in net.sent)


def test_refresh_argument_checks():
    old, _, new = refreshed()
    with pytest.raises(UsageError):
        Refresh(old[0].public_info(), b"sid")
    with pytest.raises(UsageError, match="every party"):
        simulate_refresh(old[:2])
    with pytest.raises(UsageError, match="different keys|epoch"):
        simulate_refresh([old[0], new[1], new[2]])
    with pytest.raises(UsageError):
        Refresh(old[0], b"sid", paillier_key=tss.paillier.PaillierSecretKey(3, 5))
