"""End-to-end protection of protocol messages between the parties of one session.

The bus and the router carry only envelopes they cannot read, forge or replay:

* one directional key per ordered pair, ``k_ij = HKDF-SHA256(X25519(x_i, X_j), salt=sid,
  info="tss-node/p2p/v1" || i || j || X_i || X_j)``, from the fresh X25519 keys in the signed
  roster;
* every envelope is ChaCha20-Poly1305 under ``k_ij`` with a per-direction sequence number as
  nonce and the clear header as associated data: ``magic, sid, protocol, round, from, to, seq,
  kind``; so a message cannot be moved to another session, round, sender, recipient or position;
* a broadcast is additionally signed by its sender's Ed25519 identity key over ``sid`` and the
  whole ``tss.Message`` (the same signature in each of the n-1 sealed copies);
* the receiver drops an envelope whose ``(from, seq)`` it has already opened (a duplicate) and
  rejects anything that does not decrypt or whose inner message disagrees with the header.

The header's ``from`` and ``to`` are roster indices (one per party of the session). A party may
run more than one state machine in one session (a party in both committees of a reshare runs an
old-member and a new-member machine, with library ids ``old index`` and ``NEW_MEMBER_BASE +
new index``): ``owners`` maps every library id to the roster index of the party that runs it,
and the inner message's sender and recipient must belong to the header's ``from`` and ``to``.
Without ``owners`` a library id is the roster index.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

import tss

from .crypto import IdentityKey, hkdf, verify_ed25519, x25519_public_bytes

__all__ = ["Channel", "Peer", "EnvelopeError", "Header", "parse_header", "PROTO_CODES"]

MAGIC = b"TSE1"
HEADER = struct.Struct(">4s16sBBHHQB")
PROTO_CODES = {"keygen": 1, "presign": 2, "sign": 3, "refresh": 4, "reshare": 5}
_PROTO_NAMES = {v: k for k, v in PROTO_CODES.items()}
P2P, BCAST = 0, 1
_BCAST_LABEL = b"tss-node/bcast/v1"


class EnvelopeError(Exception):
    """An envelope that is malformed, not for us, or does not authenticate."""


@dataclass(frozen=True, slots=True)
class Header:
    sid: str
    protocol: str
    round: int
    sender: int
    recipient: int
    seq: int
    broadcast: bool

    def to_bytes(self) -> bytes:
        return HEADER.pack(MAGIC, uuid.UUID(self.sid).bytes, PROTO_CODES[self.protocol],
                           self.round, self.sender, self.recipient, self.seq,
                           BCAST if self.broadcast else P2P)


def parse_header(data: bytes) -> Header:
    if not isinstance(data, (bytes, bytearray)) or len(data) < HEADER.size + 16:
        raise EnvelopeError("envelope too short")
    magic, sid, proto, rnd, sender, rcpt, seq, kind = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise EnvelopeError("not an envelope")
    if proto not in _PROTO_NAMES or kind not in (P2P, BCAST) or rnd == 0:
        raise EnvelopeError("bad envelope header")
    return Header(str(uuid.UUID(bytes=sid)), _PROTO_NAMES[proto], rnd, sender, rcpt, seq,
                  kind == BCAST)


@dataclass(frozen=True, slots=True)
class Peer:
    index: int
    x25519: bytes      # 32-byte public key
    ed25519: str       # hex public key


class Channel:
    """The sealing and opening side of one party in one session."""

    def __init__(self, sid: str, me: int, x25519_private: X25519PrivateKey,
                 identity: IdentityKey, peers: list[Peer],
                 owners: dict[int, int] | None = None) -> None:
        self.sid = str(uuid.UUID(sid))
        self.owners = dict(owners) if owners is not None else None
        self._sid = uuid.UUID(sid).bytes
        self.me = me
        self.identity = identity
        self.peers = {p.index: p for p in peers if p.index != me}
        mine = x25519_public_bytes(x25519_private)
        self._send: dict[int, ChaCha20Poly1305] = {}
        self._recv: dict[int, ChaCha20Poly1305] = {}
        for j, p in self.peers.items():
            try:
                shared = x25519_private.exchange(X25519PublicKey.from_public_bytes(p.x25519))
            except ValueError:
                raise EnvelopeError(f"bad X25519 key of party {j}") from None
            self._send[j] = ChaCha20Poly1305(self._key(shared, me, j, mine, p.x25519))
            self._recv[j] = ChaCha20Poly1305(self._key(shared, j, me, p.x25519, mine))
        self._seq = dict.fromkeys(self.peers, 0)
        self._seen: set[tuple[int, int]] = set()

    def _key(self, shared: bytes, i: int, j: int, xi: bytes, xj: bytes) -> bytes:
        info = b"tss-node/p2p/v1" + i.to_bytes(2, "big") + j.to_bytes(2, "big") + xi + xj
        return hkdf(shared, salt=self._sid, info=info)

    @staticmethod
    def _nonce(seq: int) -> bytes:
        return b"\x00\x00\x00\x00" + seq.to_bytes(8, "big")

    def owner(self, machine: int | None) -> int | None:
        """The roster index of the party running library id ``machine``."""
        if machine is None:
            return None
        return machine if self.owners is None else self.owners.get(machine)

    def seal(self, msg: tss.Message) -> list[tuple[int, bytes]]:
        """The envelopes carrying ``msg``: one per recipient (n-1 for a broadcast)."""
        if self.owner(msg.sender) != self.me or msg.protocol not in PROTO_CODES:
            raise EnvelopeError("not a message of this party")
        raw = msg.to_bytes()
        if msg.recipient is None:
            sig = self.identity.sign(_BCAST_LABEL + self._sid + raw)
            plain = sig + raw
            targets = sorted(self.peers)
        else:
            to = self.owner(msg.recipient)
            if to not in self.peers:
                raise EnvelopeError("recipient is not a party of this session")
            plain = raw
            targets = [to]
        out = []
        for j in targets:
            seq = self._seq[j]
            self._seq[j] = seq + 1
            head = Header(self.sid, msg.protocol, msg.round, self.me, j, seq,
                          msg.recipient is None).to_bytes()
            out.append((j, head + self._send[j].encrypt(self._nonce(seq), plain, head)))
        return out

    def open(self, data: bytes) -> tss.Message | None:
        """The message inside ``data``; None for a duplicate; EnvelopeError if it is bad."""
        h = parse_header(data)
        if h.sid != self.sid:
            raise EnvelopeError("envelope of another session")
        if h.recipient != self.me:
            raise EnvelopeError("envelope for another party")
        if h.sender not in self.peers:
            raise EnvelopeError("envelope from a party outside the session")
        if (h.sender, h.seq) in self._seen:
            return None
        head = bytes(data[:HEADER.size])
        try:
            plain = self._recv[h.sender].decrypt(self._nonce(h.seq), bytes(data[HEADER.size:]),
                                                 head)
        except InvalidTag:
            raise EnvelopeError("envelope does not authenticate") from None
        if h.broadcast:
            if len(plain) < 64:
                raise EnvelopeError("broadcast without signature")
            sig, raw = plain[:64], plain[64:]
        else:
            sig, raw = b"", plain
        try:
            msg = tss.Message.from_bytes(raw)
        except tss.DecodeError as exc:
            raise EnvelopeError(f"undecodable message ({exc})") from None
        if (self.owner(msg.sender) != h.sender or msg.round != h.round
                or msg.protocol != h.protocol or (msg.recipient is None) != h.broadcast
                or (msg.recipient is not None and self.owner(msg.recipient) != self.me)):
            raise EnvelopeError("message does not match its envelope")
        if h.broadcast and not verify_ed25519(self.peers[h.sender].ed25519, sig,
                                              _BCAST_LABEL + self._sid + raw):
            raise EnvelopeError("broadcast signature does not verify")
        self._seen.add((h.sender, h.seq))
        return msg
