"""Protocol messages and their versioned, canonical wire encoding.

Layout (all integers big-endian)::

    version  u8   (1)
    protocol u8   (1 keygen, 2 presign, 3 sign, 4 refresh, 5 reshare)
    round    u8
    sender   u16
    recipient u16 (0xFFFF = broadcast)
    sid_len  u8, sid bytes (1..64)
    payload_len u32, payload bytes (at most MAX_PAYLOAD)

Decoding is strict: any other length, value or trailing byte is a :class:`tss.DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DecodeError, UsageError

__all__ = ["Message", "PROTOCOLS", "BROADCAST"]

VERSION = 1
BROADCAST = 0xFFFF
MAX_PAYLOAD = 1 << 22  # 4 MiB: far above any round of any supported size
MAX_SID = 64
PROTOCOLS = {"keygen": 1, "presign": 2, "sign": 3, "refresh": 4, "reshare": 5}
_NAMES = {v: k for k, v in PROTOCOLS.items()}


@dataclass(frozen=True, slots=True)
class Message:
    """One message of one round. ``recipient`` None means broadcast to every other party."""

    protocol: str
    session_id: bytes
    round: int
    sender: int
    recipient: int | None
    payload: bytes

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise UsageError(f"unknown protocol {self.protocol!r}")
        if not isinstance(self.session_id, bytes) or not 1 <= len(self.session_id) <= MAX_SID:
            raise UsageError(f"session id must be 1..{MAX_SID} bytes")
        if not 1 <= self.round <= 255:
            raise UsageError("round out of range")
        if not 0 <= self.sender < BROADCAST:
            raise UsageError("sender out of range")
        if self.recipient is not None and not 0 <= self.recipient < BROADCAST:
            raise UsageError("recipient out of range")
        if not isinstance(self.payload, bytes) or len(self.payload) > MAX_PAYLOAD:
            raise UsageError("payload must be bytes of at most 4 MiB")

    @property
    def is_broadcast(self) -> bool:
        return self.recipient is None

    def to_bytes(self) -> bytes:
        rcpt = BROADCAST if self.recipient is None else self.recipient
        return b"".join((
            bytes([VERSION, PROTOCOLS[self.protocol], self.round]),
            self.sender.to_bytes(2, "big"), rcpt.to_bytes(2, "big"),
            bytes([len(self.session_id)]), self.session_id,
            len(self.payload).to_bytes(4, "big"), self.payload,
        ))

    @classmethod
    def from_bytes(cls, data: bytes) -> Message:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError("a message must be bytes")
        data = bytes(data)
        if len(data) < 13:
            raise DecodeError("message too short")
        if data[0] != VERSION:
            raise DecodeError(f"unsupported message version {data[0]}")
        proto = _NAMES.get(data[1])
        if proto is None:
            raise DecodeError("unknown protocol code")
        rnd = data[2]
        if rnd == 0:
            raise DecodeError("round 0 does not exist")
        sender = int.from_bytes(data[3:5], "big")
        rcpt = int.from_bytes(data[5:7], "big")
        if sender == BROADCAST:
            raise DecodeError("bad sender")
        slen = data[7]
        if not 1 <= slen <= MAX_SID:
            raise DecodeError("bad session id length")
        pos = 8 + slen
        if len(data) < pos + 4:
            raise DecodeError("message truncated")
        sid = data[8:pos]
        plen = int.from_bytes(data[pos:pos + 4], "big")
        if plen > MAX_PAYLOAD:
            raise DecodeError("payload too large")
        if len(data) != pos + 4 + plen:
            raise DecodeError("message length does not match its header")
        return cls(proto, sid, rnd, sender, None if rcpt == BROADCAST else rcpt,
                   data[pos + 4:])

    def __repr__(self) -> str:
        to = "all" if self.recipient is None else self.recipient
        return (f"Message({self.protocol} r{self.round} {self.sender}->{to}, "
                f"{len(self.payload)} bytes)")
