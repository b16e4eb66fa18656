"""Strict binary encoding for proofs: fixed field lists, every length checked, one canonical form.

Integers: sign byte (0 = non-negative, 1 = negative), 2-byte length, magnitude without leading
zeros (zero has length 0 and sign 0). Points: 33 bytes. Lists: 2-byte count then the items.
Anything else — trailing bytes, a non-canonical integer, a short read — is a DecodeError.
"""

from __future__ import annotations

from ..curve import POINT_BYTES, Point
from ..errors import DecodeError

MAX_INT_BYTES = 4096  # far above any legitimate field (N^2 at 3072 bits is 768 bytes)


class Writer:
    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def int(self, v: int) -> Writer:
        mag = abs(v).to_bytes((abs(v).bit_length() + 7) // 8, "big")
        if len(mag) > MAX_INT_BYTES:
            raise ValueError("integer too large to encode")
        self._parts.append(bytes([1 if v < 0 else 0]) + len(mag).to_bytes(2, "big") + mag)
        return self

    def ints(self, vs: list[int]) -> Writer:
        self._parts.append(len(vs).to_bytes(2, "big"))
        for v in vs:
            self.int(v)
        return self

    def point(self, p: Point) -> Writer:
        self._parts.append(p.to_bytes())
        return self

    def raw(self, data: bytes) -> Writer:
        self._parts.append(data)
        return self

    def blob(self, data: bytes) -> Writer:
        """Length-prefixed bytes (4-byte length)."""
        self._parts.append(len(data).to_bytes(4, "big") + data)
        return self

    def points(self, ps: list[Point]) -> Writer:
        self._parts.append(len(ps).to_bytes(2, "big"))
        for p in ps:
            self.point(p)
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError("expected bytes")
        self._data = bytes(data)
        self._pos = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise DecodeError("truncated data")
        out = self._data[self._pos:self._pos + n]
        self._pos += n
        return out

    def int(self) -> int:
        sign = self._take(1)[0]
        n = int.from_bytes(self._take(2), "big")
        mag = self._take(n)
        if sign > 1:
            raise DecodeError("bad integer sign byte")
        if n and mag[0] == 0:
            raise DecodeError("non-canonical integer (leading zero)")
        v = int.from_bytes(mag, "big")
        if v == 0 and sign:
            raise DecodeError("non-canonical integer (negative zero)")
        return -v if sign else v

    def ints(self, expected: int | None = None) -> list[int]:
        count = int.from_bytes(self._take(2), "big")
        if expected is not None and count != expected:
            raise DecodeError(f"expected {expected} items, got {count}")
        return [self.int() for _ in range(count)]

    def point(self, *, allow_identity: bool = False) -> Point:
        return Point.from_bytes(self._take(POINT_BYTES), allow_identity=allow_identity)

    def raw(self, n: int) -> bytes:
        return self._take(n)

    def blob(self, max_len: int = 1 << 22) -> bytes:
        n = int.from_bytes(self._take(4), "big")
        if n > max_len:
            raise DecodeError("field too long")
        return self._take(n)

    def points(self, expected: int | None = None, *, allow_identity: bool = False) -> list[Point]:
        count = int.from_bytes(self._take(2), "big")
        if expected is not None and count != expected:
            raise DecodeError(f"expected {expected} points, got {count}")
        return [self.point(allow_identity=allow_identity) for _ in range(count)]

    def end(self) -> None:
        if self._pos != len(self._data):
            raise DecodeError("trailing bytes")
