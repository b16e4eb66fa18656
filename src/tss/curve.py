"""secp256k1 points and scalars over libsecp256k1 (through coincurve).

Scalars are Python ints reduced mod ``Q``. :class:`Point` wraps a coincurve public key and adds
the point at infinity, which sums in the protocols can reach (a zero-sharing's constant term is
the identity by design). Decoding a point from a peer rejects the identity, points off the curve
and non-canonical encodings; decoding a scalar rejects values >= Q.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from coincurve import PublicKey

from .errors import DecodeError, UsageError
from .params import CURVE_ORDER

__all__ = ["Q", "P_FIELD", "Point", "G", "scalar_from_bytes", "scalar_to_bytes", "base_mul"]

Q = CURVE_ORDER
P_FIELD = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
POINT_BYTES = 33
_IDENTITY_BYTES = bytes(POINT_BYTES)


class Point:
    """A point of secp256k1, or the identity. Immutable; compares by value."""

    __slots__ = ("_pk", "_enc")

    def __init__(self, pk: PublicKey | None) -> None:
        self._pk = pk
        self._enc = pk.format(compressed=True) if pk is not None else _IDENTITY_BYTES

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def identity(cls) -> Point:
        return _IDENTITY

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_identity: bool = False) -> Point:
        """Decode 33 compressed bytes (or 33 zero bytes for the identity, if allowed)."""
        if not isinstance(data, (bytes, bytearray)):
            raise DecodeError("a point must be bytes")
        data = bytes(data)
        if len(data) != POINT_BYTES:
            raise DecodeError(f"a point is {POINT_BYTES} bytes, got {len(data)}")
        if data == _IDENTITY_BYTES:
            if allow_identity:
                return _IDENTITY
            raise DecodeError("the point at infinity is not allowed here")
        if data[0] not in (2, 3):
            raise DecodeError("a point must be in compressed form (prefix 02 or 03)")
        if int.from_bytes(data[1:], "big") >= P_FIELD:
            raise DecodeError("point x-coordinate is not reduced")
        try:
            pk = PublicKey(data)
        except (ValueError, TypeError) as exc:
            raise DecodeError("not a point on secp256k1") from exc
        if pk.format(compressed=True) != data:  # pragma: no cover - libsecp256k1 is canonical
            raise DecodeError("non-canonical point encoding")
        return cls(pk)

    @classmethod
    def from_xy(cls, x: int, y: int) -> Point:
        if not (isinstance(x, int) and isinstance(y, int) and 0 <= x < P_FIELD
                and 0 <= y < P_FIELD):
            raise DecodeError("point coordinates out of range")
        try:
            return cls(PublicKey.from_point(x, y))
        except (ValueError, TypeError) as exc:
            raise DecodeError("not a point on secp256k1") from exc

    # -- properties -----------------------------------------------------------------------------
    @property
    def is_identity(self) -> bool:
        return self._pk is None

    def to_bytes(self) -> bytes:
        return self._enc

    transcript_bytes = to_bytes

    def xy(self) -> tuple[int, int]:
        if self._pk is None:
            raise UsageError("the identity has no coordinates")
        return self._pk.point()

    @property
    def x(self) -> int:
        return self.xy()[0]

    def has_even_y(self) -> bool:
        return self._enc[0] == 2

    # -- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        if self._pk is None:
            return other
        if other._pk is None:
            return self
        try:
            return Point(PublicKey.combine_keys([self._pk, other._pk]))
        except ValueError:  # P + (-P)
            return _IDENTITY

    def __neg__(self) -> Point:
        if self._pk is None:
            return self
        flipped = bytes([self._enc[0] ^ 1]) + self._enc[1:]
        return Point(PublicKey(flipped))

    def __sub__(self, other: Point) -> Point:
        return self + (-other)

    def __mul__(self, k: int) -> Point:
        if not isinstance(k, int) or isinstance(k, bool):
            return NotImplemented
        k %= Q
        if k == 0 or self._pk is None:
            return _IDENTITY
        return Point(self._pk.multiply(k.to_bytes(32, "big")))

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and self._enc == other._enc

    def __hash__(self) -> int:
        return hash(self._enc)

    def __repr__(self) -> str:
        return "Point(identity)" if self._pk is None else f"Point({self._enc.hex()})"


_IDENTITY = Point(None)


def base_mul(k: int) -> Point:
    """k * G."""
    k %= Q
    if k == 0:
        return _IDENTITY
    return Point(PublicKey.from_valid_secret(k.to_bytes(32, "big")))


G = base_mul(1)


def point_sum(points: Iterable[Point]) -> Point:
    """Sum of points (one libsecp256k1 call when no identity is involved)."""
    keys = [p._pk for p in points if p._pk is not None]
    if not keys:
        return _IDENTITY
    if len(keys) == 1:
        return Point(keys[0])
    try:
        return Point(PublicKey.combine_keys(keys))
    except ValueError:
        # the total is the identity, or a partial sum was: add one at a time
        acc = _IDENTITY
        for k in keys:
            acc = acc + Point(k)
        return acc


def multi_mul(points: Sequence[Point], scalars: Sequence[int]) -> Point:
    """sum k_i * P_i."""
    if len(points) != len(scalars):
        raise UsageError("multi_mul needs as many scalars as points")
    return point_sum(p * k for p, k in zip(points, scalars))


def scalar_from_bytes(data: bytes, *, allow_zero: bool = False) -> int:
    """Decode a 32-byte big-endian scalar; reject values >= Q (and zero unless allowed)."""
    if not isinstance(data, (bytes, bytearray)) or len(data) != 32:
        raise DecodeError("a scalar is 32 bytes")
    k = int.from_bytes(data, "big")
    if k >= Q:
        raise DecodeError("scalar is not reduced mod the group order")
    if k == 0 and not allow_zero:
        raise DecodeError("scalar must not be zero")
    return k


def scalar_to_bytes(k: int) -> bytes:
    return (k % Q).to_bytes(32, "big")
