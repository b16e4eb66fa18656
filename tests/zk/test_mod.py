"""Πmod (CGGMP21 Fig. 16): completeness, every verifier check, encoding, and bad moduli (A-1)."""

from __future__ import annotations

import dataclasses
import functools
from math import gcd, prod

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import paillier_key
from tss.errors import DecodeError, InvalidProof, UsageError
from tss.paillier import PaillierSecretKey
from tss.params import HIGH, STANDARD, SecurityLevel
from tss.randomness import SeededRng
from tss.zk import mod
from tss.zk._common import ProofContext

SID = b"zk-mod-test-session"


def _ctx(level: SecurityLevel, sid: bytes = SID, prover: int = 1, round: int = 3) -> ProofContext:
    return ProofContext(sid, prover, level, round)


@functools.cache
def _honest(level: SecurityLevel) -> tuple[mod.Statement, mod.Proof]:
    key = paillier_key(level, 0)
    stmt = mod.Statement(key.n)
    return stmt, mod.prove(_ctx(level), stmt, mod.Witness(key), SeededRng(f"mod-{level.name}"))


def _reason(stmt: mod.Statement, proof: mod.Proof, ctx: ProofContext | None = None) -> str:
    with pytest.raises(InvalidProof) as exc:
        mod.verify(ctx or _ctx(STANDARD), stmt, proof)
    assert exc.value.proof == mod.TAG
    return exc.value.reason


def _set(values: tuple[int, ...], i: int, v: int) -> tuple[int, ...]:
    out = list(values)
    out[i] = v
    return tuple(out)


# --- completeness and encoding -----------------------------------------------------------------


def test_completeness(level: SecurityLevel) -> None:
    stmt, proof = _honest(level)
    assert len(proof.x) == len(proof.a) == len(proof.b) == len(proof.z) == level.iterations
    mod.verify(_ctx(level), stmt, proof)


def test_roundtrip(level: SecurityLevel) -> None:
    stmt, proof = _honest(level)
    data = proof.to_bytes()
    again = mod.Proof.from_bytes(data, level)
    assert again == proof
    assert again.to_bytes() == data
    if level is STANDARD:  # completeness already verifies at HIGH
        mod.verify(_ctx(level), stmt, again)


def test_system_rng_and_fresh_w() -> None:
    key = paillier_key(STANDARD, 1)
    stmt = mod.Statement(key.n)
    p1 = mod.prove(_ctx(STANDARD), stmt, mod.Witness(key))
    mod.verify(_ctx(STANDARD), stmt, p1)
    assert gmpy2.jacobi(p1.w, key.n) == -1


def test_witness_repr_hides_secret() -> None:
    key = paillier_key(STANDARD, 0)
    assert str(key.p) not in repr(mod.Witness(key))
    assert "secret" in repr(mod.Witness(key))


def test_prover_refuses_wrong_witness() -> None:
    with pytest.raises(UsageError):
        mod.prove(_ctx(STANDARD), mod.Statement(paillier_key(STANDARD, 1).n),
                  mod.Witness(paillier_key(STANDARD, 0)))


# --- each verifier check -----------------------------------------------------------------------


def test_not_a_proof() -> None:
    stmt, _ = _honest(STANDARD)
    assert _reason(stmt, "proof") == "not a Πmod proof"  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [2046, 2047, 2049, 3072])
def test_modulus_size(bits: int) -> None:
    stmt, proof = _honest(STANDARD)
    n = stmt.n >> (2048 - bits) if bits < 2048 else stmt.n << (bits - 2048)
    assert _reason(mod.Statement(n | 1), proof) == "modulus size"


def test_modulus_not_int() -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(mod.Statement(True), proof) == "modulus size"  # type: ignore[arg-type]


def test_modulus_even() -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(mod.Statement(stmt.n + 1), proof) == "modulus is even"


def test_modulus_prime() -> None:
    n = int(gmpy2.next_prime(paillier_key(STANDARD, 0).n))
    assert n.bit_length() == 2048
    _, proof = _honest(STANDARD)
    assert _reason(mod.Statement(n), proof) == "modulus is prime"


@pytest.mark.parametrize("w", [0, -1, "n", "n+1"])
def test_w_out_of_range(w: int | str) -> None:
    stmt, proof = _honest(STANDARD)
    value = {"n": stmt.n, "n+1": stmt.n + 1}.get(w, w)  # type: ignore[call-overload]
    assert _reason(stmt, dataclasses.replace(proof, w=value)) == "w out of range"


def test_w_jacobi() -> None:
    stmt, proof = _honest(STANDARD)
    w = proof.w * proof.w % stmt.n  # a square: Jacobi symbol +1
    assert _reason(stmt, dataclasses.replace(proof, w=w)) == "w Jacobi symbol is not -1"
    p = paillier_key(STANDARD, 0).p
    assert _reason(stmt, dataclasses.replace(proof, w=p)) == "w Jacobi symbol is not -1"


def test_other_w_changes_challenges() -> None:
    stmt, proof = _honest(STANDARD)
    w = proof.w * 4 % stmt.n  # still Jacobi -1
    assert _reason(stmt, dataclasses.replace(proof, w=w)) == "N-th root check fails"


@pytest.mark.parametrize("field", ["x", "a", "b", "z"])
@pytest.mark.parametrize("count", [0, 127, 129])
def test_wrong_number_of_iterations(field: str, count: int) -> None:
    stmt, proof = _honest(STANDARD)
    values = getattr(proof, field)
    values = (values * 2)[:count]
    bad = dataclasses.replace(proof, **{field: values})
    assert _reason(stmt, bad) == "wrong number of iterations"


def test_all_lists_shortened() -> None:
    stmt, proof = _honest(STANDARD)
    bad = mod.Proof(proof.w, proof.x[:80], proof.a[:80], proof.b[:80], proof.z[:80])
    assert _reason(stmt, bad) == "wrong number of iterations"
    bad = dataclasses.replace(proof, x=None)  # type: ignore[arg-type]
    assert _reason(stmt, bad) == "wrong number of iterations"


@pytest.mark.parametrize("field,reason", [("a", "a is not a bit"), ("b", "b is not a bit")])
@pytest.mark.parametrize("value", [2, -1, True])
def test_bits(field: str, reason: str, value: int) -> None:
    stmt, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, **{field: _set(getattr(proof, field), 5, value)})
    assert _reason(stmt, bad) == reason


@pytest.mark.parametrize("field,reason", [("x", "x out of range"), ("z", "z out of range")])
@pytest.mark.parametrize("value", [0, -1, "n", "n+5", 1.0])
def test_response_out_of_range(field: str, reason: str, value: object) -> None:
    stmt, proof = _honest(STANDARD)
    v = {"n": stmt.n, "n+5": stmt.n + 5}.get(value, value)  # type: ignore[call-overload]
    bad = dataclasses.replace(proof, **{field: _set(getattr(proof, field), 7, v)})
    assert _reason(stmt, bad) == reason


def test_z_not_a_unit() -> None:
    stmt, proof = _honest(STANDARD)
    p = paillier_key(STANDARD, 0).p
    bad = dataclasses.replace(proof, z=_set(proof.z, 3, p * 5))
    assert _reason(stmt, bad) == "z is not a unit"


@pytest.mark.parametrize("i", [0, 127])
def test_nth_root_check(i: int) -> None:
    stmt, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, z=_set(proof.z, i, proof.z[i] * 2 % stmt.n))
    assert _reason(stmt, bad) == "N-th root check fails"


@pytest.mark.parametrize("i", [0, 127])
def test_fourth_root_check(i: int) -> None:
    stmt, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, x=_set(proof.x, i, proof.x[i] * 2 % stmt.n))
    assert _reason(stmt, bad) == "fourth root check fails"


def test_negated_fourth_root_verifies() -> None:
    # fourth roots are not unique: -x is a fourth root of the same value and verifies too
    stmt, proof = _honest(STANDARD)
    neg = dataclasses.replace(proof, x=_set(proof.x, 0, stmt.n - proof.x[0]))
    mod.verify(_ctx(STANDARD), stmt, neg)


@pytest.mark.parametrize("field", ["a", "b"])
def test_flipped_bit(field: str) -> None:
    stmt, proof = _honest(STANDARD)
    values = getattr(proof, field)
    bad = dataclasses.replace(proof, **{field: _set(values, 9, 1 - values[9])})
    assert _reason(stmt, bad) == "fourth root check fails"


@pytest.mark.parametrize("ctx", [
    _ctx(STANDARD, sid=b"another session"),
    _ctx(STANDARD, prover=2),
    _ctx(STANDARD, round=4),
], ids=["session", "prover", "round"])
def test_wrong_context(ctx: ProofContext) -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(stmt, proof, ctx) == "N-th root check fails"


def test_wrong_level_context() -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(stmt, proof, _ctx(HIGH)) == "modulus size"


def test_wrong_statement() -> None:
    _, proof = _honest(STANDARD)
    other = mod.Statement(paillier_key(STANDARD, 1).n)
    with pytest.raises(InvalidProof):
        mod.verify(_ctx(STANDARD), other, proof)


# --- decoding ----------------------------------------------------------------------------------


def test_truncated_and_padded() -> None:
    _, proof = _honest(STANDARD)
    data = proof.to_bytes()
    for bad in (data[:-1], data[: len(data) // 2], b"", data + b"\x00", data + data):
        with pytest.raises(DecodeError):
            mod.Proof.from_bytes(bad, STANDARD)


def test_decode_wrong_level() -> None:
    _, proof = _honest(HIGH)
    with pytest.raises(DecodeError):
        mod.Proof.from_bytes(proof.to_bytes(), STANDARD)


@pytest.mark.parametrize("count", [127, 129])
def test_decode_wrong_iterations(count: int) -> None:
    _, proof = _honest(STANDARD)
    bad = mod.Proof(proof.w, *(tuple((v * 2)[:count]) for v in (proof.x, proof.a, proof.b,
                                                                 proof.z)))
    with pytest.raises(DecodeError):
        mod.Proof.from_bytes(bad.to_bytes(), STANDARD)


@pytest.mark.parametrize("change", [
    {"w": -5}, {"w": 1 << 2048}, {"x": 1 << 2048}, {"z": -1}, {"a": 2}, {"b": 7}, {"a": -1},
])
def test_decode_field_range(change: dict[str, int]) -> None:
    _, proof = _honest(STANDARD)
    (field, value), = change.items()
    if field == "w":
        bad = dataclasses.replace(proof, w=value)
    else:
        bad = dataclasses.replace(proof, **{field: _set(getattr(proof, field), 11, value)})
    with pytest.raises(DecodeError):
        mod.Proof.from_bytes(bad.to_bytes(), STANDARD)


def test_decode_not_bytes() -> None:
    with pytest.raises(DecodeError):
        mod.Proof.from_bytes("text", STANDARD)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_bytes(data: bytes) -> None:
    stmt, _ = _honest(STANDARD)
    try:
        proof = mod.Proof.from_bytes(data, STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        mod.verify(_ctx(STANDARD), stmt, proof)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_flipped_byte(pos: int, xor: int) -> None:
    stmt, proof = _honest(STANDARD)
    data = bytearray(proof.to_bytes())
    data[pos % len(data)] ^= xor
    try:
        bad = mod.Proof.from_bytes(bytes(data), STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        mod.verify(_ctx(STANDARD), stmt, bad)


# --- bad moduli (attacks.md A-1 BitForge, T-1) -------------------------------------------------


def _prime(bits: int, rng: SeededRng, mod4: int = 3) -> int:
    while True:
        p = int(gmpy2.next_prime(rng.bits(bits) | (3 << (bits - 2))))
        if p % 4 == mod4 and p.bit_length() == bits:
            return p


def _complete(cofactor: int, bits: int = 2048, mod4: int = 3) -> int:
    """The smallest prime r = mod4 (mod 4) with cofactor * r of exactly ``bits`` bits and
    gcd(cofactor, r - 1) = 1 (so that gcd(N, phi(N)) = 1 for a square-free cofactor of primes
    far below r)."""
    r = int(gmpy2.next_prime((1 << (bits - 1)) // cofactor + 1))
    while r % 4 != mod4 or gcd(cofactor, r - 1) != 1:
        r = int(gmpy2.next_prime(r))
    assert (cofactor * r).bit_length() == bits
    return r


@functools.cache
def _bitforge() -> tuple[list[int], int]:
    """16 distinct primes of 17 bits (all 3 mod 4) and one large prime: N of exactly 2048 bits."""
    small: list[int] = []
    p = 1 << 16
    while len(small) < 16:
        p = int(gmpy2.next_prime(p))
        if p % 4 == 3:
            small.append(p)
    big = _complete(prod(small))
    return small, big


def _crt(residues: list[tuple[int, int]]) -> int:
    x, m = 0, 1
    for r, mi in residues:
        x += m * ((r - x) * pow(m, -1, mi) % mi)
        m *= mi
    return x % m


def _cheat(ctx: ProofContext, factors: list[tuple[int, int]], rng: SeededRng) -> tuple[int,
                                                                                      mod.Proof]:
    """The best a prover who knows the whole factorization of N (primes p = 3 mod 4 with
    multiplicities) can do: an N-th root mod each prime power where one exists, and a fourth root
    of the candidate y' that is a residue modulo the most prime factors."""
    n = prod(p**k for p, k in factors)
    while True:
        w = rng.below(n)
        if gmpy2.jacobi(w, n) == -1:
            break
    ys = mod._challenges(ctx, n, w)
    xs, a_s, b_s, zs = [], [], [], []
    for y in ys:
        cands = [(a, b, (-1) ** a * (w if b else 1) * y % n) for a in (0, 1) for b in (0, 1)]
        a, b, yy = max(cands, key=lambda c: sum(gmpy2.legendre(c[2], p) == 1 for p, _ in factors))
        xr, zr = [], []
        for p, k in factors:
            pk, phi = p**k, p ** (k - 1) * (p - 1)
            # phi/2 is odd for p = 3 mod 4, so 4 is invertible modulo the order of the residues
            xr.append((int(gmpy2.powmod(yy, gmpy2.invert(4, phi // 2), pk)), pk))
            d = int(gmpy2.invert(n, phi)) if gcd(n, phi) == 1 else 1
            zr.append((int(gmpy2.powmod(y, d, pk)), pk))
        xs.append(_crt(xr))
        zs.append(_crt(zr))
        a_s.append(a)
        b_s.append(b)
    return n, mod.Proof(w, tuple(xs), tuple(a_s), tuple(b_s), tuple(zs))


def test_bitforge_honest_prover_code_fails() -> None:
    """The prover code run with a fake key (p = the product of the 16 small primes) either refuses
    or makes a proof that does not verify."""
    small, big = _bitforge()
    n = prod(small) * big
    assert n.bit_length() == 2048
    fake = PaillierSecretKey(prod(small), big)
    ctx = _ctx(STANDARD)
    with pytest.raises((InvalidProof, UsageError)):
        proof = mod.prove(ctx, mod.Statement(n), mod.Witness(fake), SeededRng("bitforge"))
        mod.verify(ctx, mod.Statement(n), proof)


def test_bitforge_full_factorization_cheater_fails() -> None:
    """Knowing all 17 primes gives every N-th root (gcd(N, phi(N)) = 1), but y' must be a residue
    modulo all 17 primes for a fourth root to exist: about 4 / 2^17 per challenge."""
    small, big = _bitforge()
    factors = [(p, 1) for p in [*small, big]]
    ctx = _ctx(STANDARD)
    n, proof = _cheat(ctx, factors, SeededRng("bitforge-cheat"))
    phi = prod(p - 1 for p, _ in factors)
    assert gcd(n, phi) == 1
    ys = mod._challenges(ctx, n, proof.w)
    assert all(gmpy2.powmod(z, n, n) == y for z, y in zip(proof.z, ys, strict=True))
    assert _reason(mod.Statement(n), proof) == "fourth root check fails"
    # round trip through the wire format changes nothing
    again = mod.Proof.from_bytes(proof.to_bytes(), STANDARD)
    assert _reason(mod.Statement(n), again) == "fourth root check fails"


def test_bitforge_with_copied_proof() -> None:
    small, big = _bitforge()
    _, honest = _honest(STANDARD)
    with pytest.raises(InvalidProof):
        mod.verify(_ctx(STANDARD), mod.Statement(prod(small) * big), honest)


@functools.cache
def _p2q() -> tuple[int, int]:
    p = _prime(683, SeededRng("p2q"))
    return p, _complete(p * p)


def test_p_squared_q_rejected() -> None:
    """N = p^2 q: gcd(N, phi(N)) = p, so N-th roots exist for only 1/p of the y_i."""
    p, q = _p2q()
    n = p * p * q
    assert n.bit_length() == 2048
    ctx = _ctx(STANDARD)
    proof_n, proof = _cheat(ctx, [(p, 2), (q, 1)], SeededRng("p2q-cheat"))
    assert proof_n == n
    assert _reason(mod.Statement(n), proof) == "N-th root check fails"
    # the prover code with "p" = p^2
    with pytest.raises((InvalidProof, UsageError)):
        pr = mod.prove(ctx, mod.Statement(n), mod.Witness(PaillierSecretKey(p * p, q)),
                       SeededRng("p2q-prover"))
        mod.verify(ctx, mod.Statement(n), pr)


def test_three_primes_rejected() -> None:
    """N = p q r with Blum primes: a fourth root needs y' to be a residue mod all three."""
    rng = SeededRng("pqr")
    p, q = _prime(683, rng), _prime(683, rng)
    r = _complete(p * q)
    ctx = _ctx(STANDARD)
    n, proof = _cheat(ctx, [(p, 1), (q, 1), (r, 1)], SeededRng("pqr-cheat"))
    assert n.bit_length() == 2048
    assert _reason(mod.Statement(n), proof) == "fourth root check fails"


def test_prime_one_mod_four_rejected() -> None:
    """p = 1 mod 4: -1 is a residue mod p and residues need not be fourth powers."""
    rng = SeededRng("p1mod4")
    p = _prime(1024, rng, mod4=1)
    q = _complete(p)
    n = p * q
    ctx = _ctx(STANDARD)
    with pytest.raises((InvalidProof, UsageError)):
        proof = mod.prove(ctx, mod.Statement(n), mod.Witness(PaillierSecretKey(p, q)),
                          SeededRng("p1mod4-prover"))
        mod.verify(ctx, mod.Statement(n), proof)


def test_prime_modulus_rejected_before_anything() -> None:
    """A prime N is rejected by the statement checks whatever the proof."""
    n = int(gmpy2.next_prime(paillier_key(STANDARD, 2).n))
    _, proof = _honest(STANDARD)
    assert _reason(mod.Statement(n), proof) == "modulus is prime"
    assert _reason(mod.Statement(n), dataclasses.replace(proof, w=0)) == "modulus is prime"
