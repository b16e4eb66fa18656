"""Feldman verifiable secret sharing over secp256k1, and Lagrange coefficients.

``threshold`` everywhere counts the parties needed to sign (t); the polynomial has degree t - 1.
:func:`degree` is the single place where one becomes the other.
"""

from __future__ import annotations

from collections.abc import Sequence

from .curve import Point, Q, base_mul, point_sum
from .errors import UsageError
from .randomness import Rng, resolve

__all__ = ["degree", "deal", "verify_share", "commitment_at", "lagrange_at_zero", "check_points"]


def degree(threshold: int) -> int:
    """The polynomial degree for ``threshold`` signers (t - 1)."""
    if threshold < 1:
        raise UsageError("threshold must be at least 1")
    return threshold - 1


def check_points(points: Sequence[int]) -> None:
    """Evaluation points must be nonzero mod q and distinct mod q (attack A-18)."""
    seen = set()
    for x in points:
        if not isinstance(x, int) or isinstance(x, bool):
            raise UsageError("evaluation points must be ints")
        r = x % Q
        if r == 0:
            raise UsageError("an evaluation point is 0 mod q")
        if r in seen:
            raise UsageError("duplicate evaluation point")
        seen.add(r)


def deal(secret: int, threshold: int, points: Sequence[int],
         rng: Rng | None = None) -> tuple[list[Point], list[int]]:
    """Share ``secret`` so that any ``threshold`` of the ``points`` recover it.

    Returns (commitments A_k = a_k * G for k = 0..t-1, shares f(x) for each point).
    The constant commitment may be the identity (a zero-sharing for refresh).
    """
    check_points(points)
    rng = resolve(rng)
    coeffs = [secret % Q] + [rng.scalar(Q) for _ in range(degree(threshold))]
    commitments = [base_mul(a) for a in coeffs]
    shares = [_evaluate(coeffs, x) for x in points]
    return commitments, shares


def _evaluate(coeffs: Sequence[int], x: int) -> int:
    acc = 0
    for a in reversed(coeffs):
        acc = (acc * x + a) % Q
    return acc


def commitment_at(commitments: Sequence[Point], x: int) -> Point:
    """sum_k A_k * x^k: the public image f(x) * G of a share."""
    terms = []
    xk = 1
    for a in commitments:
        terms.append(a * xk)
        xk = xk * x % Q
    return point_sum(terms)


def verify_share(commitments: Sequence[Point], threshold: int, x: int, share: int) -> bool:
    """Check share * G == sum A_k x^k and that there are exactly ``threshold`` commitments."""
    if len(commitments) != threshold or x % Q == 0:
        return False
    if not 0 <= share < Q:
        return False
    return base_mul(share) == commitment_at(commitments, x)


def lagrange_at_zero(points: Sequence[int], x: int) -> int:
    """The coefficient of f(x) when interpolating f(0) from the values at ``points``."""
    check_points(points)
    if x not in points:
        raise UsageError("the point is not among the interpolation points")
    num, den = 1, 1
    for xj in points:
        if xj != x:
            num = num * xj % Q
            den = den * (xj - x) % Q
    return num * pow(den, -1, Q) % Q
