"""BIP32 non-hardened public derivation (CKDpub) for threshold keys.

A threshold key has no single private key, so only non-hardened derivation is possible: every
step depends on the parent *public* key and the chain code only::

    I      = HMAC-SHA512(key=chain_code, data=serP(parent) || ser32(i))
    child  = parent + parse256(I_L) * G
    chain' = I_R

Each step adds the public scalar ``I_L`` to the key, so a whole path adds the public *tweak*
``sum I_L mod q``: the child secret is ``x' = x + tweak`` and the child public key is
``X' = X + tweak * G``. Signers apply it to their shares:

* Shamir shares ``x_i = f(i)`` (what a key share holds): every signer adds the tweak to its own
  share, ``x_i' = x_i + tweak``, and every public share becomes ``X_j' = X_j + tweak * G``. This
  is the polynomial ``f + tweak``; since the Lagrange coefficients of any signing set sum to one,
  any ``t`` tweaked shares interpolate ``x + tweak``.
* Additive shares ``w_i = lambda_i * x_i`` of one signing set: the tweak is added exactly once,
  by one designated signer, or equivalently each signer adds ``lambda_i * tweak``.

The tweak is computed from public data only and is not secret. The usual warning about
non-hardened derivation applies: the chain code together with any child secret reveals the
parent secret, so chain codes must be treated as sensitive when child keys may leak.

Hardened steps (index >= 2^31, written ``'``, ``h`` or ``H``) need the private key and are
refused with :class:`~tss.errors.UsageError`. So is the (probability below 2^-127) case that
BIP32 declares invalid, ``I_L >= q`` or a child at infinity: BIP32 says to proceed with the next
index, which is the caller's decision because it changes the path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from .curve import Point, Q, base_mul
from .errors import UsageError

__all__ = [
    "HARDENED",
    "MAX_DEPTH",
    "CHAIN_CODE_BYTES",
    "parse_path",
    "derive",
    "derive_public_key",
]

HARDENED = 1 << 31
MAX_DEPTH = 255  # BIP32 serialises the depth in one byte
CHAIN_CODE_BYTES = 32

_STEP = re.compile(r"[0-9]+", re.ASCII)
_HARDENED_STEP = re.compile(r"[0-9]+['hH]", re.ASCII)


def parse_path(path: str) -> list[int]:
    """Parse ``"m/0/1"`` (or ``"0/1"``; ``"m"`` is the empty path) into indices.

    Raises UsageError on a hardened step (``'``, ``h``, ``H`` or an index >= 2^31), on a path
    deeper than 255 steps and on anything malformed (empty steps, signs, spaces, non-ASCII
    digits).
    """
    if not isinstance(path, str):
        raise UsageError("a derivation path must be a str such as 'm/0/1'")
    steps = path.split("/")
    if steps[0] == "m":
        steps = steps[1:]  # "m" alone is the empty path
    if len(steps) > MAX_DEPTH:
        raise UsageError(f"a derivation path has at most {MAX_DEPTH} steps")
    indices = []
    for step in steps:
        if _HARDENED_STEP.fullmatch(step):
            raise UsageError(f"hardened derivation step {step[:16]!r} needs the private key; "
                             "threshold keys support only non-hardened paths")
        if not _STEP.fullmatch(step):
            raise UsageError(f"malformed derivation path {path[:64]!r}: bad step {step[:16]!r}")
        try:
            index = int(step)
        except ValueError:  # more digits than int() accepts
            raise UsageError(f"derivation index {step[:12]}... is out of range") from None
        indices.append(_check_index(index))
    return indices


def _check_index(index: object) -> int:
    if not isinstance(index, int) or isinstance(index, bool):
        raise UsageError("a derivation index must be an int")
    if index < 0:
        raise UsageError("a derivation index must not be negative")
    if index >= HARDENED:
        shown = index if index < 1 << 64 else "(huge)"
        raise UsageError(f"index {shown} is hardened (>= 2^31) and needs the private key; "
                         "threshold keys support only non-hardened paths")
    return index


def _indices(path: str | Sequence[int]) -> list[int]:
    if isinstance(path, str):
        return parse_path(path)
    if not isinstance(path, Sequence):
        raise UsageError("a derivation path is a str or a sequence of indices")
    if len(path) > MAX_DEPTH:
        raise UsageError(f"a derivation path has at most {MAX_DEPTH} steps")
    return [_check_index(i) for i in path]


def _check_chain_code(chain_code: object) -> bytes:
    if not isinstance(chain_code, (bytes, bytearray)) or len(chain_code) != CHAIN_CODE_BYTES:
        raise UsageError(f"a chain code is {CHAIN_CODE_BYTES} bytes")
    return bytes(chain_code)


def _hmac_sha512(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha512).digest()


def _ckd_pub(parent: Point, chain_code: bytes, index: int) -> tuple[Point, bytes, int]:
    """One CKDpub step: (child, child chain code, I_L)."""
    digest = _hmac_sha512(chain_code, parent.to_bytes() + index.to_bytes(4, "big"))
    il = int.from_bytes(digest[:32], "big")
    if il >= Q:
        raise UsageError(f"BIP32 derivation at index {index} gives an invalid key (I_L >= q); "
                         f"use the next index ({index + 1}) instead")
    child = parent + base_mul(il)
    if child.is_identity:
        raise UsageError(f"BIP32 derivation at index {index} gives the point at infinity; "
                         f"use the next index ({index + 1}) instead")
    return child, digest[32:], il


def derive(public_key: Point, chain_code: bytes,
           path: str | Sequence[int]) -> tuple[Point, bytes, int]:
    """Derive along a non-hardened ``path``.

    Returns (child public key, child chain code, tweak) with ``child = public_key + tweak * G``:
    the child's secret is the parent's secret plus ``tweak`` (mod q); see the module docstring
    for how signers apply it to their shares. The empty path returns the inputs and tweak 0.
    """
    if not isinstance(public_key, Point):
        raise UsageError("public_key must be a Point")
    if public_key.is_identity:
        raise UsageError("cannot derive from the point at infinity")
    chain = _check_chain_code(chain_code)
    indices = _indices(path)
    point, tweak = public_key, 0
    for index in indices:
        point, chain, il = _ckd_pub(point, chain, index)
        tweak = (tweak + il) % Q
    return point, chain, tweak


def derive_public_key(public_key: bytes, chain_code: bytes, path: str) -> bytes:
    """The 33-byte compressed BIP32 child public key of ``public_key`` along ``path``.

    DecodeError when ``public_key`` is not a compressed secp256k1 point; UsageError when the chain
    code is not 32 bytes or the path is malformed or hardened.
    """
    parent = Point.from_bytes(public_key)
    chain = _check_chain_code(chain_code)
    child, _, _ = derive(parent, chain, path)
    return child.to_bytes()
