"""Honest resharing (issue 9): 2-of-3 -> 3-of-5, 3-of-5 -> 2-of-3 and 2-of-3 -> 2-of-2, with
disjoint and overlapping committees. The key stays, the threshold really changes, every old
member ends with a ReshareReceipt carrying the digest all new members acknowledged, and the new
shares are of the next epoch.

"Overlapping" means a physical party is in both committees: it runs an old-member machine and
a new-member machine, and here keeps its Paillier key for the new share. "Disjoint" means the
new committee is new parties with fresh keys.
"""

from __future__ import annotations

import functools
import itertools
import random

import pytest
from refresh_support import (
    BASE_KEYS,
    FRESH,
    base_key,
    interpolate_secret,
    old_shares_still_good,
    pkeys,
    public_key_of,
    reshare_machines,
    shared_verification,
    sign_and_verify,
)

from tss import KeyShare, Reshare, ReshareReceipt, UsageError
from tss.protocol.reshare import NEW_MEMBER_BASE
from tss.randomness import SeededRng
from tss.simulation import run, simulate_reshare, simulate_sign

SCENARIOS = {
    # name: (old shares, t', n', keys of the new members, old -> new member for overlaps)
    "2of3-to-3of5-disjoint": lambda: (base_key(), 3, 5, pkeys(*range(FRESH + 3, FRESH + 8))),
    "3of5-to-2of3-overlapping": lambda: (
        tuple(scenario("2of3-to-3of5-disjoint")[1][i] for i in (0, 2, 4)), 2, 3,
        pkeys(FRESH + 3, FRESH + 5, FRESH + 8)),  # new 0 = old 0, new 1 = old 2, new 2 is new
    "2of3-to-2of2-overlapping": lambda: (base_key()[:2], 2, 2, pkeys(*BASE_KEYS[:2])),
    "2of3-to-2of2-disjoint": lambda: (base_key()[1:], 2, 2, pkeys(FRESH + 9, FRESH + 10)),
}

#: the new signer sets that sign, per scenario (3-of-5: a sample of 3 of the 10)
SIGNERS = {
    "2of3-to-3of5-disjoint": [(0, 1, 2), (1, 3, 4), (0, 2, 4)],
    "3of5-to-2of3-overlapping": list(itertools.combinations(range(3), 2)),
    "2of3-to-2of2-overlapping": [(0, 1)],
    "2of3-to-2of2-disjoint": [(0, 1)],
}


def _sid(name):
    return f"tests/refresh {name}".encode()


def _seed(name):
    return f"tests/refresh/reshare/{name}"


@functools.cache
def scenario(name):
    """(old shares, new shares, results of every machine (id -> result), the machines)."""
    old, t2, n2, keys = SCENARIOS[name]()
    ms = reshare_machines(old, t2, n2, keys, sid=_sid(name), seed=_seed(name))
    with shared_verification():
        results = run(ms, shuffle=random.Random(name))
    new = tuple(results[NEW_MEMBER_BASE + j] for j in range(n2))
    return old, new, results, ms


@pytest.fixture(params=list(SCENARIOS))
def case(request):
    return request.param


def test_public_key_and_shape(case):
    old, new, _, _ = scenario(case)
    _, t2, n2, keys = SCENARIOS[case]()
    for j, s in enumerate(new):
        assert isinstance(s, KeyShare)
        assert s.public_key == old[0].public_key
        assert s.chain_code == old[0].chain_code
        assert (s.index, s.threshold, s.parties, s.points) == (j, t2, n2, tuple(range(1, n2 + 1)))
        assert s.public_shares == new[0].public_shares
        assert s.paillier.n == keys[j].n
        assert s.paillier_moduli == tuple(k.n for k in keys)
        assert s.can_sign and not s.imported
        # the stored form carries everything, and reloads to the same share
        assert KeyShare.from_bytes(s.to_bytes()).to_bytes() == s.to_bytes()


def test_epoch_goes_up_by_one(case):
    old, new, _, _ = scenario(case)
    assert len({s.epoch for s in old}) == 1
    assert {s.epoch for s in new} == {old[0].epoch + 1}


def test_3of5_to_2of3_is_a_second_reshare():
    old, new, _, _ = scenario("3of5-to-2of3-overlapping")
    assert {s.epoch for s in old} == {1} and {s.epoch for s in new} == {2}
    assert new[0].public_key == base_key()[0].public_key


def test_old_members_get_one_receipt(case):
    old, new, results, ms = scenario(case)
    receipts = [results[s.index] for s in old]
    assert all(isinstance(r, ReshareReceipt) for r in receipts)
    assert len({r.ack for r in receipts}) == 1
    ack = receipts[0].ack
    assert isinstance(ack, bytes) and len(ack) == 32
    # the digest every new member acknowledged
    assert {ms[NEW_MEMBER_BASE + j]._ack for j in range(len(new))} == {ack}
    assert not any(isinstance(results[NEW_MEMBER_BASE + j], ReshareReceipt)
                   for j in range(len(new)))


def test_new_shares_differ_from_old(case):
    old, new, _, _ = scenario(case)
    assert not {s.secret_share for s in new} & {s.secret_share for s in old}
    assert not {X.to_bytes() for X in new[0].public_shares} & {
        X.to_bytes() for X in old[0].public_shares}
    assert set(new[0].ring_pedersen).isdisjoint(old[0].ring_pedersen)
    if "disjoint" in case:
        assert not set(new[0].paillier_moduli) & set(old[0].paillier_moduli)


def _signing_cases():
    return [(name, subset) for name, subsets in SIGNERS.items() for subset in subsets]


@pytest.mark.parametrize("name,subset", _signing_cases(),
                         ids=[f"{n}-{'-'.join(map(str, s))}" for n, s in _signing_cases()])
def test_new_t_subsets_sign(name, subset):
    _, new, _, _ = scenario(name)
    sign_and_verify([new[i] for i in subset], f"reshare {name} {subset}")


def test_threshold_really_changes(case):
    """t' - 1 new shares cannot sign and do not interpolate to the key; every t' of them do."""
    old, new, _, _ = scenario(case)
    t2 = new[0].threshold
    pk = old[0].public_key
    for subset in itertools.combinations(new, t2 - 1):
        with pytest.raises(UsageError, match=f"at least {t2}"):
            simulate_sign(list(subset), bytes(32))
        assert public_key_of(interpolate_secret(subset)) != pk
    for subset in itertools.combinations(new, t2):
        assert public_key_of(interpolate_secret(subset)) == pk


def test_old_threshold_no_longer_suffices_for_3of5():
    """After 2-of-3 -> 3-of-5, two new shares (the old threshold) are not enough."""
    _, new, _, _ = scenario("2of3-to-3of5-disjoint")
    with pytest.raises(UsageError, match="at least 3"):
        simulate_sign([new[0], new[1]], bytes(32))


def test_old_shares_untouched_and_still_sign_after_reshare():
    scenario("2of3-to-3of5-disjoint")
    scenario("2of3-to-2of2-overlapping")
    old_shares_still_good("old shares after a reshare", signers=(1, 2))


def test_old_and_new_shares_never_mix():
    old, new, _, _ = scenario("2of3-to-3of5-disjoint")
    with pytest.raises(UsageError, match="epoch"):
        simulate_sign([old[0], new[1], new[2]], bytes(32))
    _, new2, _, _ = scenario("2of3-to-2of2-overlapping")
    with pytest.raises(UsageError, match="epoch"):
        simulate_sign([old[1], new2[0]], bytes(32))


def test_simulate_reshare_matches_the_hand_run_machines():
    """The convenience wrapper runs the same machines: on the same inputs and seed it returns
    exactly the new shares of the 2-of-3 -> 2-of-2 disjoint run, in index order."""
    name = "2of3-to-2of2-disjoint"
    old, new, _, _ = scenario(name)
    _, t2, n2, keys = SCENARIOS[name]()
    with shared_verification():
        again = simulate_reshare(old, t2, n2, paillier_keys=keys, session_id=_sid(name),
                                 rng=SeededRng(_seed(name)))
    assert [s.to_bytes() for s in again] == [s.to_bytes() for s in new]
    with pytest.raises(UsageError, match="one Paillier key per new party"):
        simulate_reshare(old, 2, 2, paillier_keys=keys[:1])


def test_reshare_argument_checks():
    old = base_key()
    info = old[0].public_info()
    common = dict(old_parties=[0, 1], new_threshold=2, new_parties=3)
    with pytest.raises(UsageError, match="exactly one"):
        Reshare(b"sid", **common)
    with pytest.raises(UsageError, match="exactly one"):
        Reshare(b"sid", old_share=old[0], new_index=0, **common)
    with pytest.raises(UsageError, match="public info"):
        Reshare(b"sid", new_index=0, **common)
    with pytest.raises(UsageError, match="at least 2 old members"):
        Reshare(b"sid", old_share=old[0], old_parties=[0], new_threshold=2, new_parties=3)
    with pytest.raises(UsageError, match="not among"):
        Reshare(b"sid", old_share=old[2], **common)
    with pytest.raises(UsageError, match="new_threshold"):
        Reshare(b"sid", new_index=0, key_info=info, old_parties=[0, 1], new_threshold=4,
                new_parties=3)
    with pytest.raises(UsageError, match="new_index"):
        Reshare(b"sid", new_index=3, key_info=info, **common)
    with pytest.raises(UsageError, match="distinct"):
        Reshare(b"sid", old_share=old[0], old_parties=[0, 0], new_threshold=2, new_parties=3)
