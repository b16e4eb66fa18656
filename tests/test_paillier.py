"""Paillier encryption over Paillier-Blum moduli, ring-Pedersen parameters, secret-key hygiene."""

from __future__ import annotations

import copy
import hashlib
import pickle
import secrets
from math import gcd

import gmpy2
import pytest

from conftest import paillier_key, ring_pedersen, safe_primes
from tss.errors import DecodeError, UsageError
from tss.paillier import (
    PaillierPublicKey,
    PaillierSecretKey,
    RingPedersen,
    generate_keypair,
    keypair_from_primes,
    level_of,
    ring_pedersen_from,
    validate_public_modulus,
)
from tss.params import HIGH, STANDARD, SecurityLevel
from tss.randomness import SeededRng


def _pow(b: int, e: int, m: int) -> int:
    """Reference b^e mod m (GMP directly, independent of tss.arith; e may be negative)."""
    return int(gmpy2.powmod(b, e, m))


def _centered(m: int, n: int) -> int:
    m %= n
    return m - n if m > n // 2 else m


def _textbook_decrypt(sk: PaillierSecretKey, c: int) -> int:
    n, n2 = sk.n, sk.n * sk.n
    u = _pow(c, sk.phi, n2)
    assert (u - 1) % n == 0
    return (u - 1) // n * _pow(sk.phi, -1, n) % n


def _public_encrypt(n: int, m: int, r: int) -> int:
    n2 = n * n
    return _pow(1 + n, m % n, n2) * _pow(r, n, n2) % n2


def _prime_of_bits(bits: int, label: str) -> int:
    start = int.from_bytes(hashlib.shake_256(label.encode()).digest(bits // 8), "big")
    start |= 1 << (bits - 1)
    p = int(gmpy2.next_prime(start))
    assert p.bit_length() == bits
    return p


# ---------------------------------------------------------------------------------------------
# keys from the cached fixtures


def test_fixture_keys_are_paillier_blum(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    p, q = sk.p, sk.q
    assert sk.n == p * q
    assert sk.n.bit_length() == level.paillier_bits
    assert p % 4 == 3 and q % 4 == 3
    assert gmpy2.is_prime((p - 1) // 2) and gmpy2.is_prime((q - 1) // 2)
    assert sk.phi == (p - 1) * (q - 1)
    assert sk.public == PaillierPublicKey(sk.n)
    assert sk.public.n2 == sk.n**2
    validate_public_modulus(sk.n, level)
    assert level_of(sk.n) is level


# ---------------------------------------------------------------------------------------------
# encryption


def _plaintexts(n: int) -> list[int]:
    h = n // 2
    return [0, 1, -1, 2, -2, h, -h, h - 1, -(h - 1), 2**256, -(2**256),
            secrets.randbelow(n) - h, secrets.randbelow(n) - h]


def test_round_trip(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    pk = sk.public
    for m in _plaintexts(sk.n):
        c, r = pk.encrypt(m)
        assert pk.is_ciphertext(c)
        assert 0 < r < sk.n and gcd(r, sk.n) == 1
        assert sk.decrypt(c) == m
        c2, _ = sk.encrypt(m)
        assert sk.decrypt(c2) == m
        assert c2 != c


def test_decrypt_range(level: SecurityLevel) -> None:
    sk = paillier_key(level, 1)
    n, h = sk.n, sk.n // 2
    # representatives in (-N/2, N/2]: N/2 + 1 wraps to -(N/2); N is the same as 0
    assert sk.decrypt(sk.public.encrypt(h + 1)[0]) == -h
    assert sk.decrypt(sk.public.encrypt(n)[0]) == 0
    assert sk.decrypt(sk.public.encrypt(n + 5)[0]) == 5
    assert sk.decrypt(sk.public.encrypt(-n - 5)[0]) == -5
    assert sk.decrypt(sk.public.encrypt(n - 1)[0]) == -1


def test_decrypt_matches_textbook_formula(level: SecurityLevel) -> None:
    sk = paillier_key(level, 2)
    n = sk.n
    for m in _plaintexts(n)[:8]:
        c, _ = sk.public.encrypt(m)
        assert _textbook_decrypt(sk, c) == m % n
        assert sk.decrypt(c) == _centered(_textbook_decrypt(sk, c), n)
    # and on arbitrary elements of Z_{N^2}^* (every one is an encryption)
    for _ in range(3):
        c = secrets.randbelow(n * n)
        if gcd(c, n) == 1:
            assert sk.decrypt(c) == _centered(_textbook_decrypt(sk, c), n)


def test_encrypt_with_crt_matches_public_formula(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    n = sk.n
    for m in (0, 1, -1, n // 2, secrets.randbelow(n)):
        r = secrets.randbelow(n - 2) + 2
        expected = _public_encrypt(n, m, r)
        assert sk.public.encrypt_with(m, r) == expected
        assert sk.encrypt_with(m, r) == expected


def test_encrypt_with_seeded_rng(level: SecurityLevel) -> None:
    pk = paillier_key(level, 0).public
    assert pk.encrypt(5, SeededRng(b"e")) == pk.encrypt(5, SeededRng(b"e"))
    c, r = pk.encrypt(5, SeededRng(b"e"))
    assert c == pk.encrypt_with(5, r)


def test_homomorphic_add(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    pk = sk.public
    n, h = sk.n, sk.n // 2
    for m1, m2 in [(3, 4), (-3, 4), (-(2**300), 2**299), (h, 1), (-h, -1),
                   (secrets.randbelow(n), secrets.randbelow(n))]:
        c = pk.add(pk.encrypt(m1)[0], pk.encrypt(m2)[0])
        assert sk.decrypt(c) == _centered(m1 + m2, n)


@pytest.mark.parametrize("k", [0, 1, -1, 2, -2, 2**255, -(2**255), -(2**600), 12345])
def test_homomorphic_mul(level: SecurityLevel, k: int) -> None:
    sk = paillier_key(level, 1)
    pk = sk.public
    n = sk.n
    for m in (7, -7, 2**200):
        c, _ = pk.encrypt(m)
        ck = pk.mul(c, k)
        assert sk.decrypt(ck) == _centered(k * m, n)
        assert ck == _pow(c, k, n * n)


def test_mta_shape(level: SecurityLevel) -> None:
    # Enc(a) ^ b * Enc(-beta'): the shape of an MtA reply, with negative beta'
    sk = paillier_key(level, 2)
    pk = sk.public
    a, b = secrets.randbits(256), secrets.randbits(256)
    beta = secrets.randbits(level.ell_prime)
    c = pk.add(pk.mul(pk.encrypt(a)[0], b), pk.encrypt(-beta)[0])
    assert sk.decrypt(c) == a * b - beta


def test_is_ciphertext(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    pk = sk.public
    c, _ = pk.encrypt(1)
    assert pk.is_ciphertext(c)
    assert pk.is_ciphertext(1)
    for bad in (0, -c, pk.n2, pk.n2 + 1, sk.p, sk.q * 5, pk.n, True, 1.0, str(c), None):
        assert not pk.is_ciphertext(bad)


def test_secret_powmods(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    b, e = secrets.randbelow(sk.n), secrets.randbits(level.paillier_bits + 64)
    assert sk.powmod_n(b, e) == _pow(b, e, sk.n)
    assert sk.powmod_n2(b, e) == _pow(b, e, sk.n**2)


def test_public_key_to_bytes(level: SecurityLevel) -> None:
    pk = paillier_key(level, 0).public
    data = pk.to_bytes(level)
    assert len(data) == level.modulus_bytes
    assert int.from_bytes(data, "big") == pk.n


# ---------------------------------------------------------------------------------------------
# modulus validation


def test_validate_public_modulus_accepts(level: SecurityLevel) -> None:
    for i in range(4):
        validate_public_modulus(paillier_key(level, i).n, level)


def test_validate_wrong_size(level: SecurityLevel) -> None:
    other = HIGH if level is STANDARD else STANDARD
    n = paillier_key(level, 0).n
    bad = [paillier_key(other, 0).n, n * 3, n * 5 * 7, n >> 1 | 1, n >> 8 | 1,
           n * (1 << 1) + 1, n * n, 3 * 5, 1]
    for m in bad:
        assert m.bit_length() != level.paillier_bits
        with pytest.raises(DecodeError):
            validate_public_modulus(m, level)


def test_validate_even(level: SecurityLevel) -> None:
    n = paillier_key(level, 0).n
    for m in (n + 1, n - 1, 1 << (level.paillier_bits - 1), (1 << level.paillier_bits) - 2):
        assert m.bit_length() == level.paillier_bits
        with pytest.raises(DecodeError):
            validate_public_modulus(m, level)


def test_validate_square(level: SecurityLevel) -> None:
    p = safe_primes(level.prime_bits)[0]
    assert (p * p).bit_length() == level.paillier_bits
    with pytest.raises(DecodeError):
        validate_public_modulus(p * p, level)


def test_validate_prime(level: SecurityLevel) -> None:
    p = _prime_of_bits(level.paillier_bits, f"prime-{level.name}")
    with pytest.raises(DecodeError):
        validate_public_modulus(p, level)


@pytest.mark.parametrize("bad", [True, 2.0**1000, "123", None, b"\x01"], ids=repr)
def test_validate_non_int(bad: object) -> None:
    with pytest.raises(DecodeError):
        validate_public_modulus(bad, STANDARD)  # type: ignore[arg-type]


def test_level_of() -> None:
    assert level_of(paillier_key(STANDARD, 0).n) is STANDARD
    assert level_of(paillier_key(HIGH, 0).n) is HIGH
    with pytest.raises(DecodeError):
        level_of(paillier_key(STANDARD, 0).n >> 1)


# ---------------------------------------------------------------------------------------------
# ring-Pedersen


def test_ring_pedersen_from_gives_s_equal_t_to_lambda(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    rp = ring_pedersen(level, 0)
    n, s, t = rp.params.n, rp.params.s, rp.params.t
    assert n == sk.n
    assert rp.phi == sk.phi
    assert 0 <= rp.lam < sk.phi
    assert _pow(t, rp.lam, n) == s
    # t = r^2 is a quadratic residue modulo both primes, hence so is s
    for prime in (sk.p, sk.q):
        assert gmpy2.legendre(t, prime) == 1
        assert gmpy2.legendre(s, prime) == 1
    rp.params.validate()
    assert "lam" not in repr(rp) and str(rp.lam) not in repr(rp)


def test_ring_pedersen_from_is_seeded_and_fresh() -> None:
    sk = paillier_key(STANDARD, 1)
    a = ring_pedersen_from(sk, SeededRng(b"rp"))
    b = ring_pedersen_from(sk, SeededRng(b"rp"))
    c = ring_pedersen_from(sk)
    assert a.params == b.params and a.lam == b.lam
    assert c.params != a.params
    assert _pow(c.params.t, c.lam, sk.n) == c.params.s


def test_ring_pedersen_commit(level: SecurityLevel) -> None:
    rp = ring_pedersen(level, 1).params
    x, y = secrets.randbits(300), -secrets.randbits(300)
    expected = _pow(rp.s, x, rp.n) * _pow(rp.t, y, rp.n) % rp.n
    assert rp.commit(x, y) == expected


def _bad_values(level: SecurityLevel) -> dict[str, int]:
    sk = paillier_key(level, 0)
    n = sk.n
    return {"0": 0, "1": 1, "N-1": n - 1, "N": n, "N+1": n + 1, "-1": -1,
            "p": sk.p, "q": sk.q, "2p": 2 * sk.p, "3q": 3 * sk.q}


@pytest.mark.parametrize("which", ["s", "t"])
@pytest.mark.parametrize("bad", ["0", "1", "N-1", "N", "N+1", "-1", "p", "q", "2p", "3q"])
def test_ring_pedersen_validate_rejects(level: SecurityLevel, which: str, bad: str) -> None:
    good = ring_pedersen(level, 0).params
    v = _bad_values(level)[bad]
    params = RingPedersen(good.n, v, good.t) if which == "s" else RingPedersen(good.n, good.s, v)
    with pytest.raises(DecodeError):
        params.validate()


@pytest.mark.parametrize("which", ["s", "t"])
@pytest.mark.parametrize("bad", [True, 2.5, None, "5"], ids=repr)
def test_ring_pedersen_validate_rejects_non_int(which: str, bad: object) -> None:
    good = ring_pedersen(STANDARD, 0).params
    params = (RingPedersen(good.n, bad, good.t) if which == "s"  # type: ignore[arg-type]
              else RingPedersen(good.n, good.s, bad))  # type: ignore[arg-type]
    with pytest.raises(DecodeError):
        params.validate()


def test_ring_pedersen_validate_rejects_s_equal_t(level: SecurityLevel) -> None:
    good = ring_pedersen(level, 0).params
    with pytest.raises(DecodeError):
        RingPedersen(good.n, good.t, good.t).validate()
    with pytest.raises(DecodeError):
        RingPedersen(good.n, good.s, good.s).validate()


def test_ring_pedersen_is_frozen(level: SecurityLevel) -> None:
    good = ring_pedersen(level, 0).params
    with pytest.raises((AttributeError, TypeError)):
        good.s = 5  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# secret key hygiene and serialisation


def test_secret_key_repr_hides_factors(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    texts = [repr(sk), str(sk), f"{sk}", f"{sk!r}", repr([sk]), repr({"k": sk})]
    for text in texts:
        for secret in (sk.p, sk.q, sk.phi):
            assert str(secret) not in text
            assert hex(secret) not in text
            assert f"{secret:x}" not in text
            assert f"{secret:X}" not in text
            assert str(secret)[:40] not in text
    assert not hasattr(sk, "__dict__")


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_secret_key_raises(protocol: int) -> None:
    sk = paillier_key(STANDARD, 0)
    with pytest.raises(TypeError):
        pickle.dumps(sk, protocol=protocol)


def test_copying_secret_key_raises() -> None:
    sk = paillier_key(STANDARD, 0)
    with pytest.raises(TypeError):
        copy.copy(sk)
    with pytest.raises(TypeError):
        copy.deepcopy(sk)


def test_secret_key_bytes_round_trip(level: SecurityLevel) -> None:
    sk = paillier_key(level, 3)
    data = sk.to_bytes()
    assert len(data) == 2 * level.prime_bits // 8
    back = PaillierSecretKey.from_bytes(data, level)
    assert (back.p, back.q, back.n, back.phi) == (sk.p, sk.q, sk.n, sk.phi)
    c, _ = sk.public.encrypt(-42)
    assert back.decrypt(c) == -42
    assert back.to_bytes() == data


def test_secret_key_from_bytes_wrong_length(level: SecurityLevel) -> None:
    data = paillier_key(level, 0).to_bytes()
    other = HIGH if level is STANDARD else STANDARD
    for bad in (b"", data[:-1], data + b"\x00", b"\x00" + data, data[: len(data) // 2],
                data + data, paillier_key(other, 0).to_bytes()):
        with pytest.raises(DecodeError):
            PaillierSecretKey.from_bytes(bad, level)


def test_secret_key_from_bytes_rejects_invalid_values(level: SecurityLevel) -> None:
    sk = paillier_key(level, 0)
    half = level.prime_bits // 8
    p, q = sk.p, sk.q
    for a, b in [(p, p), (0, q), (1, q), (p, 2), (p >> 8, q), (p, q >> 1)]:
        with pytest.raises(DecodeError):
            PaillierSecretKey.from_bytes(a.to_bytes(half, "big") + b.to_bytes(half, "big"), level)


def test_secret_key_from_bytes_rejects_non_primes(level: SecurityLevel) -> None:
    # an even p, and odd composites, must not come back as a (broken) key
    half = level.prime_bits // 8
    p, q = paillier_key(level, 0).p, paillier_key(level, 0).q
    for a, b in [(p + 1, q), (p, q + 2), (p + 2, q + 2)]:
        with pytest.raises(DecodeError):
            PaillierSecretKey.from_bytes(a.to_bytes(half, "big") + b.to_bytes(half, "big"), level)


def test_secret_key_needs_distinct_primes() -> None:
    p = safe_primes(STANDARD.prime_bits)[0]
    with pytest.raises(UsageError):
        PaillierSecretKey(p, p)
    with pytest.raises(UsageError):
        keypair_from_primes(p, p)
    ps = safe_primes(STANDARD.prime_bits)
    assert keypair_from_primes(ps[0], ps[1]).n == ps[0] * ps[1]


def test_generate_keypair_seeded_is_reproducible() -> None:
    a = generate_keypair(STANDARD, SeededRng(b"paillier-keygen"))
    b = generate_keypair(STANDARD, SeededRng(b"paillier-keygen"))
    assert (a.p, a.q) == (b.p, b.q)
    assert a.p != a.q
    assert a.n.bit_length() == STANDARD.paillier_bits
    for prime in (a.p, a.q):
        assert prime.bit_length() == STANDARD.prime_bits
        assert prime % 4 == 3
        assert gmpy2.is_prime(prime) and gmpy2.is_prime((prime - 1) // 2)
    validate_public_modulus(a.n, STANDARD)
    c, _ = a.public.encrypt(-99)
    assert a.decrypt(c) == -99
