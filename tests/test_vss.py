"""Feldman VSS: dealing, share verification, interpolation and evaluation-point checks."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Sequence

import pytest

from tss.curve import G, Point, Q, base_mul, point_sum
from tss.errors import UsageError
from tss.randomness import SeededRng
from tss.vss import check_points, commitment_at, deal, degree, lagrange_at_zero, verify_share

SHAPES = [(1, 1), (1, 3), (2, 2), (2, 3), (3, 3), (3, 5), (4, 7), (5, 5)]


def _rand() -> int:
    return secrets.randbelow(Q - 1) + 1


def _interpolate(points: Sequence[int], values: Sequence[int]) -> int:
    return sum(lagrange_at_zero(points, x) * v for x, v in zip(points, values, strict=True)) % Q


def _subsets(n: int, k: int, limit: int = 40) -> list[tuple[int, ...]]:
    return list(itertools.islice(itertools.combinations(range(n), k), limit))


def test_degree() -> None:
    assert degree(1) == 0
    assert degree(2) == 1
    assert degree(10) == 9
    for bad in (0, -1):
        with pytest.raises(UsageError):
            degree(bad)


@pytest.mark.parametrize(("t", "n"), SHAPES)
def test_deal_and_verify(t: int, n: int) -> None:
    secret = _rand()
    points = list(range(1, n + 1))
    commitments, shares = deal(secret, t, points)
    assert len(commitments) == t
    assert len(shares) == n
    assert commitments[0] == base_mul(secret)
    for x, s in zip(points, shares, strict=True):
        assert 0 <= s < Q
        assert verify_share(commitments, t, x, s)
        assert commitment_at(commitments, x) == base_mul(s)


@pytest.mark.parametrize(("t", "n"), SHAPES)
def test_any_t_shares_interpolate_the_secret(t: int, n: int) -> None:
    secret = _rand()
    points = list(range(1, n + 1))
    _, shares = deal(secret, t, points)
    for subset in _subsets(n, t):
        xs = [points[i] for i in subset]
        assert _interpolate(xs, [shares[i] for i in subset]) == secret
    # more than t shares also interpolate the secret
    if n > t:
        assert _interpolate(points, shares) == secret


@pytest.mark.parametrize(("t", "n"), [s for s in SHAPES if s[0] >= 2])
def test_t_minus_one_shares_do_not(t: int, n: int) -> None:
    secret = _rand()
    points = list(range(1, n + 1))
    _, shares = deal(secret, t, points)
    for subset in _subsets(n, t - 1):
        xs = [points[i] for i in subset]
        assert _interpolate(xs, [shares[i] for i in subset]) != secret


def test_lagrange_coefficients_sum_to_one() -> None:
    for points in ([1], [1, 2], [3, 7, 11], [5, 1, 9, 2], [_rand() for _ in range(6)]):
        assert sum(lagrange_at_zero(points, x) for x in points) % Q == 1


def test_lagrange_in_the_exponent() -> None:
    secret = _rand()
    points = [2, 5, 9]
    commitments, shares = deal(secret, 3, points)
    public = point_sum(
        base_mul(s) * lagrange_at_zero(points, x) for x, s in zip(points, shares, strict=True)
    )
    assert public == commitments[0]


def test_lagrange_rejects_bad_input() -> None:
    with pytest.raises(UsageError):
        lagrange_at_zero([1, 2, 3], 4)
    with pytest.raises(UsageError):
        lagrange_at_zero([1, 2, 2], 1)
    with pytest.raises(UsageError):
        lagrange_at_zero([0, 1], 1)
    with pytest.raises(UsageError):
        lagrange_at_zero([1, 1 + Q], 1)


def test_deal_reduces_secret() -> None:
    _, shares = deal(Q + 5, 2, [1, 2])
    assert _interpolate([1, 2], shares) == 5
    _, shares = deal(-1, 2, [1, 2])
    assert _interpolate([1, 2], shares) == Q - 1


def test_deal_with_seeded_rng_is_reproducible() -> None:
    a = deal(42, 3, [1, 2, 3, 4], rng=SeededRng(b"vss"))
    b = deal(42, 3, [1, 2, 3, 4], rng=SeededRng(b"vss"))
    c = deal(42, 3, [1, 2, 3, 4], rng=SeededRng(b"vss2"))
    assert a == b
    assert a[1] != c[1]


def test_deal_is_randomised() -> None:
    _, s1 = deal(42, 2, [1, 2])
    _, s2 = deal(42, 2, [1, 2])
    assert s1 != s2


# ---------------------------------------------------------------------------------------------
# verify_share failures


@pytest.fixture
def dealing() -> tuple[int, list[int], list[Point], list[int]]:
    t, points = 3, [1, 2, 3, 4, 5]
    commitments, shares = deal(_rand(), t, points)
    return t, points, commitments, shares


def test_verify_share_tampered_share(dealing) -> None:
    t, points, commitments, shares = dealing
    for x, s in zip(points, shares, strict=True):
        for bad in ((s + 1) % Q, (s - 1) % Q, (s * 2) % Q, 0):
            assert not verify_share(commitments, t, x, bad)


def test_verify_share_wrong_point(dealing) -> None:
    t, points, commitments, shares = dealing
    assert not verify_share(commitments, t, points[1], shares[0])
    assert not verify_share(commitments, t, 6, shares[0])


def test_verify_share_tampered_commitments(dealing) -> None:
    t, points, commitments, shares = dealing
    for i in range(t):
        bad = list(commitments)
        bad[i] = bad[i] + G
        assert not verify_share(bad, t, points[0], shares[0])
    swapped = [commitments[1], commitments[0], *commitments[2:]]
    # (at x = 1 a swap of A_0 and A_1 leaves the sum unchanged: check at x = 2)
    assert not verify_share(swapped, t, points[1], shares[1])


def test_verify_share_wrong_number_of_commitments(dealing) -> None:
    t, points, commitments, shares = dealing
    x, s = points[0], shares[0]
    # t + 1: an identity appended leaves sum A_k x^k unchanged, so only the count catches it
    longer = [*commitments, Point.identity()]
    assert commitment_at(longer, x) == base_mul(s)
    assert not verify_share(longer, t, x, s)
    assert not verify_share(commitments, t + 1, x, s)
    # t - 1
    assert not verify_share(commitments[:-1], t, x, s)
    assert not verify_share(commitments, t - 1, x, s)
    assert not verify_share([], t, x, s)


def test_verify_share_out_of_range(dealing) -> None:
    t, points, commitments, shares = dealing
    x, s = points[0], shares[0]
    # s + q would pass s*G == f(x)*G: the range check must reject it
    assert base_mul(s + Q) == base_mul(s)
    assert not verify_share(commitments, t, x, s + Q)
    assert not verify_share(commitments, t, x, s - Q)
    assert not verify_share(commitments, t, x, Q)
    assert not verify_share(commitments, t, x, -1)


def test_verify_share_at_threshold_one() -> None:
    commitments, shares = deal(77, 1, [1, 2, 3])
    assert shares == [77, 77, 77]
    assert all(verify_share(commitments, 1, x, 77) for x in (1, 2, 3))
    assert not verify_share(commitments, 1, 1, 78)


# ---------------------------------------------------------------------------------------------
# evaluation points


@pytest.mark.parametrize("points", [[1], [1, 2, 3], [Q - 1, 1], [_rand() for _ in range(5)], []])
def test_check_points_accepts(points: list[int]) -> None:
    check_points(points)


@pytest.mark.parametrize(
    "points",
    [[0], [1, 0], [Q], [2, Q], [2 * Q], [-Q], [1, 1], [1, 2, 1], [5, 5 + Q], [5 + Q, 5],
     [7, 7 - Q], [Q - 1, -1], [3, 3 + 5 * Q]],
    ids=repr,
)
def test_check_points_rejects(points: list[int]) -> None:
    with pytest.raises(UsageError):
        check_points(points)
    with pytest.raises(UsageError):
        deal(1, 1, points)


@pytest.mark.parametrize("bad", [1.0, "1", b"\x01", True, False, None, [1]], ids=repr)
def test_check_points_rejects_non_int(bad: object) -> None:
    with pytest.raises(UsageError):
        check_points([2, bad])  # type: ignore[list-item]
    with pytest.raises(UsageError):
        deal(1, 1, [2, bad])  # type: ignore[list-item]


def test_zero_sharing() -> None:
    t, points = 3, [1, 2, 3, 4]
    commitments, shares = deal(0, t, points)
    assert commitments[0] == Point.identity()
    assert commitments[0].is_identity
    for x, s in zip(points, shares, strict=True):
        assert verify_share(commitments, t, x, s)
    assert _interpolate(points[:t], shares[:t]) == 0
    # refresh: adding a zero-sharing keeps the secret
    secret = _rand()
    c2, s2 = deal(secret, t, points)
    new = [(a + b) % Q for a, b in zip(shares, s2, strict=True)]
    new_commitments = [a + b for a, b in zip(commitments, c2, strict=True)]
    assert new_commitments[0] == base_mul(secret)
    assert all(verify_share(new_commitments, t, x, s) for x, s in zip(points, new, strict=True))
    assert _interpolate(points[1:], new[1:]) == secret


def test_sum_of_dealings_is_a_dealing() -> None:
    # DKG: each party deals; the sums of commitments and shares are a dealing of the sum
    t, points = 2, [1, 2, 3]
    secrets_ = [_rand() for _ in points]
    dealings = [deal(s, t, points) for s in secrets_]
    commitments = [point_sum(d[0][k] for d in dealings) for k in range(t)]
    shares = [sum(d[1][j] for d in dealings) % Q for j in range(len(points))]
    assert all(verify_share(commitments, t, x, s) for x, s in zip(points, shares, strict=True))
    assert _interpolate(points[:t], shares[:t]) == sum(secrets_) % Q


def test_large_random_evaluation_points() -> None:
    # tss-lib uses random party keys (Ks) in Z_q as evaluation points
    t, n = 3, 5
    points = [secrets.randbelow(Q - 1) + 1 for _ in range(n)]
    check_points(points)
    secret = _rand()
    commitments, shares = deal(secret, t, points)
    for x, s in zip(points, shares, strict=True):
        assert verify_share(commitments, t, x, s)
    for subset in _subsets(n, t):
        xs = [points[i] for i in subset]
        assert _interpolate(xs, [shares[i] for i in subset]) == secret
    for subset in _subsets(n, t - 1):
        xs = [points[i] for i in subset]
        assert _interpolate(xs, [shares[i] for i in subset]) != secret


def test_points_near_q() -> None:
    t, points = 2, [Q - 1, Q - 2, 1]
    secret = _rand()
    commitments, shares = deal(secret, t, points)
    assert all(verify_share(commitments, t, x, s) for x, s in zip(points, shares, strict=True))
    assert _interpolate(points[:2], shares[:2]) == secret
