"""One tampered message per round: every honest recipient aborts naming exactly its sender.

The cheater is party 1 of three. Its outgoing messages of one round are changed on the wire
(the same change for every recipient), and the run goes on for everybody else; each honest
party must raise ProtocolAborted with culprits == {1} in the round where the check lies.
Presign's blame rounds are also driven by cheaters that follow the protocol with a wrong delta_i
or S_i (subclasses of Presign, relying on its private attributes).

Delivery is mostly in synchronous rounds (``batched``); the last tests deliver one message at a
time, where one handle() call can complete a round and fail the next, buffered one.
"""

from __future__ import annotations

import dataclasses

import pytest
from protocol_support import (
    N_SECP256K1,
    Net,
    digest,
    drive,
    keygen,
    paillier_keys,
    presign_machines,
    shared_verification,
    sign_machines,
)

from tss import Keygen, Presign, ProtocolAborted, UsageError
from tss.curve import G, Point
from tss.randomness import SeededRng
from tss.simulation import simulate_presign
from tss.zk._codec import Reader, Writer

CHEATER = 1
HONEST = (0, 2)


def flip(data, pos=None):
    """``data`` with one byte (by default the middle one) changed."""
    pos = len(data) // 2 if pos is None else pos
    out = bytearray(data)
    out[pos] ^= 0x5A
    return bytes(out)


def tamper_with(round, broadcast, change):
    """A tamper function: ``change(payload)`` on the cheater's messages of that kind."""

    def tamper(msg):
        if msg.sender == CHEATER and msg.round == round and msg.is_broadcast == broadcast:
            return dataclasses.replace(msg, payload=change(msg.payload))
        return msg

    return tamper


def assert_blamed(net, culprit, where):
    for h in (j for j in net.machines if j != culprit):
        err = net.errors.get(h)
        assert isinstance(err, ProtocolAborted), f"party {h}: {err!r}"
        assert err.culprits == {culprit}, f"party {h}: {err}"
        assert err.round == where, f"party {h}: {err}"
        assert net.machines[h].error is err
        assert not net.machines[h].done


# ----------------------------------------------------------------------------- keygen
def blobs(r, count):
    return [r.blob() for _ in range(count)]


def keygen_r2_bcast(n, t, part):
    """Change one part of a keygen round-2 broadcast: 'sch', 'mod', 'prm' or 'chain'."""

    def change(payload):
        r = Reader(payload)
        echo = r.raw(32 * n)
        A = r.points(t, allow_identity=True)
        chain, rho = r.raw(32), r.raw(32)
        N, s, tt = r.int(), r.int(), r.int()
        sch_p, mod_p, prm_p = blobs(r, 3)
        r.end()
        if part == "sch":
            sch_p = flip(sch_p)
        elif part == "mod":
            mod_p = flip(mod_p)
        elif part == "prm":
            prm_p = flip(prm_p)
        elif part == "chain":
            chain = flip(chain)
        w = Writer().raw(echo).points(A).raw(chain).raw(rho).int(N).int(s).int(tt)
        return w.blob(sch_p).blob(mod_p).blob(prm_p).getvalue()

    return change


def keygen_r3_bcast_sch(n):
    def change(payload):
        r = Reader(payload)
        echo = r.raw(32 * n)
        (sch_p,) = blobs(r, 1)
        r.end()
        return Writer().raw(echo).blob(flip(sch_p)).getvalue()

    return change


def add_one_to_share(payload):
    return ((int.from_bytes(payload, "big") + 1) % N_SECP256K1).to_bytes(32, "big")


KEYGEN_CASES = {
    # name: (round, broadcast?, change, round of the abort)
    "r1 commitment": (1, True, lambda p: flip(p, 0), "keygen/2"),
    "r2 opening (chain code)": (2, True, keygen_r2_bcast(3, 2, "chain"), "keygen/2"),
    "r2 Πsch": (2, True, keygen_r2_bcast(3, 2, "sch"), "keygen/2"),
    "r2 Πmod": (2, True, keygen_r2_bcast(3, 2, "mod"), "keygen/2"),
    "r2 Πprm": (2, True, keygen_r2_bcast(3, 2, "prm"), "keygen/2"),
    "r2 Feldman share": (2, False, add_one_to_share, "keygen/2"),
    "r3 Πsch": (3, True, keygen_r3_bcast_sch(3), "keygen/3"),
    "r3 Πfac": (3, False, flip, "keygen/3"),
}


def keygen_machines(sid):
    keys = paillier_keys(3)
    return {i: Keygen(i, 2, 3, sid, paillier_key=keys[i], rng=SeededRng(sid + bytes([i])))
            for i in range(3)}


@pytest.mark.parametrize("case", list(KEYGEN_CASES))
def test_keygen_tampered_message_names_its_sender(case):
    round, broadcast, change, where = KEYGEN_CASES[case]
    machines = keygen_machines(f"blame keygen {case}".encode())
    with shared_verification():
        net = drive(machines, seed=len(case), batched=True,
                    tamper=tamper_with(round, broadcast, change))
    assert_blamed(net, CHEATER, where)


def test_keygen_round_1_equivocation_is_caught_by_the_echo():
    # the cheater's round-1 broadcast reaches party 0 as sent, and party 2 changed
    machines = keygen_machines(b"blame keygen equivocation")
    with shared_verification():
        net = Net(machines, seed=5, batched=True)
        outgoing = {i: m.start() for i, m in machines.items()}
        for i in HONEST:
            net.post(outgoing[i])
        (commitment,) = outgoing[CHEATER]
        net.post(machines[0].handle(commitment))
        net.post(machines[2].handle(dataclasses.replace(commitment,
                                                        payload=flip(commitment.payload, 0))))
        net.run()
    for h in HONEST:
        err = net.errors[h]
        assert isinstance(err, ProtocolAborted), err
        assert err.round == "keygen/2"
        # an echo mismatch shows that one of two parties equivocated, not which one
        assert CHEATER in err.culprits and err.culprits <= {0, 1, 2} - {h}


# ----------------------------------------------------------------------------- presign
# (layouts as of the presign with a blame round: r1 K, G | Πenc; r2 echo of r1, Gamma,
# (D, F, D^, F^) per peer | Πaff-g, Πaff-g, Πlog*; r3 echo of r2, delta, Delta | Πlog*;
# r4 mode, echo of r3, S.)
ECHO = 32 * 3  # one digest per signer
SIGNERS = 3


def swap_K_and_G(payload):
    r = Reader(payload)
    K, Gc = r.int(), r.int()
    r.end()
    return Writer().int(Gc).int(K).getvalue()


def presign_r2_bcast(part):
    def change(payload):
        echo, payload = payload[:ECHO], payload[ECHO:]
        r = Reader(payload)
        Gamma = r.point()
        answers = [[r.int() for _ in range(4)] for _ in range(SIGNERS - 1)]
        r.end()
        if part == "Gamma":
            Gamma = Gamma + G
        else:
            for a in answers:  # D <-> D^ in the answer to every recipient
                a[0], a[2] = a[2], a[0]
        w = Writer().raw(echo).point(Gamma)
        for a in answers:
            for c in a:
                w.int(c)
        return w.getvalue()

    return change


def presign_r2_p2p(index):
    """Flip a byte in the index-th of the three proofs of a round-2 p2p message."""

    def change(payload):
        r = Reader(payload)
        parts = blobs(r, 3)
        r.end()
        parts[index] = flip(parts[index])
        w = Writer()
        for p in parts:
            w.blob(p)
        return w.getvalue()

    return change


def presign_r3_bcast(part):
    def change(payload):
        echo, payload = payload[:ECHO], payload[ECHO:]
        r = Reader(payload)
        delta = r.int()
        Delta = r.point()
        r.end()
        if part == "delta":
            delta = (delta + 1) % N_SECP256K1
        else:
            Delta = Delta + G
        return Writer().raw(echo).int(delta).point(Delta).getvalue()

    return change


def presign_r4_bcast(part):
    def change(payload):
        mode, echo, S = payload[:1], payload[1:1 + 32 * SIGNERS], payload[1 + 32 * SIGNERS:]
        assert len(S) == 33
        if part == "mode":
            mode = b"\x01"
        elif part == "echo":  # the cheater's own slot: only it can be blamed for it
            echo = flip(echo, 32 * CHEATER + 5)
        elif part == "S malformed":
            S = b"\x05" + S[1:]
        elif part == "S":
            S = (Point.from_bytes(S) + G).to_bytes()
        return mode + echo + S

    return change


PRESIGN_CASES = {
    "r1 K (swapped with G)": (1, True, swap_K_and_G, "presign/1"),
    "r1 Πenc": (1, False, flip, "presign/1"),
    "r2 Gamma": (2, True, presign_r2_bcast("Gamma"), "presign/2"),
    "r2 MtA answers": (2, True, presign_r2_bcast("MtA"), "presign/2"),
    "r2 Πaff-g (gamma)": (2, False, presign_r2_p2p(0), "presign/2"),
    "r2 Πaff-g (w)": (2, False, presign_r2_p2p(1), "presign/2"),
    "r2 Πlog* (Gamma)": (2, False, presign_r2_p2p(2), "presign/2"),
    "r3 Delta": (3, True, presign_r3_bcast("Delta"), "presign/3"),
    "r3 Πlog* (Delta)": (3, False, flip, "presign/3"),
    "r4 mode": (4, True, presign_r4_bcast("mode"), "presign/4"),
    "r4 echo": (4, True, presign_r4_bcast("echo"), "presign/4"),
    "r4 S malformed": (4, True, presign_r4_bcast("S malformed"), "presign/4"),
}


def blame_presign_machines(name, cheater_class=None):
    shares = keygen(2, 3)
    sid = f"blame presign {name}".encode()
    machines = presign_machines(list(shares), sid)
    if cheater_class is not None:
        machines[CHEATER] = cheater_class(shares[CHEATER], list(range(SIGNERS)), sid,
                                          rng=SeededRng(sid))
    return machines


@pytest.mark.parametrize("case", list(PRESIGN_CASES))
def test_presign_tampered_message_names_its_sender(case):
    round, broadcast, change, where = PRESIGN_CASES[case]
    net = drive(blame_presign_machines(case), seed=len(case), batched=True,
                tamper=tamper_with(round, broadcast, change))
    assert_blamed(net, CHEATER, where)


class WrongDelta(Presign):
    """Broadcasts delta_i + 1 (and keeps it: its echo and blame round use the wrong value)."""

    def _round_2(self, bcast, p2p):
        out = super()._round_2(bcast, p2p)
        self._delta_i = (self._delta_i + 1) % N_SECP256K1
        echo = self._r3[self.index][:ECHO]
        payload = Writer().raw(echo).int(self._delta_i).point(self._Delta_i).getvalue()
        self._r3[self.index] = payload
        return [dataclasses.replace(m, payload=payload) if m.is_broadcast else m for m in out]


class WrongChi(Presign):
    """Uses chi_i + 1, so its S_i is wrong (and it follows the blame round with it)."""

    def _round_3(self, bcast, p2p):
        self._chi_i = (self._chi_i + 1) % N_SECP256K1
        return super()._round_3(bcast, p2p)


@pytest.mark.parametrize(("cheater", "where"), [(WrongDelta, "presign/4"),
                                                (WrongChi, "presign/5")],
                         ids=["wrong delta", "wrong S"])
def test_presign_blame_round_names_a_wrong_share(cheater, where):
    net = drive(blame_presign_machines(cheater.__name__, cheater), seed=1, batched=True)
    assert_blamed(net, CHEATER, where)
    assert "blame round" in net.errors[0].reason


def test_presign_wrong_delta_then_normal_branch_names_the_sender():
    # the cheater broadcasts a wrong delta but then carries on as if all were well
    net = drive(blame_presign_machines("delta, no blame"), seed=2, batched=True,
                tamper=tamper_with(3, True, presign_r3_bcast("delta")))
    assert_blamed(net, CHEATER, "presign/4")


def test_presign_wrong_S_then_silence_leaves_no_presignature():
    # the cheater's S is changed on the wire and it finishes: it never answers the blame round,
    # so the honest parties can only wait (a transport timeout must name the silent party)
    net = drive(blame_presign_machines("S, then silence"), seed=3, batched=True,
                tamper=tamper_with(4, True, presign_r4_bcast("S")))
    for h in HONEST:
        m = net.machines[h]
        assert not m.done and m.error is None and h not in net.errors
        assert m.round == 5
        with pytest.raises(UsageError):
            _ = m.result


# ----------------------------------------------------------------------------- sign
SIGN_CASES = {
    "s + 1": lambda p: ((int.from_bytes(p, "big") + 1) % N_SECP256K1).to_bytes(32, "big"),
    "s = q": lambda p: N_SECP256K1.to_bytes(32, "big"),
    "31 bytes": lambda p: p[:31],
}


@pytest.mark.parametrize("case", list(SIGN_CASES))
def test_sign_wrong_partial_signature_names_its_sender(case):
    shares = keygen(2, 3)
    presigs = simulate_presign(list(shares), session_id=f"blame sign {case}".encode())
    net = drive(sign_machines(presigs, digest(case)), batched=True,
                tamper=tamper_with(1, True, SIGN_CASES[case]))
    assert_blamed(net, CHEATER, "sign/1")
    assert all(p.consumed for p in presigs)


# ----------------------------------------------------------------------------- delivery order
def test_blame_does_not_depend_on_delivery_order():
    # party 0 gets every round-2 message (the cheater's tampered) before its last round-1
    # message; that one call runs round 1 (making 0's round-2 messages) and then round 2, which
    # fails. Party 2 needs 0's round-2 messages to reach its own verdict, so the call must
    # still hand them out (and keep the error).
    machines = blame_presign_machines("order")
    net = drive(machines, tamper=tamper_with(2, True, presign_r2_bcast("Gamma")),
                hold=lambda m: m.sender == 2 and m.round == 1 and m.recipient == 0)
    assert_blamed(net, CHEATER, "presign/2")
    # the error kept by that call is raised by every later one
    err = machines[0].error
    with pytest.raises(ProtocolAborted) as again:
        machines[0].start()
    assert again.value is err


def test_blame_with_messages_one_at_a_time_when_nobody_runs_ahead():
    # the same tamper, messages in random order one at a time, but the round-2 messages held
    # until nothing else is pending: everyone completes round 1 before anyone aborts in round 2
    net = drive(blame_presign_machines("order, held"), seed=11,
                tamper=tamper_with(2, True, presign_r2_bcast("Gamma")),
                hold=lambda m: m.round == 2)
    assert_blamed(net, CHEATER, "presign/2")


@pytest.mark.parametrize("seed", [21, 22])
def test_blame_with_messages_one_at_a_time(seed):
    net = drive(blame_presign_machines(f"one at a time {seed}"), seed=seed,
                tamper=tamper_with(3, True, presign_r3_bcast("Delta")))
    assert_blamed(net, CHEATER, "presign/3")
