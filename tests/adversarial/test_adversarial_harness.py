"""Self-tests of the harness: a harness that lets attacks through unnoticed, or that rebuilds
messages differently from the library, would make every attack test below meaningless."""

from __future__ import annotations

import dataclasses

import pytest
from harness import (
    Run,
    SplitView,
    Targeted,
    assert_clean_abort,
    aux_round_2,
    fresh_presignatures,
    go,
    keygen,
    keygen_machines,
    keygen_r2_fields,
    keygen_r2_payload,
    malicious,
    presign_machines,
    presign_r2_fields,
    presign_r2_payload,
    sign_machines,
)

from tss import Keygen, ProtocolAborted, Sign
from tss.randomness import SeededRng


def test_honest_runs_finish_and_agree():
    shares = keygen(2, 3)
    assert len({s.public_key for s in shares}) == 1
    presigs = fresh_presignatures(2, 3, (0, 1, 2))
    run = go(sign_machines(presigs, bytes(32)))
    sigs = set(run.results.values())
    assert len(sigs) == 1
    assert sigs.pop().verify(shares[0].public_key, bytes(32))
    assert not run.errors and not run.refused and not run.dropped


def test_rebuilt_keygen_round_2_is_byte_identical():
    """aux_round_2() without replacements writes exactly what the honest builder writes, and
    the field splitter round-trips it: the forged-proof attacks differ from honesty only in the
    proof they replace."""
    sid = b"tests/adversarial harness rebuilt round 2"
    honest = go(keygen_machines(2, 2, sid))
    rebuilt_cls = {1: malicious(Keygen, "_round_1", aux_round_2())}
    rebuilt = go(keygen_machines(2, 2, sid, classes=rebuilt_cls), cheaters=())
    assert [r.raw for r in honest.log] != [] and \
        sorted(r.raw for r in honest.log) == sorted(r.raw for r in rebuilt.log)
    assert honest.results[0].to_bytes() == rebuilt.results[0].to_bytes()
    for rec in honest.messages(1, 2, broadcast=True):
        payload = rec.message.payload
        assert keygen_r2_payload(keygen_r2_fields(payload, 2, 2)) == payload


def test_presign_round_2_splitter_round_trips():
    shares = keygen(2, 3)
    run = go(presign_machines(shares, (0, 1, 2), b"tests/adversarial harness presign"))
    for i in range(3):
        (rec,) = run.messages(i, 2, broadcast=True)
        payload = rec.message.payload
        peers = [j for j in range(3) if j != i]
        assert presign_r2_payload(presign_r2_fields(payload, peers)) == payload


def test_the_transport_drops_a_forged_sender_and_undecodable_bytes():
    presigs = fresh_presignatures(2, 3, (0, 1, 2))
    machines = sign_machines(presigs, bytes(32))

    def spoof(msg):
        return [dataclasses.replace(msg, sender=0), b"\x01garbage"]

    run = go(machines, rewrite={2: spoof})
    assert [why for _, why in run.dropped] == ["sender is not the authenticated sender",
                                               "undecodable"]
    # nothing from party 2 arrived: the honest parties wait (a timeout is the node's job)
    assert not run.errors and not run.done(0) and not run.done(1)


def test_assert_clean_abort_rejects_an_honest_party_that_finished():
    presigs = fresh_presignatures(2, 3, (0, 1, 2))
    run = go(sign_machines(presigs, bytes(32)), cheaters={2})
    with pytest.raises(AssertionError, match="did not abort"):
        assert_clean_abort(run, {2})


def test_assert_clean_abort_on_a_simple_cheat():
    presigs = fresh_presignatures(2, 3, (0, 1, 2))

    def bad_partial(msg):
        s = (int.from_bytes(msg.payload, "big") + 1) % 2**256
        return dataclasses.replace(msg, payload=s.to_bytes(32, "big"))

    run = go(sign_machines(presigs, bytes(32)), rewrite={2: bad_partial},
             inputs={0: presigs[0], 1: presigs[1]})
    assert_clean_abort(run, {2}, round="sign/1", burns=True)


def test_split_view_and_targeted_delivery():
    presigs = fresh_presignatures(2, 3, (0, 1, 2))
    a = Sign(presigs[2], bytes(32))
    b = Sign(fresh_presignatures(2, 3, (0, 1, 2))[2], bytes(32))
    run = go({0: Sign(presigs[0], bytes(32)), 1: Sign(presigs[1], bytes(32)),
              2: SplitView({(0,): a, (1,): b})})
    assert run.cheaters == {2}
    # each honest party got exactly one partial signature from party 2, from its persona
    assert [r.recipients for r in run.sent_by(2)] == [(0,), (1,)]
    assert run.done(0) and run.done(1)
    # a Targeted broadcast reaches only its parties
    only_1 = go(sign_machines(fresh_presignatures(2, 3, (0, 1, 2)), bytes(32)),
                rewrite={2: lambda m: Targeted(m, frozenset({1}))})
    assert [r.recipients for r in only_1.sent_by(2)] == [(1,)]
    assert only_1.done(1) and not only_1.done(0)


def test_a_rushing_rewrite_sees_the_honest_first_messages():
    sid = b"tests/adversarial harness rushing"
    machines = keygen_machines(2, 2, sid, seed="rush")
    seen = []
    run = Run(machines)

    def look(msg):
        seen.append([r.sender for r in run.log])
        return msg

    run.rewrite[1] = look
    run.cheaters = frozenset({1})
    run.honest = (0,)
    run.go()
    assert seen[0] == [0]  # party 0's round-1 commitment was on the wire first
    assert run.done(0) and run.results[0].public_key


def test_the_delivery_bound_catches_a_message_storm():
    machines = keygen_machines(2, 2, b"tests/adversarial harness storm", seed="storm")

    def storm(msg):
        return [msg] * 3  # duplicates are ignored; the bound only counts deliveries

    run = Run(machines, rewrite={1: storm}, max_deliveries=4)
    with pytest.raises(AssertionError, match="delivery bound"):
        run.go()


def test_errors_are_stored_and_delivery_goes_on():
    presigs = fresh_presignatures(2, 3, (0, 1, 2))

    def bad_partial(msg):
        if msg.round == 1:
            return dataclasses.replace(msg, payload=bytes(31))
        return msg

    run = go(sign_machines(presigs, bytes(32)), rewrite={2: bad_partial})
    for h in (0, 1):
        assert isinstance(run.errors[h], ProtocolAborted)
        assert run.parties[h].error is run.errors[h]
    assert run.done(2)  # the cheater itself saw two good partial signatures


def test_seeded_runs_are_reproducible():
    shares = keygen(2, 3)
    a = go(presign_machines(shares, (0, 1), b"tests/adversarial repro", seed="r"), seed=1)
    b = go(presign_machines(shares, (0, 1), b"tests/adversarial repro", seed="r"), seed=2,
           batched=False)
    assert [r.raw for r in sorted(a.log, key=lambda r: (r.sender, r.round, r.recipients))] == \
        [r.raw for r in sorted(b.log, key=lambda r: (r.sender, r.round, r.recipients))]
    assert a.results[0].R == b.results[0].R
    assert SeededRng("x").bytes(4) == SeededRng("x").bytes(4)
