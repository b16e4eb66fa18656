"""Shared, cached helpers for the migration tests of this folder (imported by its test modules;
not a ``conftest.py``, for the reason given in tests/protocol/protocol_support.py).

* ``KEYS``, ``raw(key, i)``, ``doc(key, i)``, ``signature(key)``: the tss-lib save files in
  tests/data/tss-lib/ (made with bnb-chain/tss-lib v2 for this project) and the signature
  tss-lib made with each key;
* ``imported(key)``: every file of a key imported with :data:`CHAIN_CODE` (cached);
* ``tss_lib_file(...)``: a save file written the way tss-lib writes one, for a polynomial these
  tests choose (another key, or a re-sharing of the same key as after a tss-lib reshare);
* ``paillier_keys(n, offset)``: distinct Paillier keys from the cached safe primes;
* ``shared_verification()``: Πmod/Πprm verified once per distinct proof inside a block;
* ``check_signature``: verification by two independent libraries, prehashed digest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import coincurve
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

import tss
from tss.migration import import_tss_lib
from tss.paillier import PaillierSecretKey
from tss.zk import mod, prm

DATA = Path(__file__).resolve().parent.parent / "data" / "tss-lib"
KEYS = ("2of3", "3of5")
#: (signers needed, parties) of each key, from tests/data/tss-lib/README.md
SHAPE = {"2of3": (2, 3), "3of5": (3, 5)}
#: the order of secp256k1 and its field prime, written out (not taken from the library)
N_SECP256K1 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P_SECP256K1 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
#: a chain code for the tests that check HD derivation across the migration
CHAIN_CODE = hashlib.sha256(b"tests/migration chain code").digest()


def files(key: str) -> list[Path]:
    return sorted(DATA.joinpath(key).glob("keygen_data_*.json"))


@functools.cache
def raw(key: str, i: int) -> bytes:
    return (DATA / key / f"keygen_data_{i}.json").read_bytes()


def doc(key: str, i: int) -> dict[str, Any]:
    """A fresh (mutable) parse of party i's file."""
    return json.loads(raw(key, i))


def dump(d: dict[str, Any]) -> bytes:
    return json.dumps(d).encode()


@functools.cache
def signature(key: str) -> dict[str, str]:
    return json.loads((DATA / key / "signature.json").read_text())


def ecdsa_pub(key: str) -> bytes:
    """tss-lib's public key of ``key``, compressed, from signature.json's x and y."""
    sig = signature(key)
    x, y = int(sig["x"], 16), int(sig["y"], 16)
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


@functools.cache
def imported(key: str) -> tuple[tss.KeyShare, ...]:
    return tuple(import_tss_lib(raw(key, i), chain_code=CHAIN_CODE)
                 for i in range(SHAPE[key][1]))


def lagrange_at_zero(xs: list[int], x: int) -> int:
    """Written out here, independent of tss.vss."""
    num, den = 1, 1
    for xj in xs:
        if xj != x:
            num = num * xj % N_SECP256K1
            den = den * (xj - x) % N_SECP256K1
    return num * pow(den, -1, N_SECP256K1) % N_SECP256K1


def secret_of(key: str) -> int:
    """The private key of ``key``, interpolated from the first t files (tests only)."""
    t, _ = SHAPE[key]
    ds = [doc(key, i) for i in range(t)]
    xs = [d["ShareID"] for d in ds]
    return sum(d["Xi"] * lagrange_at_zero(xs, d["ShareID"]) for d in ds) % N_SECP256K1


def _point_json(p: coincurve.PublicKey, curve: str | None = "secp256k1") -> dict[str, Any]:
    x, y = p.point()
    return {"Coords": [x, y]} if curve is None else {"Curve": curve, "Coords": [x, y]}


def point_json(scalar: int) -> dict[str, Any]:
    """scalar * G as tss-lib writes a point."""
    return _point_json(coincurve.PublicKey.from_valid_secret(scalar.to_bytes(32, "big")))


def tss_lib_file(secret: int, coeffs: list[int], ks: list[int], me: int) -> bytes:
    """Party ``me``'s save data for the polynomial secret + coeffs[0] x + ..., at points ``ks``,
    as tss-lib would write it (Paillier fields filled with placeholders the import ignores)."""
    poly = [secret, *coeffs]

    def f(x: int) -> int:
        return sum(c * pow(x, e, N_SECP256K1) for e, c in enumerate(poly)) % N_SECP256K1

    n = len(ks)
    d = {
        "PaillierSK": {"N": 15, "LambdaN": 4, "PhiN": 8, "P": 3, "Q": 5},
        "NTildei": 15, "H1i": 4, "H2i": 2, "Alpha": 1, "Beta": 1, "P": 1, "Q": 1,
        "Xi": f(ks[me]), "ShareID": ks[me], "Ks": ks,
        "NTildej": [15] * n, "H1j": [4] * n, "H2j": [2] * n,
        "BigXj": [point_json(f(k)) for k in ks],
        "PaillierPKs": [{"N": 15}] * n,
        "ECDSAPub": point_json(secret),
    }
    return dump(d)


def check_signature(sig_r: int, sig_s: int, public_key: bytes, digest: bytes) -> None:
    """(r, s) over the 32-byte ``digest`` verifies under ``public_key`` (33 bytes) with
    `cryptography` and with coincurve (libsecp256k1 wants a low s)."""
    der = encode_dss_signature(sig_r, sig_s)
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), public_key)
    pub.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    assert coincurve.PublicKey(public_key).verify(der, digest, hasher=None)


def check_tss_signature(sig: tss.Signature, public_key: bytes, digest: bytes) -> None:
    """A tss signature: verifies with both libraries, low s, and recovers ``public_key``."""
    assert 0 < sig.s <= N_SECP256K1 // 2
    check_signature(sig.r, sig.s, public_key, digest)
    recovered = coincurve.PublicKey.from_signature_and_message(sig.to_recoverable(), digest,
                                                               hasher=None)
    assert recovered.format(compressed=True) == public_key


@functools.cache
def _paillier_pool() -> tuple[PaillierSecretKey, ...]:
    """28 keys with distinct moduli: every pair of the 8 cached 1024-bit safe primes of
    tests/data/safe_primes.json. Two of them may share a prime, which a deployment must never
    do and which a test may: the protocols require distinct, proven moduli, and these are."""
    from conftest import safe_primes

    ps = safe_primes(tss.STANDARD.prime_bits)
    return tuple(PaillierSecretKey(ps[i], ps[j]) for i, j in itertools.combinations(range(8), 2))


def paillier_keys(n: int, offset: int) -> list[PaillierSecretKey]:
    """Keys offset .. offset + n - 1 of the pool (each test run takes its own slice)."""
    pool = _paillier_pool()
    assert offset + n <= len(pool)
    return list(pool[offset:offset + n])


@contextlib.contextmanager
def shared_verification() -> Iterator[None]:
    """Inside the block, each distinct (context, statement, proof) of Πmod and Πprm is verified
    once however many parties verify it (as tests/protocol/protocol_support.py does, and for the
    same reason: a broadcast proof is checked by every peer on identical inputs; verification is
    deterministic, so remembering the inputs that passed changes no outcome — anything new or
    failing is verified for real every time). Πfac and everything else are untouched."""
    originals = {module: module.verify for module in (mod, prm)}
    passed: set[tuple[Any, ...]] = set()

    def remembering(module: Any, verify: Any) -> Any:
        def wrapper(ctx: Any, stmt: Any, proof: Any) -> None:
            key = (module.__name__, ctx, stmt, proof)
            try:
                hash(key)
            except TypeError:
                return verify(ctx, stmt, proof)
            if key not in passed:
                verify(ctx, stmt, proof)
                passed.add(key)
            return None

        return wrapper

    try:
        for module, verify in originals.items():
            module.verify = remembering(module, verify)
        yield
    finally:
        for module, verify in originals.items():
            module.verify = verify
