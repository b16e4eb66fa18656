"""Property-based fuzzing of whole runs: keygen (2-of-3), presign (2 signers) and sign.

For any message of any round of an honest run, one mutation on the wire — bit flips,
truncation, extension, a stretch of another message spliced in, a replay from another session
or from another party, duplication, reordering, or damage to the encoded header — and then:

* every honest party either finishes with exactly the result of the unmutated run, or raises a
  ``tss.TssError``; a ``ProtocolAborted`` names the sender of the mutated message and nobody
  else — except an echo mismatch, which by its nature names the sender and the one party whose
  broadcast the sender misreported (attacks.md A-13; docs/security.md);
* nothing but ``TssError`` escapes (any other exception fails the test), and the run ends
  (the harness bounds the number of deliveries);
* an honest party may be left waiting only when the mutation cost it a message (the bytes were
  refused as not for this run, dropped by the transport, or addressed elsewhere) or when
  another party fell silent because it finished or aborted; a deadline of the node system ends
  such a session. A run where everybody waits and nobody failed would fail the test.

The machines are seeded, so the unmutated run is the same every time and its results are the
reference. ``max_examples`` is small to keep the suite fast; the long run is
``HYPOTHESIS_PROFILE=long`` (see fuzz/README.md).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import random

from harness import (
    Run,
    fresh_presignatures,
    go,
    keygen,
    keygen_machines,
    keygen_run,
    presign_machines,
    sign_machines,
    snapshot,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tss import Message, ProtocolAborted, TssError

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"


def budget(n: int):
    return settings(max_examples=n * 20 if LONG else n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


PAYLOAD_KINDS = ["payload bit flips", "payload truncated", "payload extended",
                 "field from another message", "replayed from another session",
                 "replayed from another party", "duplicated", "reordered"]
WIRE_KINDS = ["wire bit flips", "wire truncated", "wire extended", "header field"]
KINDS = PAYLOAD_KINDS + WIRE_KINDS


# ------------------------------------------------------------------ the reference runs
def _key(rec):
    m = rec.message
    return (m.sender, m.round, m.recipient)


class Protocol:
    """How to make the machines of one protocol, its reference run and a run of another
    session (for replays)."""

    def __init__(self, name, make, make_other, compare):
        self.name, self.make, self.make_other, self.compare = name, make, make_other, compare

    @functools.cached_property
    def reference(self) -> Run:
        run = go(self.make())
        assert not run.errors and all(run.done(i) for i in run.parties)
        return run

    @functools.cached_property
    def other(self) -> Run:
        run = self.make_other()
        assert not run.errors
        return run

    @functools.cached_property
    def targets(self) -> list[tuple[int, int, int | None]]:
        return sorted({_key(r) for r in self.reference.log},
                      key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2]))


def _keygen_make(sid=b"tests/adversarial fuzz keygen"):
    return keygen_machines(2, 3, sid, seed="tests/adversarial fuzz keygen")


def _presign_make(sid=b"tests/adversarial fuzz presign"):
    return presign_machines(keygen(2, 3), (0, 1), sid, seed="tests/adversarial fuzz presign")


def _sign_make(tag="fuzz sign"):
    return sign_machines(fresh_presignatures(2, 3, (0, 1), tag=tag), b"\x17" * 32)


PROTOCOLS = {
    "keygen": Protocol("keygen", _keygen_make, lambda: keygen_run(2, 3),
                       lambda a, b: a.to_bytes() == b.to_bytes()),
    "presign": Protocol("presign", _presign_make,
                        lambda: go(_presign_make(b"tests/adversarial fuzz presign other")),
                        lambda a, b: snapshot(a) == snapshot(b)),
    "sign": Protocol("sign", _sign_make, lambda: go(_sign_make("fuzz sign other")),
                     lambda a, b: a == b),
}


# ------------------------------------------------------------------ mutations
def _flip_bits(data: bytes, rnd: random.Random) -> bytes:
    if not data:
        return b"\x00"
    out = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(len(out) * 8)
        out[i // 8] ^= 1 << (i % 8)
    return bytes(out)


def mutate(kind, msg: Message, rnd: random.Random, proto: Protocol):
    p = msg.payload
    same_slot = [r.message for r in proto.reference.log
                 if r.round == msg.round and r.is_broadcast == msg.is_broadcast
                 and r.sender != msg.sender]
    if kind == "payload bit flips":
        return dataclasses.replace(msg, payload=_flip_bits(p, rnd))
    if kind == "payload truncated":
        return dataclasses.replace(msg, payload=p[:rnd.randrange(len(p))] if p else b"")
    if kind == "payload extended":
        return dataclasses.replace(msg, payload=p + rnd.randbytes(rnd.randint(1, 64)))
    if kind == "field from another message":
        other = rnd.choice(same_slot).payload
        n = min(len(p), len(other))
        i = rnd.randrange(n)
        j = rnd.randrange(i, n + 1)
        return dataclasses.replace(msg, payload=p[:i] + other[i:j] + p[j:])
    if kind == "replayed from another session":
        olds = [r.message for r in proto.other.log if _key(r) == _key_of(msg)]
        old = olds[0]
        if rnd.random() < 0.5:
            return old.to_bytes()  # with its own session id: not for this run
        return dataclasses.replace(msg, payload=old.payload)
    if kind == "replayed from another party":
        same_to = [m for m in same_slot if m.recipient == msg.recipient] or same_slot
        return dataclasses.replace(msg, payload=rnd.choice(same_to).payload)
    if kind == "duplicated":
        return [msg, msg]
    if kind == "reordered":
        return msg
    raw = msg.to_bytes()
    if kind == "wire bit flips":
        return _flip_bits(raw, rnd)
    if kind == "wire truncated":
        return raw[:rnd.randrange(len(raw))]
    if kind == "wire extended":
        return raw + rnd.randbytes(rnd.randint(1, 16))
    if kind == "header field":
        out = bytearray(raw)
        pos = rnd.choice([0, 1, 2, 5, 6, 7, 8, 8 + len(msg.session_id)])
        out[pos] ^= 1 << rnd.randrange(8)
        return bytes(out)
    raise ValueError(kind)


def _key_of(m: Message):
    return (m.sender, m.round, m.recipient)


# ------------------------------------------------------------------ one fuzzed run
def fuzz_once(proto: Protocol, target, kind, seed):
    reference = proto.reference
    sender, rnd_no, recipient = target
    rnd = random.Random(seed)
    done = {"hit": False}

    def rewrite(msg):
        if done["hit"] or (msg.round, msg.recipient) != (rnd_no, recipient):
            return msg
        done["hit"] = True
        return mutate(kind, msg, rnd, proto)

    hold = None
    batched = rnd.random() < 0.7
    if kind == "reordered":
        batched = False
        hold = lambda rec: (rec.sender, rec.round) == (sender, rnd_no)  # noqa: E731
    run = Run(proto.make(), rewrite={sender: rewrite}, seed=seed, batched=batched, hold=hold,
              max_deliveries=5_000)
    run.go()
    assert done["hit"], "the targeted message was never sent"
    misrouted = kind in WIRE_KINDS or bool(run.refused) or bool(run.dropped)
    for h in run.honest:
        # a party that finished or failed sends nothing more: the others may wait for it
        silent = [i for i in run.parties if i != h and (run.done(i) or i in run.errors)]
        if run.done(h):
            assert proto.compare(run.results[h], reference.results[h]), (
                f"party {h} finished with another result after {kind} of {target}")
        elif h in run.errors:
            err = run.errors[h]
            assert isinstance(err, TssError)
            if isinstance(err, ProtocolAborted):
                if err.reason.startswith("echo mismatch"):
                    assert sender in err.culprits and len(err.culprits) <= 2, err
                else:
                    assert err.culprits == {sender}, f"{kind} of {target}: {err}"
        else:
            assert misrouted or silent, (
                f"party {h} waits forever after {kind} of {target} (round {run.parties[h].round})")
    return run


def _draw_and_run(protocol, data):
    proto = PROTOCOLS[protocol]  # the reference run is made on first use, once per session
    target = data.draw(st.sampled_from(proto.targets), label="message (sender, round, to)")
    kind = data.draw(st.sampled_from(KINDS), label="mutation")
    seed = data.draw(st.integers(0, 2 ** 32), label="seed")
    fuzz_once(proto, target, kind, seed)


@budget(25)
@given(data=st.data())
def test_fuzz_sign_runs(data):
    _draw_and_run("sign", data)


@budget(15)
@given(data=st.data())
def test_fuzz_presign_runs(data):
    _draw_and_run("presign", data)


@budget(12)
@given(data=st.data())
def test_fuzz_keygen_runs(data):
    _draw_and_run("keygen", data)


def test_fuzz_every_kind_on_every_sign_message():
    """A deterministic sweep so that every mutation kind runs on every message at least once
    per session (signing is one round: cheap)."""
    proto = PROTOCOLS["sign"]
    for target in proto.targets:
        for i, kind in enumerate(KINDS):
            fuzz_once(proto, target, kind, i)
