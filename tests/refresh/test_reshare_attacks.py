"""Malicious resharing: forget-and-forgive (attack A-16, attacks.md T-15) and the reshare forms
of A-17 (a wrong or inconsistent dealing, an equivocating old member, a reused or replayed
Paillier modulus, a bad Πfac).

The old committee is parties 0 and 1 of the base 2-of-3 key; the new committee is 2-of-3
(ids NEW_MEMBER_BASE + 0..2, called N0, N1, N2). Every run uses the same session id and seeds,
so the honest parties behave identically in all of them and only the cheater changes. After
every failed run the old shares are byte-for-byte unchanged and the old committee still signs.
"""

from __future__ import annotations

import functools

from refresh_support import (
    FRESH,
    Net,
    Q,
    assert_named,
    assert_no_honest_message_after,
    assert_stuck,
    base_key,
    flip_byte,
    old_shares_still_good,
    pkeys,
    replace_payload,
    reshare_machines,
    sign_and_verify,
    tweak_share,
)

from tss import ProtocolAborted, Reshare, ReshareReceipt
from tss.protocol.reshare import NEW_MEMBER_BASE
from tss.vss import deal, lagrange_at_zero
from tss.zk._codec import Writer

N0, N1, N2 = (NEW_MEMBER_BASE + j for j in range(3))
OLD = (0, 1)
NEW = (N0, N1, N2)
NEW_KEYS = (FRESH + 13, FRESH + 14, FRESH + 15)
SID = b"tests/refresh reshare attacks"


def machines(cheaters=None, *, new_parties=3, keys=None):
    return reshare_machines(base_key()[:2], 2, new_parties,
                            keys if keys is not None else pkeys(*NEW_KEYS[:new_parties]),
                            sid=SID, seed=f"tests/refresh/reshare-attack/{new_parties}",
                            cheaters=cheaters)


def old_still_good(label):
    old_shares_still_good(label, signers=OLD)


def others(*ids, among=NEW):
    return [i for i in among if i not in ids]


# ------------------------------------------------------------------------------ cheaters
class WrongAck(Reshare):
    """A new member that acknowledges a digest other than the one it computed."""

    def _digest(self):
        return flip_byte(super()._digest())


class WrongConstant(Reshare):
    """An old member that reshares w_i + 1 instead of its additive share w_i = lambda_i x_i: the
    constant commitment no longer equals lambda_i X_i (the reshare form of A-17)."""

    def _start(self):
        share = self.old_share
        pts = [share.points[i] for i in self.old_parties]
        w = lagrange_at_zero(pts, share.points[share.index]) * share.secret_share % Q
        A, shares = deal((w + 1) % Q, self.new_threshold, self.new_points, self._rng)
        out = [self.broadcast(Writer().points(A).getvalue())]
        out += [self.send(j, s.to_bytes(32, "big")) for j, s in zip(self.new_ids, shares)]
        return out


class Equivocating(Reshare):
    """An old member that deals two different polynomials (both with the right constant) and
    shows the second to ``victims``, each with a share that matches what it was shown."""

    def __init__(self, *args, victims, **kwargs):
        super().__init__(*args, **kwargs)
        self.victims = victims

    def _start(self):
        out = super()._start()
        share = self.old_share
        pts = [share.points[i] for i in self.old_parties]
        w = lagrange_at_zero(pts, share.points[share.index]) * share.secret_share % Q
        A, shares = deal(w, self.new_threshold, self.new_points, self._rng)
        self.alt_broadcast = Writer().points(A).getvalue()
        self.alt_share = {j: s.to_bytes(32, "big") for j, s in zip(self.new_ids, shares)}
        return out


def equivocate(cheater_id):
    def rewrite(msg, to, net):
        cheater = net.machines[cheater_id]
        if msg.sender == cheater_id and msg.round == 1 and to in cheater.victims:
            alt = cheater.alt_broadcast if msg.is_broadcast else cheater.alt_share[to]
            return replace_payload(msg, alt)
        return msg

    return rewrite


def drop_ack(sender, recipients):
    """Withhold ``sender``'s round-3 acknowledgement from ``recipients``."""

    def rewrite(msg, to, net):
        if msg.sender == sender and msg.round == 3 and to in recipients:
            return None
        return msg

    return rewrite


# ------------------------------------------------------------------------------
def test_withheld_ack_keeps_every_old_member_waiting():
    """N2 withholds its acknowledgement from everyone. No old member finishes, so no application
    is told it may drop its old share. (Honest new members finish as they acknowledge: an
    acknowledgement is sent only once its sender holds its share.)"""
    net = Net(machines(), rewrite=drop_ack(N2, OLD + NEW)).run()
    assert not net.errors
    assert_stuck(net, OLD)
    assert net.machines[N0].done and net.machines[N1].done
    assert not any(isinstance(getattr(m, "_result", None), ReshareReceipt)
                   for m in net.machines.values())
    assert net.dropped and all(m.sender == N2 and m.round == 3 for _, m in net.dropped)
    old_still_good("after a withheld reshare ack")


def test_ack_withheld_from_one_old_member():
    """N2's acknowledgement reaches everyone but old member 1: old member 0 may drop its share
    — every new member has finished — while old member 1 keeps waiting (and its share)."""
    net = Net(machines(), rewrite=drop_ack(N2, [1])).run()
    assert not net.errors
    assert isinstance(net.machines[0].result, ReshareReceipt)
    assert_stuck(net, [1])
    new = [net.machines[j].result for j in NEW]
    assert {s.epoch for s in new} == {1}
    sign_and_verify(new[:2], "reshare, ack withheld from one old member")
    old_still_good("after an ack withheld from one old member")


@functools.cache
def ack_only_to_old_run():
    return Net(machines(), rewrite=drop_ack(N2, [N0, N1])).run()


def test_no_receipt_while_an_honest_new_member_is_unfinished():
    """N2 sends its acknowledgement to the old members only. The old members must not all get a
    receipt (the signal that the old share may go) while honest new members have no share."""
    net = ack_only_to_old_run()
    assert not net.errors
    receipts = [i for i in OLD if net.machines[i].done]
    unfinished = [j for j in (N0, N1) if not net.machines[j].done]
    assert not (receipts == list(OLD) and unfinished), (
        f"old members {receipts} hold receipts while new members {unfinished} have no share")


def test_ack_only_to_old_members_still_leaves_every_honest_new_member_a_share():
    """N2 sends its acknowledgement to the old members only. The old members get receipts, but an
    acknowledgement now means its sender holds its share, and the honest new members finished
    before acknowledging: the new committee can sign without the cheater's cooperation."""
    net = ack_only_to_old_run()
    assert all(isinstance(net.machines[i].result, ReshareReceipt) for i in OLD)
    new = [net.machines[j].result for j in (N0, N1)]
    sign_and_verify(new, "reshare, ack sent to the old members only")
    old_still_good("after an ack sent to the old members only")


def test_different_ack_is_named_by_old_and_new_members():
    ms = machines({N2: (WrongAck, {})})
    net = Net(ms).run()
    assert_named(net, OLD, {N2})
    assert "acknowledged" in net.errors[0].reason
    # the new members finished before acknowledging: they hold shares, the old members none
    assert all(ms[j].done for j in NEW) and not any(ms[i].done for i in OLD)
    old_still_good("after a different reshare ack")


@functools.cache
def wrong_ack_pair_run():
    """A 2-of-2 new committee whose first member N0 acknowledges a different digest."""
    ms = machines({N0: (WrongAck, {})}, new_parties=2)
    return Net(ms).run()


def test_different_ack_in_a_two_member_committee_is_named_by_the_old_members():
    net = wrong_ack_pair_run()
    assert_named(net, OLD, {N0})
    assert not any(net.machines[i].done for i in OLD)
    old_still_good("after a different ack in a 2-member committee")


def test_different_ack_in_a_two_member_committee_never_blames_the_honest_member():
    net = wrong_ack_pair_run()
    for i in OLD:
        assert N1 not in net.errors[i].culprits, f"old member {i}: {net.errors[i]}"


def test_equivocating_old_member_is_caught_by_the_echo():
    """Old member 1 shows N1 another polynomial (right constant, matching share). Each check of
    round 1 passes; the echo of round 2 shows the difference and every new member names old
    member 1 (with the echoer it cannot tell from the liar)."""
    ms = machines({1: (Equivocating, {"victims": {N1}})})
    net = Net(ms, rewrite=equivocate(1)).run()
    assert_named(net, NEW, {1}, exact=False)
    for j in NEW:
        assert "echo" in net.errors[j].reason
        assert net.errors[j].culprits <= {1} | set(others(j))
    assert_no_honest_message_after(net, NEW, 2)
    assert_stuck(net, [0])
    old_still_good("after an equivocating old member")


def test_an_abort_does_not_swallow_the_messages_of_the_round_that_passed():
    """The same equivocation, but N0 gets old member 0's round-1 messages last, after N1's and
    N2's round-2 broadcasts: its last round-1 message completes round 1 (which passes and
    produces N0's round-2 messages) and then round 2 (which aborts). N0's round-2 messages are
    lost, so N1 and N2 wait forever instead of seeing the echo mismatch themselves."""
    ms = machines({1: (Equivocating, {"victims": {N1}})})
    net = Net(ms, rewrite=equivocate(1),
              hold=lambda msg, to: to == N0 and msg.sender == 0 and msg.round == 1).run()
    assert isinstance(net.errors.get(N0), ProtocolAborted)
    assert 1 in net.errors[N0].culprits
    assert net.find(sender=N0, round=2), "N0 sent nothing for round 2"
    assert_named(net, NEW, {1}, exact=False)


# ------------------------------------------------------------------------------ A-17 in reshare
def test_wrong_constant_is_named_by_every_new_member():
    ms = machines({1: (WrongConstant, {})})
    net = Net(ms).run()
    assert_named(net, NEW, {1})
    assert "constant commitment" in net.errors[N0].reason
    assert_no_honest_message_after(net, NEW, 1)
    assert_named(net, [0], {1})  # old members check the constants too, for their own digest
    old_still_good("after a wrong reshare constant")


def test_inconsistent_share_is_named_by_its_recipient():
    def rewrite(msg, to, net):
        if msg.sender == 1 and msg.round == 1 and msg.recipient == N0:
            return tweak_share(msg)
        return msg

    net = Net(machines(), rewrite=rewrite).run()
    assert_named(net, [N0], {1})
    assert "Feldman" in net.errors[N0].reason
    assert_no_honest_message_after(net, [N0], 1)
    assert_stuck(net, [0, 1, N1, N2])
    old_still_good("after an inconsistent reshare share")


def test_new_member_reusing_a_modulus_is_named():
    """N2 runs with N0's Paillier key. N0 names N2; N1 sees two members with one modulus, both
    proving they know its factors, and names both."""
    keys = pkeys(*NEW_KEYS)
    net = Net(machines(keys=[keys[0], keys[1], keys[0]])).run()
    assert_named(net, [N0], {N2})
    assert_named(net, [N1], {N0, N2})
    for j in (N0, N1):
        assert "modulus reused" in net.errors[j].reason
    assert_no_honest_message_after(net, [N0, N1], 1)
    old_still_good("after a reused modulus")


def test_new_member_replaying_another_members_round1_is_named():
    """N2 waits for N0's round-1 broadcast and sends it as its own (N0's modulus, ring-Pedersen
    parameters and proofs). The proofs are bound to their prover: everyone names N2 alone."""

    def rewrite(msg, to, net):
        if msg.sender == N2 and msg.round == 1 and msg.is_broadcast:
            return replace_payload(msg, net.find(sender=N0, round=1, recipient=None)[0].payload)
        return msg

    net = Net(machines(), rewrite=rewrite).run()
    assert_named(net, [N0, N1], {N2})
    assert "mod" in net.errors[N0].reason
    old_still_good("after a replayed round 1")


def test_bad_fac_from_a_new_member_is_named():
    """N2 sends N0 the Πfac it made for N1 (against N1's ring-Pedersen parameters)."""

    def rewrite(msg, to, net):
        if msg.sender == N2 and msg.round == 2 and msg.recipient == N0:
            return replace_payload(msg, net.find(sender=N2, round=2, recipient=N1)[0].payload)
        return msg

    net = Net(machines(), rewrite=rewrite).run()
    assert_named(net, [N0], {N2})
    assert "fac" in net.errors[N0].reason
    assert_stuck(net, list(OLD))
    old_still_good("after a bad reshare Πfac")
