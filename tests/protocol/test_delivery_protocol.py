"""Driving the machines by hand: bytes only, any order, duplicates, late messages, messages that
are not for this run, equivocation and sticky errors."""

from __future__ import annotations

import dataclasses

import pytest
from protocol_support import (
    Net,
    check_signature,
    digest,
    drive,
    keygen,
    paillier_keys,
    presign_machines,
    shared_verification,
    sign_machines,
)

import tss
from tss import (
    Keygen,
    KeyShare,
    Message,
    Presign,
    Presignature,
    ProtocolAborted,
    Sign,
    UsageError,
)
from tss.randomness import SeededRng


# ----------------------------------------------------------------------------- bytes only
def route(raw, parties):
    """Who gets a message, read from the documented wire header (not from a decoded object)."""
    sender = int.from_bytes(raw[3:5], "big")
    recipient = int.from_bytes(raw[5:7], "big")
    return [p for p in parties if p != sender] if recipient == 0xFFFF else [recipient]


def exchange(machines):
    """Run machines to the end, moving only bytes between them, in a plain loop."""
    parties = list(machines)
    inboxes = {p: [] for p in parties}

    def post(outgoing):
        for m in outgoing:
            raw = m.to_bytes()
            assert type(raw) is bytes
            for p in route(raw, parties):
                inboxes[p].append(raw)

    for p in parties:
        post(machines[p].start())
    while any(inboxes.values()):
        for p in parties:
            while inboxes[p]:
                raw = inboxes[p].pop(0)
                post(machines[p].handle(Message.from_bytes(raw)))
    assert all(m.done for m in machines.values())
    return {p: m.result for p, m in machines.items()}


def test_parties_driven_by_hand_from_bytes_only():
    # full verification here (no shared_verification): every party checks every proof itself
    t, n = 2, 3
    keys = paillier_keys(n)
    sid = b"by hand: keygen"
    stored = {}  # what each party keeps between protocols: bytes only
    shares = exchange({i: Keygen(i, t, n, sid, paillier_key=keys[i], rng=SeededRng(f"hand-{i}"))
                       for i in range(n)})
    for i, share in shares.items():
        stored[i] = share.to_bytes()
    assert len({KeyShare.from_bytes(b).public_key for b in stored.values()}) == 1
    public_key = KeyShare.from_bytes(stored[0]).public_key

    signers = [0, 2]
    presigs = exchange({i: Presign(KeyShare.from_bytes(stored[i]), signers, b"by hand: presign",
                                   rng=SeededRng(f"hand-presign-{i}")) for i in signers})
    stored_pre = {i: p.to_bytes() for i, p in presigs.items()}
    assert Presignature.from_bytes(stored_pre[0]).R == Presignature.from_bytes(stored_pre[2]).R

    message = "signed by hand"
    sigs = exchange({i: Sign(Presignature.from_bytes(stored_pre[i]), digest(message))
                     for i in signers})
    assert sigs[0] == sigs[2]
    check_signature(sigs[0], public_key, message)


# ----------------------------------------------------------------------------- order
def test_keygen_in_random_order_with_duplicates():
    machines = {i: Keygen(i, 2, 3, b"random order keygen", paillier_key=k,
                          rng=SeededRng(f"ro-{i}")) for i, k in enumerate(paillier_keys(3))}
    with shared_verification():
        net = drive(machines, seed=12345, duplicate=True)
    shares = net.results()
    assert len({s.public_key for s in shares.values()}) == 1
    assert net.early > 0  # rounds were interleaved
    sig = tss.simulate_sign([shares[0], shares[1]], digest("random order"))
    check_signature(sig, shares[0].public_key, "random order")


def test_keygen_with_late_round_1_messages():
    late = 1
    machines = {i: Keygen(i, 2, 2, b"late keygen", paillier_key=k, rng=SeededRng(f"late-{i}"))
                for i, k in enumerate(paillier_keys(2))}
    with shared_verification():
        net = Net(machines, hold=lambda m: m.sender == late and m.round == 1).start()
        # everything but party 1's round-1 broadcast: only party 1 can move on
        while net.pending:
            net.deliver(net.pending.pop(0))
        assert [m.round for m in machines.values()] == [1, 2]
        assert net.early > 0  # party 1's round-2 messages reached party 0, which buffered them
        assert not net.errors
        net.run()
    shares = net.results()
    assert len({s.public_key for s in shares.values()}) == 1


def presign_and_sign(shares, net_options, message, sid):
    pre_net = drive(presign_machines(shares, sid, seed=sid.decode()), **net_options)
    presigs = pre_net.results()
    assert len({p.R for p in presigs.values()}) == 1
    sign_net = drive(sign_machines(list(presigs.values()), digest(message)), **net_options)
    sigs = sign_net.results()
    assert len(set(sigs.values())) == 1
    check_signature(next(iter(sigs.values())), shares[0].public_key, message)
    return pre_net, sign_net


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_presign_and_sign_in_random_order(seed):
    shares = keygen(2, 3)
    pre_net, _ = presign_and_sign(shares, {"seed": seed}, f"order {seed}",
                                  f"order {seed}".encode())
    if seed:
        assert pre_net.early > 0


def test_presign_and_sign_with_every_message_twice():
    shares = keygen(2, 3)
    pre_net, sign_net = presign_and_sign([shares[0], shares[2]], {"seed": 7, "duplicate": True},
                                         "twice", b"twice")
    # and once more, everything, after the end: duplicates change nothing
    for net in (pre_net, sign_net):
        before = {i: m.result.to_bytes() for i, m in net.machines.items()}
        for j, raw in list(net.delivered):
            assert net.machines[j].handle(Message.from_bytes(raw)) == []
        assert {i: m.result.to_bytes() for i, m in net.machines.items()} == before
        assert all(m.error is None for m in net.machines.values())


@pytest.mark.parametrize("late", [0, 2])
def test_presign_and_sign_with_late_round_1_messages(late):
    shares = keygen(2, 3)
    pre_net, sign_net = presign_and_sign(
        [shares[0], shares[2]], {"seed": late, "hold": lambda m: m.sender == late and m.round == 1},
        f"late {late}", f"late {late}".encode())
    assert pre_net.early > 0


def test_messages_delivered_before_start_are_buffered():
    shares = keygen(2, 3)
    machines = presign_machines([shares[0], shares[1]], b"before start")
    first = machines[0].start()
    for m in first:  # party 1 has not started yet
        assert machines[1].handle(m) == []
    net = Net(machines)
    net.post(machines[1].start())
    net.run()
    assert len({p.R for p in net.results().values()}) == 1


# ----------------------------------------------------------------------------- not for this run
def misuse_variants(machines):
    """(description, message) pairs that machine 1 must refuse with UsageError."""
    outgoing = {i: m.start() for i, m in machines.items()}
    bcast0 = next(m for m in outgoing[0] if m.is_broadcast)
    to1 = next(m for m in outgoing[0] if m.recipient == 1)
    to2 = next(m for m in outgoing[0] if m.recipient == 2)
    own = next(m for m in outgoing[1] if m.is_broadcast)
    variants = [
        ("another session", dataclasses.replace(bcast0, session_id=b"another session")),
        ("another session, p2p", dataclasses.replace(to1, session_id=bcast0.session_id + b"x")),
        ("another protocol: sign", dataclasses.replace(bcast0, protocol="sign")),
        ("another protocol: keygen", dataclasses.replace(to1, protocol="keygen")),
        ("unknown sender 3", dataclasses.replace(bcast0, sender=3)),
        ("unknown sender 9", dataclasses.replace(to1, sender=9)),
        ("own message", own),
        ("addressed to 2", to2),
        ("addressed to 5", dataclasses.replace(to1, recipient=5)),
        ("a round past the last", dataclasses.replace(bcast0, round=max(Presign.ROUNDS) + 1)),
        ("round 255", dataclasses.replace(to1, round=255)),
    ]
    return outgoing, variants


def test_messages_not_for_this_run_are_refused_and_change_nothing():
    shares = keygen(2, 3)
    machines = presign_machines(list(shares), b"misuse")
    outgoing, variants = misuse_variants(machines)
    target = machines[1]
    for name, msg in variants:
        with pytest.raises(UsageError):
            target.handle(msg)
        assert target.error is None, name
        assert target.round == 1 and not target.done, name
    for not_a_message in (outgoing[0][0].to_bytes(), None, "message"):
        with pytest.raises(UsageError):
            target.handle(not_a_message)
    with pytest.raises(UsageError):
        target.start()  # twice
    with pytest.raises(UsageError):
        _ = target.result  # not finished
    assert target.error is None
    # the run completes afterwards
    net = Net(machines)
    for msgs in outgoing.values():
        net.post(msgs)
    presigs = list(net.run().results().values())
    sig = tss.simulation.sign_with_presignatures(presigs, digest("after misuse"))
    check_signature(sig, shares[0].public_key, "after misuse")


def test_misuse_during_a_later_round_changes_nothing():
    shares = keygen(2, 3)
    machines = presign_machines([shares[0], shares[1]], b"misuse later")
    net = Net(machines, seed=3).start()
    # deliver until machine 1 is in round 3
    while machines[1].round < 3:
        net.deliver(net.pending.pop(0))
    stale = Message("presign", b"misuse later", 1, 0, None, b"stale")
    foreign = Message("presign", b"other", 3, 0, None, b"foreign")
    for m in (foreign, dataclasses.replace(foreign, session_id=b"misuse later", sender=2)):
        with pytest.raises(UsageError):
            machines[1].handle(m)
    # a different round-1 message from 0, after round 1 ran: equivocation, not a usage error
    with pytest.raises(ProtocolAborted) as info:
        machines[1].handle(stale)
    assert info.value.culprits == {0}
    assert machines[1].error is info.value


def test_keygen_refuses_a_p2p_message_in_its_broadcast_only_round():
    keys = paillier_keys(2)
    machines = {i: Keygen(i, 2, 2, b"p2p in round 1", paillier_key=keys[i],
                          rng=SeededRng(f"p2p-{i}")) for i in range(2)}
    out = {i: m.start() for i, m in machines.items()}
    with pytest.raises(UsageError):
        machines[0].handle(dataclasses.replace(out[1][0], recipient=0))
    assert machines[0].error is None
    with shared_verification():
        net = Net(machines)
        for msgs in out.values():
            net.post(msgs)
        shares = net.run().results()
    assert shares[0].public_key == shares[1].public_key


def test_presign_messages_are_refused_by_a_sign_machine():
    shares = keygen(2, 3)
    presigs = tss.simulate_presign([shares[0], shares[1]])
    sign = Sign(presigs[1], digest("x"))
    sign.start()
    for m in (Message("presign", presigs[0].session_id, 1, 0, None, bytes(32)),
              Message("sign", presigs[0].session_id, 2, 0, None, bytes(32)),
              Message("sign", presigs[0].session_id, 1, 0, 1, bytes(32))):
        with pytest.raises(UsageError):
            sign.handle(m)
    assert sign.error is None and not sign.done


# ----------------------------------------------------------------------------- equivocation
def test_two_messages_for_one_slot_abort_naming_the_sender_and_the_error_sticks():
    shares = keygen(2, 3)
    machines = presign_machines(list(shares), b"equivocation")
    outgoing = {i: m.start() for i, m in machines.items()}
    bcast2 = next(m for m in outgoing[2] if m.is_broadcast)
    target = machines[0]
    assert target.handle(bcast2) == []
    assert target.handle(bcast2) == []  # an exact duplicate is ignored
    other = dataclasses.replace(bcast2, payload=bcast2.payload + b"\x00")
    with pytest.raises(ProtocolAborted) as info:
        target.handle(other)
    err = info.value
    assert err.culprits == {2}
    assert err.round == "presign/1"
    assert target.error is err
    # sticky: every call raises that same error, whatever it is given
    calls = [
        lambda: target.handle(bcast2),
        lambda: target.handle(next(m for m in outgoing[1] if m.recipient == 0)),
        lambda: target.handle(dataclasses.replace(bcast2, session_id=b"other")),
        lambda: target.handle(b"not a message"),
        lambda: target.start(),
        lambda: target.result,
    ]
    for call in calls:
        with pytest.raises(ProtocolAborted) as again:
            call()
        assert again.value is err
    assert not target.done


def test_equivocating_p2p_message_is_named_too():
    shares = keygen(2, 3)
    machines = presign_machines([shares[0], shares[2]], b"p2p equivocation")
    outgoing = {i: m.start() for i, m in machines.items()}
    p2p = next(m for m in outgoing[2] if m.recipient == 0)
    machines[0].handle(p2p)
    flipped = bytearray(p2p.payload)
    flipped[-1] ^= 1
    with pytest.raises(ProtocolAborted) as info:
        machines[0].handle(dataclasses.replace(p2p, payload=bytes(flipped)))
    assert info.value.culprits == {2}
    with pytest.raises(ProtocolAborted) as again:
        machines[0].handle(p2p)
    assert again.value is info.value


def test_keygen_equivocation_is_sticky_too():
    keys = paillier_keys(2)
    machines = {i: Keygen(i, 2, 2, b"keygen equivocation", paillier_key=keys[i],
                          rng=SeededRng(f"keq-{i}")) for i in range(2)}
    out1 = machines[1].start()
    machines[0].handle(out1[0])
    with pytest.raises(ProtocolAborted) as info:
        machines[0].handle(dataclasses.replace(out1[0], payload=bytes(32)))
    assert info.value.culprits == {1}
    assert info.value.round == "keygen/1"
    with pytest.raises(ProtocolAborted) as again:
        machines[0].start()
    assert again.value is info.value
