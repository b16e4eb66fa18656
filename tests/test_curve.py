"""secp256k1 points and scalars: group laws against coincurve, strict decoding."""

from __future__ import annotations

import secrets

import pytest
from coincurve import PrivateKey, PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tss.curve import (
    P_FIELD,
    G,
    Point,
    Q,
    base_mul,
    multi_mul,
    point_sum,
    scalar_from_bytes,
    scalar_to_bytes,
)
from tss.errors import DecodeError, UsageError

GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8
IDENTITY_BYTES = bytes(33)

scalars = st.integers(min_value=1, max_value=Q - 1)
any_ints = st.integers(min_value=-(2**300), max_value=2**300)


def _rand() -> int:
    return secrets.randbelow(Q - 1) + 1


def _cc(k: int) -> bytes:
    """k*G computed by coincurve directly, compressed."""
    return PublicKey.from_secret(k.to_bytes(32, "big")).format(compressed=True)


def _sqrt_exists(a: int) -> bool:
    a %= P_FIELD
    return a == 0 or pow(a, (P_FIELD - 1) // 2, P_FIELD) == 1


def _x_off_curve(start: int = 1) -> int:
    x = start
    while _sqrt_exists(x**3 + 7):
        x += 1
    return x


# ---------------------------------------------------------------------------------------------
# constants and basic properties


def test_generator() -> None:
    assert G.xy() == (GX, GY)
    assert G.to_bytes() == b"\x02" + GX.to_bytes(32, "big")  # GY is even
    assert G.has_even_y()
    assert G.x == GX
    assert G == Point.from_xy(GX, GY)
    assert G == base_mul(1)
    assert not G.is_identity


def test_identity() -> None:
    o = Point.identity()
    assert o.is_identity
    assert o.to_bytes() == IDENTITY_BYTES
    assert o == Point.identity()
    assert o != G
    assert -o == o
    assert o + o == o
    assert o - o == o
    assert o * 5 == o
    assert base_mul(0) == o
    assert base_mul(Q) == o
    assert G * 0 == o
    assert G * Q == o
    assert G - G == o
    with pytest.raises(UsageError):
        o.xy()
    with pytest.raises(UsageError):
        _ = o.x
    assert repr(o) == "Point(identity)"


def test_points_hash_by_value() -> None:
    a = base_mul(7)
    b = G * 7
    assert a == b and hash(a) == hash(b)
    assert len({a, b, G, Point.identity(), Point.identity()}) == 3
    assert a != a.to_bytes()


def test_mul_rejects_non_ints() -> None:
    with pytest.raises(TypeError):
        _ = G * True  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = G * 1.0  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = G + 1  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# group laws against coincurve


def test_base_mul_matches_coincurve() -> None:
    for k in [1, 2, 3, Q - 1, Q - 2, 2**255, _rand(), _rand()]:
        assert base_mul(k).to_bytes() == _cc(k)


def test_add_matches_coincurve() -> None:
    for _ in range(10):
        a, b = _rand(), _rand()
        expected = PublicKey.combine_keys([PublicKey(_cc(a)), PublicKey(_cc(b))]).format()
        assert (base_mul(a) + base_mul(b)).to_bytes() == expected
        assert (base_mul(a) + base_mul(b)).to_bytes() == _cc((a + b) % Q)


def test_mul_matches_coincurve() -> None:
    for _ in range(10):
        a, k = _rand(), _rand()
        expected = PublicKey(_cc(a)).multiply(k.to_bytes(32, "big")).format()
        assert (base_mul(a) * k).to_bytes() == expected
        assert (k * base_mul(a)).to_bytes() == expected


def test_neg_matches_coincurve() -> None:
    for _ in range(10):
        a = _rand()
        p = base_mul(a)
        assert (-p).to_bytes() == _cc(Q - a)
        assert -p == p * -1
        neg = -p
        assert -neg == p
        assert p + (-p) == Point.identity()
        assert (-p).x == p.x
        assert (-p).has_even_y() != p.has_even_y()


def test_doubling() -> None:
    p = base_mul(_rand())
    assert p + p == p * 2
    assert G + G == base_mul(2)


def test_identity_laws() -> None:
    p = base_mul(_rand())
    o = Point.identity()
    assert p + o == p
    assert o + p == p
    assert p - o == p
    assert o - p == -p


def test_mul_reduces_mod_q() -> None:
    p = base_mul(_rand())
    k = _rand()
    assert p * (k + Q) == p * k
    assert p * (k - Q) == p * k
    assert p * -k == -(p * k)
    assert base_mul(-k) == -base_mul(k)
    assert base_mul(k + 5 * Q) == base_mul(k)


@settings(max_examples=60, deadline=None)
@given(scalars, scalars)
def test_add_homomorphism_property(a: int, b: int) -> None:
    assert base_mul(a + b) == base_mul(a) + base_mul(b)
    assert base_mul(a - b) == base_mul(a) - base_mul(b)


@settings(max_examples=60, deadline=None)
@given(scalars, any_ints)
def test_scalar_mul_consistent_with_base_mul_property(p: int, k: int) -> None:
    assert base_mul(p) * k == base_mul(p * k)
    assert k * base_mul(p) == base_mul(k) * p


@settings(max_examples=40, deadline=None)
@given(scalars, scalars, scalars)
def test_associativity_and_commutativity_property(a: int, b: int, c: int) -> None:
    pa, pb, pc = base_mul(a), base_mul(b), base_mul(c)
    assert (pa + pb) + pc == pa + (pb + pc)
    assert pa + pb == pb + pa


# ---------------------------------------------------------------------------------------------
# point_sum and multi_mul


def test_point_sum_basic() -> None:
    a, b, c = (base_mul(_rand()) for _ in range(3))
    o = Point.identity()
    assert point_sum([]) == o
    assert point_sum([o]) == o
    assert point_sum([o, o]) == o
    assert point_sum([a]) == a
    assert point_sum([a, o]) == a
    assert point_sum([a, b, c]) == a + b + c
    assert point_sum(iter([a, b])) == a + b  # any iterable


def test_point_sum_with_cancelling_terms() -> None:
    a, b, c = (base_mul(_rand()) for _ in range(3))
    o = Point.identity()
    assert point_sum([a, -a]) == o
    assert point_sum([a, -a, o]) == o
    assert point_sum([a, b, -a]) == b
    assert point_sum([a, -a, b]) == b
    assert point_sum([b, a, -a]) == b
    assert point_sum([a, -a, b, -b]) == o
    assert point_sum([a, b, -(a + b)]) == o
    assert point_sum([a, b, -(a + b), c]) == c
    assert point_sum([a, a, -(a * 2)]) == o
    assert point_sum([a, a, -a]) == a
    assert point_sum([a, b, c, -a, -b, -c]) == o
    assert point_sum([a, -a, a, -a, a]) == a


def test_point_sum_many() -> None:
    ks = [_rand() for _ in range(30)]
    assert point_sum(base_mul(k) for k in ks) == base_mul(sum(ks))


def test_multi_mul() -> None:
    ps = [base_mul(_rand()) for _ in range(5)]
    ks = [_rand() for _ in range(5)]
    expected = Point.identity()
    for p, k in zip(ps, ks, strict=True):
        expected = expected + p * k
    assert multi_mul(ps, ks) == expected
    assert multi_mul([], []) == Point.identity()
    assert multi_mul([G], [0]) == Point.identity()
    assert multi_mul([Point.identity(), G], [3, 4]) == base_mul(4)
    assert multi_mul([G, G], [5, -5]) == Point.identity()
    assert multi_mul([G, G * 2], [2, Q - 1]) == Point.identity()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(scalars, any_ints), max_size=5))
def test_multi_mul_property(pairs: list[tuple[int, int]]) -> None:
    ps = [base_mul(p) for p, _ in pairs]
    ks = [k for _, k in pairs]
    assert multi_mul(ps, ks) == base_mul(sum(p * k for p, k in pairs))


def test_multi_mul_rejects_length_mismatch() -> None:
    # zip() alone would silently drop the unmatched tail
    with pytest.raises(UsageError):
        multi_mul([G, G * 2], [1])
    with pytest.raises(UsageError):
        multi_mul([G], [1, 2])


# ---------------------------------------------------------------------------------------------
# decoding points


def test_from_bytes_round_trip() -> None:
    for k in [1, 2, Q - 1, _rand(), _rand(), _rand()]:
        p = base_mul(k)
        data = p.to_bytes()
        assert len(data) == 33 and data[0] in (2, 3)
        assert Point.from_bytes(data) == p
        assert Point.from_bytes(bytearray(data)) == p
        assert Point.from_xy(*p.xy()) == p


def test_from_bytes_identity() -> None:
    with pytest.raises(DecodeError):
        Point.from_bytes(IDENTITY_BYTES)
    assert Point.from_bytes(IDENTITY_BYTES, allow_identity=True) == Point.identity()
    assert Point.from_bytes(Point.identity().to_bytes(), allow_identity=True).is_identity


@pytest.mark.parametrize("length", [0, 1, 32, 34, 64, 65])
def test_from_bytes_wrong_length(length: int) -> None:
    good = base_mul(_rand()).to_bytes()
    data = (good * 3)[:length]
    with pytest.raises(DecodeError):
        Point.from_bytes(data)
    with pytest.raises(DecodeError):
        Point.from_bytes(data, allow_identity=True)


def test_from_bytes_rejects_uncompressed() -> None:
    p = base_mul(_rand())
    x, y = p.xy()
    uncompressed = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    assert PublicKey(uncompressed).format() == p.to_bytes()  # coincurve would accept it
    with pytest.raises(DecodeError):
        Point.from_bytes(uncompressed)


@pytest.mark.parametrize("prefix", [0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0x12, 0x82, 0xFF])
def test_from_bytes_bad_prefix(prefix: int) -> None:
    good = G.to_bytes()
    with pytest.raises(DecodeError):
        Point.from_bytes(bytes([prefix]) + good[1:])
    with pytest.raises(DecodeError):
        Point.from_bytes(bytes([prefix]) + good[1:], allow_identity=True)


def test_from_bytes_zero_prefix_nonzero_x_is_not_identity() -> None:
    with pytest.raises(DecodeError):
        Point.from_bytes(b"\x00" + bytes(31) + b"\x01", allow_identity=True)
    with pytest.raises(DecodeError):
        Point.from_bytes(b"\x02" + bytes(32), allow_identity=True)


@pytest.mark.parametrize("x", [P_FIELD, P_FIELD + 1, P_FIELD + 7, 2**256 - 1])
@pytest.mark.parametrize("prefix", [2, 3])
def test_from_bytes_x_not_reduced(x: int, prefix: int) -> None:
    with pytest.raises(DecodeError):
        Point.from_bytes(bytes([prefix]) + x.to_bytes(32, "big"))


def test_from_bytes_x_not_reduced_even_if_reduced_x_is_on_curve() -> None:
    # find a small x on the curve, then offer x + p: must not decode as the point with x
    x = 1
    while not _sqrt_exists(x**3 + 7):
        x += 1
    assert x + P_FIELD < 2**256
    ok = Point.from_bytes(b"\x02" + x.to_bytes(32, "big"))
    assert ok.x == x
    with pytest.raises(DecodeError):
        Point.from_bytes(b"\x02" + (x + P_FIELD).to_bytes(32, "big"))


def test_from_bytes_x_not_on_curve() -> None:
    xs = [_x_off_curve(1), _x_off_curve(GX + 1), _x_off_curve(P_FIELD - 1000)]
    for x in xs:
        assert not _sqrt_exists(x**3 + 7)
        for prefix in (2, 3):
            with pytest.raises(DecodeError):
                Point.from_bytes(bytes([prefix]) + x.to_bytes(32, "big"))


@pytest.mark.parametrize(
    "data",
    [None, 0, 1, "", G.to_bytes().hex(), list(G.to_bytes()), memoryview(G.to_bytes()), G],
    ids=repr,
)
def test_from_bytes_non_bytes(data: object) -> None:
    with pytest.raises(DecodeError):
        Point.from_bytes(data)  # type: ignore[arg-type]


def test_from_xy_rejects_off_curve() -> None:
    with pytest.raises(DecodeError):
        Point.from_xy(GX, GY + 1)
    with pytest.raises(DecodeError):
        Point.from_xy(0, 0)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=33, max_size=33))
def test_from_bytes_random_bytes_property(data: bytes) -> None:
    try:
        p = Point.from_bytes(data)
    except DecodeError:
        return
    assert p.to_bytes() == data
    assert PublicKey(data).format() == data


# ---------------------------------------------------------------------------------------------
# scalars


@pytest.mark.parametrize("k", [1, 2, Q - 1, Q // 2, 2**255])
def test_scalar_round_trip(k: int) -> None:
    data = scalar_to_bytes(k)
    assert len(data) == 32
    assert scalar_from_bytes(data) == k
    assert scalar_from_bytes(bytearray(data)) == k
    assert PrivateKey(data).secret == data


def test_scalar_to_bytes_reduces() -> None:
    assert scalar_to_bytes(Q) == bytes(32)
    assert scalar_to_bytes(Q + 1) == scalar_to_bytes(1)
    assert scalar_to_bytes(-1) == scalar_to_bytes(Q - 1)


@pytest.mark.parametrize("k", [Q, Q + 1, 2**256 - 1, P_FIELD])
def test_scalar_from_bytes_rejects_unreduced(k: int) -> None:
    with pytest.raises(DecodeError):
        scalar_from_bytes(k.to_bytes(32, "big"))
    with pytest.raises(DecodeError):
        scalar_from_bytes(k.to_bytes(32, "big"), allow_zero=True)


def test_scalar_from_bytes_zero() -> None:
    with pytest.raises(DecodeError):
        scalar_from_bytes(bytes(32))
    assert scalar_from_bytes(bytes(32), allow_zero=True) == 0


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
def test_scalar_from_bytes_wrong_length(length: int) -> None:
    data = b"\x01" * length
    with pytest.raises(DecodeError):
        scalar_from_bytes(data)
    with pytest.raises(DecodeError):
        scalar_from_bytes(data, allow_zero=True)


@pytest.mark.parametrize("data", [None, 1, "00" * 32, [1] * 32], ids=repr)
def test_scalar_from_bytes_non_bytes(data: object) -> None:
    with pytest.raises(DecodeError):
        scalar_from_bytes(data)  # type: ignore[arg-type]
