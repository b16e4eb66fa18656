"""Join tokens, the end-to-end channel, rosters and reports, and the export encryption: each
accepts exactly what it should and nothing else."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import tss
from tss.node import tokens
from tss.node.bus.memory import MemoryBus
from tss.node.channel import Channel, EnvelopeError, Peer, parse_header
from tss.node.crypto import (
    CryptoError,
    IdentityKey,
    b64u,
    open_with_code,
    open_with_x25519,
    seal_to_code,
    seal_to_x25519,
    x25519_public_bytes,
)
from tss.node.run import RunFailed, sign_report, sign_roster, verify_report, verify_roster

COORD = IdentityKey()
SID = str(uuid.uuid4())


def _issue(**kw):
    args = {"sid": SID, "party_id": "phone", "idx": 0, "role": "mobile", "typ": "keygen",
            "n": 3, "t": 2, "ttl": 60.0}
    args.update(kw)
    return tokens.issue(COORD, **args)


def test_token_round_trip_and_binding():
    tok, claims = _issue()
    got = tokens.verify(tok, COORD.public_hex, sid=SID)
    assert got == claims and got["party_id"] == "phone" and len(got["jti"]) == 32
    with pytest.raises(tokens.TokenError) as e:
        tokens.verify(tok, COORD.public_hex, sid=str(uuid.uuid4()))
    assert e.value.status == 403 and e.value.code == "wrong_session"


def test_token_forged_or_expired():
    tok, _ = _issue()
    head, body, sig = tok.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["party_id"] = "server-party-1"
    forged = f"{head}.{b64u(json.dumps(claims).encode())}.{sig}"
    other, _ = tokens.issue(IdentityKey(), sid=SID, party_id="phone", idx=0, role="mobile",
                            typ="keygen", n=3, t=2, ttl=60)
    for bad in [forged, other, "v1.x.y", "", "v2." + tok[3:], tok + "A", "a.b", None, 5,
                "v1." + "A" * 3000]:
        with pytest.raises(tokens.TokenError) as e:
            tokens.verify(bad, COORD.public_hex)
        assert e.value.status == 401
    old, _ = _issue(ttl=-1)
    with pytest.raises(tokens.TokenError) as e:
        tokens.verify(old, COORD.public_hex)
    assert e.value.code == "token_expired"


def test_join_proof_and_single_use():
    tok, claims = _issue(ed25519=None)
    ident = IdentityKey()
    x = x25519_public_bytes(X25519PrivateKey.generate()).hex()
    binding = tokens.join_binding(SID, "phone", ident.public_hex, x)
    tokens.check_join(claims, ed25519=ident.public_hex, x25519=x,
                      signature=ident.sign(binding))
    with pytest.raises(tokens.TokenError):
        tokens.check_join(claims, ed25519=ident.public_hex, x25519=x,
                          signature=IdentityKey().sign(binding))
    pinned = dict(claims, ed25519=IdentityKey().public_hex)
    with pytest.raises(tokens.TokenError) as e:
        tokens.check_join(pinned, ed25519=ident.public_hex, x25519=x,
                          signature=ident.sign(binding))
    assert e.value.status == 403

    async def main() -> None:
        bus = MemoryBus()
        await tokens.claim(bus, claims, binding)
        await tokens.claim(bus, claims, binding)  # the same join again: fine
        with pytest.raises(tokens.TokenError) as e2:
            await tokens.claim(bus, claims, binding, strict=True)
        assert e2.value.status == 409
        with pytest.raises(tokens.TokenError):
            await tokens.claim(bus, claims, binding + b"other keys")
    asyncio.run(main())


def _pair():
    ids = [IdentityKey(), IdentityKey(), IdentityKey()]
    xs = [X25519PrivateKey.generate() for _ in ids]
    peers = [Peer(i, x25519_public_bytes(xs[i]), ids[i].public_hex) for i in range(3)]
    return [Channel(SID, i, xs[i], ids[i], peers) for i in range(3)], ids, xs, peers


def _msg(sender: int, recipient: int | None, payload: bytes = b"payload") -> tss.Message:
    return tss.Message("keygen", b"protocol-sid", 2, sender, recipient, payload)


def test_channel_p2p_and_broadcast():
    ch, *_ = _pair()
    [(to, env)] = ch[0].seal(_msg(0, 2))
    assert to == 2 and b"payload" not in env
    assert ch[2].open(env) == _msg(0, 2)
    assert ch[2].open(env) is None  # a duplicate is dropped
    with pytest.raises(EnvelopeError):
        ch[1].open(env)  # not for party 1
    copies = ch[1].seal(_msg(1, None))
    assert [t for t, _ in copies] == [0, 2]
    for t, env in copies:
        assert ch[t].open(env) == _msg(1, None)
        h = parse_header(env)
        assert h.broadcast and h.sender == 1 and h.recipient == t


def test_channel_rejects_tampering_and_replay_elsewhere():
    ch, ids, xs, peers = _pair()
    [(_, env)] = ch[0].seal(_msg(0, 1))
    flipped = bytearray(env)
    flipped[-5] ^= 1
    with pytest.raises(EnvelopeError):
        ch[1].open(bytes(flipped))
    # the header is authenticated: another round or sequence number does not open
    h = bytearray(env)
    h[21] ^= 1  # round
    with pytest.raises(EnvelopeError):
        ch[1].open(bytes(h))
    # the same parties in another session cannot open it
    other = Channel(str(uuid.uuid4()), 1, xs[1], ids[1], peers)
    with pytest.raises(EnvelopeError):
        other.open(env)
    # a broadcast whose signature is not the sender's is refused
    evil = Channel(SID, 0, xs[0], IdentityKey(), peers)
    [(_, forged)] = [c for c in evil.seal(_msg(0, None)) if c[0] == 1]
    with pytest.raises(EnvelopeError):
        ch[1].open(forged)
    for junk in [b"", b"TSE1" + b"\x00" * 60, b"x" * 100]:
        with pytest.raises(EnvelopeError):
            ch[1].open(junk)


def test_channel_with_two_machines_per_party():
    """Reshare: party 0 runs old member 0 and new member 0x8000, party 1 old member 1, party 2
    new member 0x8001. Envelopes go between parties; the inner ids must belong to them."""
    ids = [IdentityKey(), IdentityKey(), IdentityKey()]
    xs = [X25519PrivateKey.generate() for _ in ids]
    peers = [Peer(i, x25519_public_bytes(xs[i]), ids[i].public_hex) for i in range(3)]
    owners = {0: 0, 0x8000: 0, 1: 1, 0x8001: 2}
    ch = [Channel(SID, i, xs[i], ids[i], peers, owners=owners) for i in range(3)]

    def m(sender: int, recipient: int | None) -> tss.Message:
        return tss.Message("reshare", b"protocol-sid", 1, sender, recipient, b"x")
    [(to, env)] = ch[1].seal(m(1, 0x8000))
    assert to == 0 and ch[0].open(env) == m(1, 0x8000)
    copies = ch[0].seal(m(0x8000, None))
    assert [t for t, _ in copies] == [1, 2]
    assert ch[2].open(copies[1][1]) == m(0x8000, None)
    with pytest.raises(EnvelopeError):
        ch[0].seal(m(1, 0x8001))  # not one of party 0's machines
    with pytest.raises(EnvelopeError):
        ch[0].seal(m(0, 0x8000))  # its own machine: delivered locally, never sealed
    # party 1 cannot pass a message off as new member 0x8001 (party 2's)
    evil = Channel(SID, 1, xs[1], ids[1], peers, owners={**owners, 0x8001: 1})
    [(_, env)] = evil.seal(m(0x8001, 0))
    fresh = Channel(SID, 0, xs[0], ids[0], peers, owners=owners)  # seq 0 not seen yet
    with pytest.raises(EnvelopeError):
        fresh.open(env)


def test_key_info_round_trip():
    from tss.node.run import key_info_from_json, key_info_to_json

    shares = tss.simulate_keygen(2, 3)
    info = shares[1].public_info()
    d = key_info_to_json(info)
    assert key_info_from_json(d) == info
    for bad in ({**d, "public_shares": d["public_shares"][:2]}, {**d, "threshold": 4},
                {**d, "public_key": "00"}, {**d, "level": 99}, "nope", {**d, "points": [1, 1, 2]}):
        with pytest.raises(ValueError):
            key_info_from_json(bad)


def test_roster_and_report_signatures():
    ident = IdentityKey()
    x = "ab" * 32
    roster = {"sid": SID, "parties": [{"party_id": "p", "ed25519": ident.public_hex,
                                       "x25519": x, "index": 0}], "deadline": time.time()}
    signed = sign_roster(COORD, roster)
    assert verify_roster(signed, COORD.public_hex, sid=SID, party_id="p",
                         ed25519=ident.public_hex, x25519=x) == roster
    for kw in [{"sid": str(uuid.uuid4())}, {"party_id": "q"}, {"x25519": "cd" * 32}]:
        args = {"sid": SID, "party_id": "p", "ed25519": ident.public_hex, "x25519": x, **kw}
        with pytest.raises(RunFailed):
            verify_roster(signed, COORD.public_hex, **args)
    with pytest.raises(RunFailed):
        verify_roster(signed, IdentityKey().public_hex, sid=SID, party_id="p",
                      ed25519=ident.public_hex, x25519=x)
    rep = sign_report(ident, {"sid": SID, "kind": "result"})
    assert verify_report(rep, ident.public_hex) == {"sid": SID, "kind": "result"}
    rep["report"]["kind"] = "failed"
    assert verify_report(rep, ident.public_hex) is None
    assert verify_report({"junk": 1}, ident.public_hex) is None


def test_export_encryption():
    code = b"c" * 32
    blob = seal_to_code(code, b"bundle", b"ctx")
    assert open_with_code(code, blob, b"ctx") == b"bundle"
    with pytest.raises(CryptoError):
        open_with_code(code, blob, b"other ctx")
    with pytest.raises(CryptoError):
        open_with_code(b"d" * 32, blob, b"ctx")
    dev = X25519PrivateKey.generate()
    blob2 = seal_to_x25519(x25519_public_bytes(dev), b"bundle", b"ctx")
    assert open_with_x25519(dev, blob2, b"ctx") == b"bundle"
    with pytest.raises(CryptoError):
        open_with_x25519(X25519PrivateKey.generate(), blob2, b"ctx")


def test_invitations_are_sealed_to_the_party():
    from tss.node.party import open_invite, seal_invite

    key = X25519PrivateKey.generate()
    inv = {"sid": SID, **seal_invite(x25519_public_bytes(key).hex(), "v1.tok.sig", SID, "sp1")}
    assert "token" not in inv and "v1.tok" not in json.dumps(inv)
    assert open_invite(key, inv, "sp1") == "v1.tok.sig"
    with pytest.raises(CryptoError):
        open_invite(key, inv, "sp2")
    with pytest.raises(CryptoError):
        open_invite(X25519PrivateKey.generate(), inv, "sp1")
    assert open_invite(None, {"sid": SID, **seal_invite(None, "t", SID, "x")}, "x") == "t"
