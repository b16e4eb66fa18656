"""BIP32 non-hardened public derivation for threshold keys, against the `bip32` package and the
BIP32 test vectors."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from bip32 import BIP32
from hypothesis import given, settings
from hypothesis import strategies as st

import tss.hd as hd
from tss.curve import G, Point, Q, base_mul, scalar_to_bytes
from tss.errors import DecodeError, UsageError
from tss.hd import HARDENED, derive, derive_public_key, parse_path
from tss.vss import deal, lagrange_at_zero

# ---------------------------------------------------------------------------------------------
# helpers

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _xpub(text: str) -> tuple[bytes, bytes]:
    """(chain code, compressed public key) of a base58check xpub (decoded here, not by bip32)."""
    n = 0
    for ch in text:
        n = n * 58 + _B58.index(ch)
    raw = n.to_bytes(82, "big")
    body, check = raw[:-4], raw[-4:]
    assert hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4] == check
    assert body[:4] == bytes.fromhex("0488b21e")
    return body[13:45], body[45:78]


def _path_str(indices: list[int]) -> str:
    return "/".join(["m", *map(str, indices)])


def _rand_key() -> tuple[int, bytes]:
    k = secrets.randbelow(Q - 1) + 1
    return k, base_mul(k).to_bytes()


# ---------------------------------------------------------------------------------------------
# BIP32 test vectors (non-hardened tails only)

VECTOR1_M0H_1_2H = ("xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGT"
                    "sxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5")
VECTOR1_M0H_1_2H_2 = ("xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQU"
                      "Mv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV")
VECTOR1_M0H_1_2H_2_1000000000 = ("xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEc"
                                 "YFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy")
VECTOR2_M = ("xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8i"
             "doc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB")
VECTOR2_M0 = ("xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXo"
              "UmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH")


@pytest.mark.parametrize(
    ("parent", "path", "expected"),
    [
        (VECTOR1_M0H_1_2H, "m/2", VECTOR1_M0H_1_2H_2),
        (VECTOR1_M0H_1_2H, "m/2/1000000000", VECTOR1_M0H_1_2H_2_1000000000),
        (VECTOR1_M0H_1_2H_2, "1000000000", VECTOR1_M0H_1_2H_2_1000000000),
        (VECTOR2_M, "m/0", VECTOR2_M0),
    ],
)
def test_bip32_test_vectors(parent: str, path: str, expected: str) -> None:
    cc, pk = _xpub(parent)
    want_cc, want_pk = _xpub(expected)
    assert derive_public_key(pk, cc, path) == want_pk
    child, chain, tweak = derive(Point.from_bytes(pk), cc, path)
    assert child.to_bytes() == want_pk
    assert chain == want_cc
    assert Point.from_bytes(pk) + base_mul(tweak) == child


# ---------------------------------------------------------------------------------------------
# against the bip32 package

short_paths = st.lists(st.integers(min_value=0, max_value=HARDENED - 1), max_size=4)
small_paths = st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=Q - 1),
    st.binary(min_size=32, max_size=32),
    short_paths | small_paths,
)
def test_matches_bip32_package_property(k: int, cc: bytes, indices: list[int]) -> None:
    pk = base_mul(k).to_bytes()
    path = _path_str(indices)
    ref = BIP32(chaincode=cc, pubkey=pk)
    ref_cc, ref_pk = ref.get_extended_pubkey_from_path(path)
    assert derive_public_key(pk, cc, path) == ref_pk
    assert ref.get_pubkey_from_path(path) == ref_pk

    parent = Point.from_bytes(pk)
    child, chain, tweak = derive(parent, cc, path)
    assert child.to_bytes() == ref_pk
    assert chain == ref_cc
    assert 0 <= tweak < Q
    assert parent + tweak * G == child
    # the list form of the path is the same derivation
    assert derive(parent, cc, indices) == (child, chain, tweak)

    # the tweak is the difference of the private keys
    priv = BIP32(chaincode=cc, privkey=scalar_to_bytes(k))
    child_k = int.from_bytes(priv.get_privkey_from_path(path), "big")
    assert (child_k - k) % Q == tweak
    assert base_mul(child_k) == child


def test_fixed_paths_match_bip32_package() -> None:
    k, pk = _rand_key()
    cc = secrets.token_bytes(32)
    ref = BIP32(chaincode=cc, pubkey=pk)
    priv = BIP32(chaincode=cc, privkey=scalar_to_bytes(k))
    for path in ["m", "m/0", "m/1", "m/0/1", "m/0/1/2/3/4", "m/2147483647", "m/44/60/0/0/7"]:
        assert derive_public_key(pk, cc, path) == ref.get_pubkey_from_path(path)
        _, _, tweak = derive(Point.from_bytes(pk), cc, path)
        child_k = int.from_bytes(priv.get_privkey_from_path(path), "big")
        assert (k + tweak) % Q == child_k


def test_paths_without_m_prefix() -> None:
    _, pk = _rand_key()
    cc = secrets.token_bytes(32)
    assert derive_public_key(pk, cc, "0/1") == derive_public_key(pk, cc, "m/0/1")
    assert derive_public_key(pk, cc, "7") == BIP32(chaincode=cc, pubkey=pk).get_pubkey_from_path(
        "m/7")


def test_empty_path() -> None:
    _, pk = _rand_key()
    cc = secrets.token_bytes(32)
    parent = Point.from_bytes(pk)
    assert derive(parent, cc, "m") == (parent, cc, 0)
    assert derive(parent, cc, []) == (parent, cc, 0)
    assert derive_public_key(pk, cc, "m") == pk


def test_tweaks_compose() -> None:
    _, pk = _rand_key()
    cc = secrets.token_bytes(32)
    parent = Point.from_bytes(pk)
    mid, mid_cc, t1 = derive(parent, cc, "m/3/4")
    child, child_cc, t2 = derive(mid, mid_cc, "m/5")
    assert derive(parent, cc, "m/3/4/5") == (child, child_cc, (t1 + t2) % Q)


def test_bytearray_chain_code() -> None:
    _, pk = _rand_key()
    cc = secrets.token_bytes(32)
    assert derive_public_key(pk, bytearray(cc), "m/1") == derive_public_key(pk, cc, "m/1")


# ---------------------------------------------------------------------------------------------
# threshold use of the tweak


@pytest.mark.parametrize(("t", "n"), [(1, 1), (2, 3), (3, 5)])
def test_tweaked_shamir_shares_hold_the_child_key(t: int, n: int) -> None:
    x = secrets.randbelow(Q - 1) + 1
    cc = secrets.token_bytes(32)
    points = list(range(1, n + 1))
    commitments, shares = deal(x, t, points)
    parent = commitments[0]
    path = "m/0/17/4"
    child, _, tweak = derive(parent, cc, path)
    # every party adds the tweak to its Shamir share
    tweaked = [(s + tweak) % Q for s in shares]
    signers = points[n - t:]
    child_secret = sum(lagrange_at_zero(signers, i) * tweaked[i - 1] for i in signers) % Q
    assert base_mul(child_secret) == child
    assert child_secret == (x + tweak) % Q
    # public shares move by tweak * G
    for i, s in zip(points, tweaked, strict=True):
        assert base_mul(s) == base_mul(shares[i - 1]) + tweak * G
    # additive shares: the tweak is added once
    additive = [lagrange_at_zero(signers, i) * shares[i - 1] % Q for i in signers]
    additive[0] = (additive[0] + tweak) % Q
    assert sum(additive) % Q == child_secret
    # and this is what BIP32 gives with the private key
    ref = BIP32(chaincode=cc, privkey=scalar_to_bytes(x))
    assert int.from_bytes(ref.get_privkey_from_path(path), "big") == child_secret


# ---------------------------------------------------------------------------------------------
# parse_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [("m", []), ("m/0", [0]), ("m/0/1", [0, 1]), ("0/1", [0, 1]), ("0", [0]),
     ("m/2147483647", [HARDENED - 1]), ("2147483647/0", [HARDENED - 1, 0]),
     ("m/44/60/0/0/7", [44, 60, 0, 0, 7]), ("m/00/007", [0, 7])],
)
def test_parse_path_accepts(path: str, expected: list[int]) -> None:
    assert parse_path(path) == expected


@pytest.mark.parametrize(
    "path",
    ["m/0'", "m/0h", "m/0H", "0'", "m/1/2/3'", "m/44'/60'/0'/0/0", "m/2147483648",
     "m/4294967295", "m/4294967296", "m/" + "9" * 50, "m/" + "9" * 5000, "2147483648/0",
     "m/0/2147483648"],
    ids=lambda p: p[:24],
)
def test_hardened_paths_raise(path: str) -> None:
    with pytest.raises(UsageError):
        parse_path(path)
    _, pk = _rand_key()
    cc = bytes(32)
    with pytest.raises(UsageError):
        derive_public_key(pk, cc, path)
    with pytest.raises(UsageError):
        derive(Point.from_bytes(pk), cc, path)


def test_hardened_error_message() -> None:
    with pytest.raises(UsageError, match="hardened"):
        parse_path("m/0'")
    with pytest.raises(UsageError, match="hardened"):
        parse_path("m/2147483648")


@pytest.mark.parametrize(
    "path",
    ["", "/", "m/", "/0", "0/", "m//0", "m/0//1", "m/-1", "m/+1", "m/ 1", "m/1 ", " m/1",
     "m/1\n", "m/1.5", "m/0x1", "m/1e3", "M/0", "m/a", "m/\u0663", "m/\uff11", "m/1/",
     "mm/1", "m/m/1", "m/1'h", "m/'", "m/h", "m/1''", "m\\0", "m/1,2", "m/1_000", "\u217f/0"],
    ids=repr,
)
def test_malformed_paths_raise(path: str) -> None:
    with pytest.raises(UsageError):
        parse_path(path)
    _, pk = _rand_key()
    with pytest.raises(UsageError):
        derive_public_key(pk, bytes(32), path)


@pytest.mark.parametrize("path", [None, 0, b"m/0", [0], ("m", "0")], ids=repr)
def test_parse_path_non_str(path: object) -> None:
    with pytest.raises(UsageError):
        parse_path(path)  # type: ignore[arg-type]


def test_path_depth_limit() -> None:
    assert len(parse_path("m" + "/1" * 255)) == 255
    with pytest.raises(UsageError):
        parse_path("m" + "/1" * 256)
    with pytest.raises(UsageError):
        derive(G, bytes(32), [1] * 256)


def test_deep_path_matches_bip32_package() -> None:
    _, pk = _rand_key()
    cc = secrets.token_bytes(32)
    indices = [i * 7919 % HARDENED for i in range(40)]
    path = _path_str(indices)
    assert derive_public_key(pk, cc, path) == BIP32(chaincode=cc, pubkey=pk).get_pubkey_from_path(
        path)


@pytest.mark.parametrize(
    "indices",
    [[HARDENED], [0, HARDENED + 5], [-1], [1, True], [1.0], ["1"], [None], [2**64],
     [10**5000]],
    ids=lambda v: "[10**5000]" if v == [10**5000] else repr(v),
)
def test_derive_rejects_bad_index_lists(indices: list[object]) -> None:
    with pytest.raises(UsageError):
        derive(G, bytes(32), indices)  # type: ignore[arg-type]


def test_derive_rejects_non_sequence_path() -> None:
    with pytest.raises(UsageError):
        derive(G, bytes(32), 5)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        derive(G, bytes(32), {1, 2})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# input validation


@pytest.mark.parametrize(
    "key",
    [b"", bytes(32), bytes(33), bytes(34), b"\x04" + bytes(64), b"\x05" + G.to_bytes()[1:],
     "02" + "11" * 32, None, 5],
    ids=repr,
)
def test_derive_public_key_bad_key_bytes(key: object) -> None:
    with pytest.raises(DecodeError):
        derive_public_key(key, bytes(32), "m/0")  # type: ignore[arg-type]


def test_derive_public_key_uncompressed_key_refused() -> None:
    k, _ = _rand_key()
    x, y = base_mul(k).xy()
    with pytest.raises(DecodeError):
        derive_public_key(b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big"), bytes(32), "m")


@pytest.mark.parametrize("cc", [b"", bytes(31), bytes(33), bytes(64), "00" * 32, None, 0],
                         ids=repr)
def test_bad_chain_code(cc: object) -> None:
    _, pk = _rand_key()
    with pytest.raises(UsageError):
        derive_public_key(pk, cc, "m/0")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        derive(Point.from_bytes(pk), cc, "m/0")  # type: ignore[arg-type]


def test_derive_rejects_identity_and_non_points() -> None:
    with pytest.raises(UsageError):
        derive(Point.identity(), bytes(32), "m/0")
    with pytest.raises(UsageError):
        derive(G.to_bytes(), bytes(32), "m/0")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# the invalid-child cases of BIP32 (probability < 2^-127: forced through the HMAC)


def test_il_not_below_q_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []

    def fake(key: bytes, data: bytes) -> bytes:
        calls.append(data)
        return Q.to_bytes(32, "big") + bytes(32)

    monkeypatch.setattr(hd, "_hmac_sha512", fake)
    with pytest.raises(UsageError, match="next index"):
        derive(G, bytes(32), "m/7")
    assert calls == [G.to_bytes() + (7).to_bytes(4, "big")]
    monkeypatch.setattr(hd, "_hmac_sha512", lambda k, d: b"\xff" * 64)
    with pytest.raises(UsageError, match="next index"):
        derive_public_key(G.to_bytes(), bytes(32), "m/0")


def test_child_at_infinity_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    k = secrets.randbelow(Q - 1) + 1
    parent = base_mul(k)
    monkeypatch.setattr(hd, "_hmac_sha512", lambda key, data: (Q - k).to_bytes(32, "big") +
                        bytes(32))
    with pytest.raises(UsageError, match="next index"):
        derive(parent, bytes(32), [3])


def test_step_uses_hmac_sha512_as_specified(monkeypatch: pytest.MonkeyPatch) -> None:
    # I_L = 5, I_R = chain: child = parent + 5G
    seen: list[tuple[bytes, bytes]] = []

    def fake(key: bytes, data: bytes) -> bytes:
        seen.append((key, data))
        return (5).to_bytes(32, "big") + b"\xab" * 32

    monkeypatch.setattr(hd, "_hmac_sha512", fake)
    cc = b"\x11" * 32
    child, chain, tweak = derive(G, cc, "m/1/2")
    assert child == base_mul(11)
    assert chain == b"\xab" * 32
    assert tweak == 10
    assert seen == [(cc, G.to_bytes() + b"\x00\x00\x00\x01"),
                    (b"\xab" * 32, base_mul(6).to_bytes() + b"\x00\x00\x00\x02")]
