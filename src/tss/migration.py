"""Import key shares made by bnb-chain/tss-lib (v1 ``binance-chain/tss-lib`` or v2).

tss-lib saves each party's share as the JSON of ``ecdsa/keygen.LocalPartySaveData``, written by
Go's ``encoding/json``: big integers as JSON numbers, points as
``{"Curve": "secp256k1", "Coords": [x, y]}`` (v1 writes ``{"Coords": [x, y]}`` only; a point
without a curve name is read as secp256k1, the only curve v1 used for ECDSA, and must then be on
it like any other). :func:`import_tss_lib` reads one such file and returns a
:class:`~tss.shares.KeyShare` of the same key:

* ``index`` is the position of the party's ``ShareID`` in ``Ks``, ``parties`` is ``len(Ks)`` and
  ``points`` are tss-lib's ``Ks`` themselves (every Lagrange coefficient uses them);
* ``threshold`` is the polynomial degree plus one (ours counts signers; tss-lib's ``threshold``
  is the degree). tss-lib does not store it, so it is derived from the public shares ``BigXj``;
* ``public_key`` is the compressed ``ECDSAPub``, ``secret_share`` is ``Xi``;
* tss-lib has no chain code: the caller's is used, or one is derived from the public key as
  ``SHA-256(CHAIN_CODE_TAG || compressed ECDSAPub)`` with ``CHAIN_CODE_TAG`` below;
* the share is marked ``imported``: tss-lib's Paillier keys and ring-Pedersen parameters were
  never proven with Πmod/Πfac/Πprm (v1 keys never at all), so they are dropped and the share
  cannot presign or sign until a Refresh or a Reshare gives the parties fresh, proven ones.

Everything is checked before use, and any failure raises :class:`~tss.errors.DecodeError` whose
message names the field but never echoes a secret value (``Xi`` and the Paillier fields are
never printed, and the Paillier fields are not even read).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NoReturn

from .curve import P_FIELD, Point, Q, base_mul, point_sum
from .errors import DecodeError, UsageError
from .params import STANDARD
from .shares import KeyShare
from .vss import lagrange_at_zero

__all__ = ["import_tss_lib", "CHAIN_CODE_TAG", "derived_chain_code"]

#: The domain tag of the chain code derived for an imported key when the caller gives none.
CHAIN_CODE_TAG = b"tss/tss-lib-import/chain-code/v1"

_CURVE_NAME = "secp256k1"
_MAX_INPUT = 64 << 20  # a 1000-party save file at 4096-bit moduli is well below 16 MiB
# tss's own keygen makes at most 255 parties; the degree search below is cubic in the count
_MAX_PARTIES = 255


def derived_chain_code(public_key: bytes) -> bytes:
    """The chain code :func:`import_tss_lib` gives a key when the caller passes none."""
    return hashlib.sha256(CHAIN_CODE_TAG + public_key).digest()


def import_tss_lib(data: bytes | str, chain_code: bytes | None = None,
                   threshold: int | None = None) -> KeyShare:
    """One party's tss-lib ECDSA save data (JSON, bytes or str) as an imported KeyShare.

    ``threshold`` (signers needed, tss-lib's ``threshold`` + 1), when given, must equal the one
    the public shares show. ``chain_code`` (32 bytes) defaults to :func:`derived_chain_code`.
    The result cannot sign: refresh or reshare it first (see docs/migration.md).

    Raises :class:`~tss.errors.DecodeError` for malformed, truncated or inconsistent data and
    for a ``threshold`` the data contradicts; :class:`~tss.errors.UsageError` for arguments of
    the wrong type or size.
    """
    if chain_code is not None:
        if not isinstance(chain_code, (bytes, bytearray)) or len(chain_code) != 32:
            raise UsageError("chain_code must be 32 bytes")
        chain_code = bytes(chain_code)
    if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool)
                                  or threshold < 1):
        raise UsageError("threshold must be a positive int (the number of signers needed)")

    doc = _parse(data)
    ks = _int_list(doc, "Ks")
    n = len(ks)
    if not 1 <= n <= _MAX_PARTIES:
        raise DecodeError(f"Ks: expected 1 to {_MAX_PARTIES} parties, got {n}")
    for pos, k in enumerate(ks):
        if not 0 < k < Q:
            raise DecodeError(f"Ks[{pos}] is not in [1, q)")
    if len(set(ks)) != n:
        raise DecodeError("Ks has duplicate evaluation points")
    share_id = _int(doc, "ShareID")
    if share_id not in ks:
        raise DecodeError("ShareID is not one of Ks")
    index = ks.index(share_id)

    big_xj = _point_list(doc, "BigXj")
    if len(big_xj) != n:
        raise DecodeError(f"BigXj: expected {n} points (one per Ks), got {len(big_xj)}")
    pub = _point(doc["ECDSAPub"] if "ECDSAPub" in doc else _missing("ECDSAPub"), "ECDSAPub")

    xi = _int(doc, "Xi")
    if not 0 < xi < Q:
        raise DecodeError("Xi is not in [1, q)")
    if base_mul(xi) != big_xj[index]:
        raise DecodeError("Xi does not match this party's public share BigXj[ShareID's position]"
                          " (Xi or ShareID changed, or the file is another party's)")

    degree = _degree(ks, big_xj)
    interpolated = point_sum(big_xj[j] * lagrange_at_zero(ks[:degree + 1], ks[j])
                             for j in range(degree + 1))
    if interpolated != pub:
        raise DecodeError("BigXj are not on one polynomial whose value at 0 is ECDSAPub")
    if threshold is not None and threshold != degree + 1:
        raise DecodeError(f"the public shares need {degree + 1} signers (tss-lib threshold "
                          f"{degree}), not the {threshold} given")

    return KeyShare(
        level=STANDARD,
        index=index,
        threshold=degree + 1,
        parties=n,
        points=tuple(ks),
        secret_share=xi,
        public_shares=tuple(big_xj),
        public_key_point=pub,
        chain_code=chain_code if chain_code is not None else derived_chain_code(pub.to_bytes()),
        paillier=None,
        paillier_moduli=(0,) * n,
        ring_pedersen=(None,) * n,
        epoch=0,
        imported=True,
    )


# -- the polynomial ---------------------------------------------------------------------------
def _degree(ks: list[int], shares: list[Point]) -> int:
    """The smallest d such that the first d + 1 shares, interpolated, give all the others."""
    n = len(ks)
    for d in range(n):
        base = ks[:d + 1]
        if all(_interpolate(base, shares[:d + 1], ks[j]) == shares[j] for j in range(d + 1, n)):
            return d
    raise AssertionError("unreachable: n points always lie on a polynomial of degree n - 1")


def _interpolate(xs: list[int], ys: list[Point], x: int) -> Point:
    """f(x) * G for the polynomial f with f(xs[a]) * G = ys[a]."""
    terms = []
    for a, xa in enumerate(xs):
        num, den = 1, 1
        for b, xb in enumerate(xs):
            if b != a:
                num = num * (x - xb) % Q
                den = den * (xa - xb) % Q
        terms.append(ys[a] * (num * pow(den, -1, Q) % Q))
    return point_sum(terms)


# -- strict JSON ------------------------------------------------------------------------------
class _Reject(Exception):
    """Raised by the JSON hooks; turned into a DecodeError."""


def _no_float(text: str) -> NoReturn:
    raise _Reject("a number with a fraction or exponent (tss-lib writes integers only)")


def _no_constant(text: str) -> NoReturn:
    raise _Reject("NaN or Infinity is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Reject("a JSON object has a duplicate field")
        out[key] = value
    return out


def _parse(data: bytes | str) -> dict[str, Any]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) > _MAX_INPUT:
            raise DecodeError("tss-lib save data is too large")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("tss-lib save data is not UTF-8 text") from None
    elif isinstance(data, str):
        if len(data) > _MAX_INPUT:
            raise DecodeError("tss-lib save data is too large")
        text = data
    else:
        raise DecodeError("tss-lib save data must be bytes or str")
    try:
        doc = json.loads(text, parse_float=_no_float, parse_constant=_no_constant,
                         object_pairs_hook=_unique_keys)
    except _Reject as exc:
        raise DecodeError(f"tss-lib save data: {exc}") from None
    except RecursionError:
        raise DecodeError("tss-lib save data is nested too deeply") from None
    except ValueError as exc:
        # JSONDecodeError names only a position; other ValueErrors (an integer of more digits
        # than Python converts) are reported without their text, which may quote the input
        pos = getattr(exc, "pos", None)
        where = f" at character {pos}" if isinstance(pos, int) else ""
        raise DecodeError(f"tss-lib save data is not valid JSON{where} "
                          "(malformed or truncated)") from None
    if not isinstance(doc, dict):
        raise DecodeError("tss-lib save data must be a JSON object (LocalPartySaveData)")
    return doc


def _missing(name: str) -> NoReturn:
    raise DecodeError(f"tss-lib save data has no {name} field")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(doc: dict[str, Any], name: str) -> int:
    if name not in doc:
        _missing(name)
    v = doc[name]
    if not _is_int(v):
        raise DecodeError(f"{name} must be an integer")
    return v


def _int_list(doc: dict[str, Any], name: str) -> list[int]:
    if name not in doc:
        _missing(name)
    v = doc[name]
    if not isinstance(v, list) or not all(_is_int(x) for x in v):
        raise DecodeError(f"{name} must be a list of integers")
    return v


def _point_list(doc: dict[str, Any], name: str) -> list[Point]:
    if name not in doc:
        _missing(name)
    v = doc[name]
    if not isinstance(v, list):
        raise DecodeError(f"{name} must be a list of points")
    return [_point(p, f"{name}[{pos}]") for pos, p in enumerate(v)]


def _point(obj: object, where: str) -> Point:
    """A point as tss-lib writes it: {"Curve": "secp256k1", "Coords": [x, y]} (v1: no Curve)."""
    if not isinstance(obj, dict):
        raise DecodeError(f"{where} must be a point object")
    extra = set(obj) - {"Curve", "Coords"}
    if extra:
        raise DecodeError(f"{where} has unknown fields")
    if "Curve" in obj and obj["Curve"] != _CURVE_NAME:
        raise DecodeError(f"{where} is not on secp256k1 (only secp256k1 keys can be imported)")
    coords = obj.get("Coords")
    if not isinstance(coords, list) or len(coords) != 2 or not all(_is_int(c) for c in coords):
        raise DecodeError(f"{where}: Coords must be a list of two integers")
    x, y = coords
    if not (0 <= x < P_FIELD and 0 <= y < P_FIELD):
        raise DecodeError(f"{where} is not a point on secp256k1")
    try:
        p = Point.from_xy(x, y)
    except DecodeError:
        raise DecodeError(f"{where} is not a point on secp256k1") from None
    if p.is_identity:  # pragma: no cover - from_xy never builds the identity
        raise DecodeError(f"{where} is the point at infinity")
    return p
