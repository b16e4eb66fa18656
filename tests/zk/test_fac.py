"""Πfac (CGGMP21 Fig. 28): completeness, every verifier check, encoding, unbalanced moduli (A-1)."""

from __future__ import annotations

import dataclasses
import functools
from math import gcd, isqrt, prod

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import paillier_key, ring_pedersen
from tss.arith import multi_powmod, powmod
from tss.errors import DecodeError, InvalidProof, UsageError
from tss.paillier import PaillierSecretKey, RingPedersen
from tss.params import HIGH, STANDARD, SecurityLevel
from tss.randomness import SeededRng
from tss.zk import fac
from tss.zk._common import ProofContext

SID = b"zk-fac-test-session"
FIELDS = ("P", "Q", "A", "B", "T", "sigma", "z1", "z2", "w1", "w2", "v")


def _ctx(level: SecurityLevel, sid: bytes = SID, prover: int = 0, round: int = 2) -> ProofContext:
    return ProofContext(sid, prover, level, round)


def _statement(level: SecurityLevel, n0: int | None = None) -> fac.Statement:
    # prover: party 0 (key 0); verifier: party 1 with its ring-Pedersen parameters on key 1
    return fac.Statement(paillier_key(level, 0).n if n0 is None else n0,
                         ring_pedersen(level, 1).params)


@functools.cache
def _honest(level: SecurityLevel) -> tuple[fac.Statement, fac.Proof]:
    stmt = _statement(level)
    wit = fac.Witness(paillier_key(level, 0))
    return stmt, fac.prove(_ctx(level), stmt, wit, SeededRng(f"fac-{level.name}"))


def _reason(stmt: fac.Statement, proof: fac.Proof, ctx: ProofContext | None = None) -> str:
    with pytest.raises(InvalidProof) as exc:
        fac.verify(ctx or _ctx(STANDARD), stmt, proof)
    assert exc.value.proof == fac.TAG
    return exc.value.reason


def _bounds(level: SecurityLevel, stmt: fac.Statement) -> dict[str, int]:
    """The verifier's bounds, recomputed from the paper's parameters."""
    l, le, cb = level.ell, level.ell + level.epsilon, level.challenge_bits
    n0, nh = stmt.n0, stmt.rp.n
    return {
        "sigma": (n0 * nh) << l,
        "z1": (isqrt(n0) + 1) << le,
        "z2": (isqrt(n0) + 1) << le,
        "w1": ((1 << le) + (1 << (l + cb))) * nh,
        "w2": ((1 << le) + (1 << (l + cb))) * nh,
        "v": ((1 << le) + (1 << (l + cb + 1))) * n0 * nh,
    }


# --- completeness and encoding -----------------------------------------------------------------


def test_completeness(level: SecurityLevel) -> None:
    stmt, proof = _honest(level)
    fac.verify(_ctx(level), stmt, proof)
    bounds = _bounds(level, stmt)
    # the honest responses sit well inside their bounds
    for name in ("z1", "z2"):
        assert abs(getattr(proof, name)) <= bounds[name]


def test_completeness_system_rng() -> None:
    stmt = _statement(STANDARD)
    for _ in range(3):
        proof = fac.prove(_ctx(STANDARD), stmt, fac.Witness(paillier_key(STANDARD, 0)))
        fac.verify(_ctx(STANDARD), stmt, proof)


def test_roundtrip(level: SecurityLevel) -> None:
    stmt, proof = _honest(level)
    data = proof.to_bytes()
    again = fac.Proof.from_bytes(data, level)
    assert again == proof
    assert again.to_bytes() == data
    fac.verify(_ctx(level), stmt, again)


def test_witness_repr_hides_secret() -> None:
    key = paillier_key(STANDARD, 0)
    assert str(key.p) not in repr(fac.Witness(key))


def test_prover_refuses_wrong_witness() -> None:
    with pytest.raises(UsageError):
        fac.prove(_ctx(STANDARD), _statement(STANDARD, paillier_key(STANDARD, 2).n),
                  fac.Witness(paillier_key(STANDARD, 0)))


# --- each verifier check -----------------------------------------------------------------------


def test_not_a_proof() -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(stmt, proof.to_bytes()) == "not a Πfac proof"  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [2046, 2047, 2049, 3072])
def test_modulus_size(bits: int) -> None:
    """Attacks.md T-1: a 2046-bit N (ZenGo's test) and every other size fail first."""
    stmt, proof = _honest(STANDARD)
    n0 = stmt.n0 >> (2048 - bits) if bits < 2048 else stmt.n0 << (bits - 2048)
    assert _reason(dataclasses.replace(stmt, n0=n0 | 1), proof) == "modulus size"
    assert _reason(dataclasses.replace(stmt, n0=str(stmt.n0)), proof) == "modulus size"


def test_wrong_level_context() -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(stmt, proof, _ctx(HIGH)) == "modulus size"


def test_ring_pedersen_not_parameters() -> None:
    stmt, proof = _honest(STANDARD)
    bad = dataclasses.replace(stmt, rp=(1, 2, 3))
    assert _reason(bad, proof) == "statement has no ring-Pedersen parameters"


@pytest.mark.parametrize("shift", [-1, 1])
def test_ring_pedersen_modulus_size(shift: int) -> None:
    stmt, proof = _honest(STANDARD)
    rp = stmt.rp
    n = rp.n >> 1 if shift < 0 else rp.n << 1 | 1
    bad = dataclasses.replace(stmt, rp=RingPedersen(n, rp.s % n, rp.t % n))
    assert _reason(bad, proof) == "ring-Pedersen modulus size"


@pytest.mark.parametrize("change", ["s=t", "s=1", "t=0", "t=n", "s=p"])
def test_invalid_ring_pedersen(change: str) -> None:
    stmt, proof = _honest(STANDARD)
    rp = stmt.rp
    values = {"t": rp.t, "0": 0, "1": 1, "n": rp.n, "p": paillier_key(STANDARD, 1).p}
    field, what = change.split("=")
    bad = dataclasses.replace(stmt, rp=dataclasses.replace(rp, **{field: values[what]}))
    with pytest.raises(InvalidProof) as exc:
        fac.verify(_ctx(STANDARD), bad, proof)
    assert exc.value.reason == "invalid ring-Pedersen parameters"
    assert isinstance(exc.value.__cause__, DecodeError)


@pytest.mark.parametrize("name", ["P", "Q", "A", "B", "T"])
@pytest.mark.parametrize("value", [0, -1, "nh", "nh+1", True])
def test_commitment_out_of_range(name: str, value: object) -> None:
    stmt, proof = _honest(STANDARD)
    v = {"nh": stmt.rp.n, "nh+1": stmt.rp.n + 1}.get(value, value)  # type: ignore[call-overload]
    assert _reason(stmt, dataclasses.replace(proof, **{name: v})) == f"{name} out of range"


@pytest.mark.parametrize("name", ["P", "Q", "A", "B", "T"])
def test_commitment_not_a_unit(name: str) -> None:
    stmt, proof = _honest(STANDARD)
    q_hat = paillier_key(STANDARD, 1).q  # a factor of the verifier's modulus
    assert _reason(stmt, dataclasses.replace(proof, **{name: q_hat})) == f"{name} is not a unit"


@pytest.mark.parametrize("name", ["sigma", "z1", "z2", "w1", "w2", "v"])
def test_response_not_int(name: str) -> None:
    stmt, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, **{name: float(getattr(proof, name) % 1000)})
    assert _reason(stmt, bad) == f"{name} is not an int"


@pytest.mark.parametrize("name", ["sigma", "z1", "z2", "w1", "w2", "v"])
@pytest.mark.parametrize("sign", [1, -1])
def test_response_out_of_range(name: str, sign: int) -> None:
    stmt, proof = _honest(STANDARD)
    bound = _bounds(STANDARD, stmt)[name]
    assert _reason(stmt, dataclasses.replace(proof, **{name: sign * (bound + 1)})) == \
        f"{name} out of range"
    # exactly on the bound passes the range check and fails an equation instead
    reason = _reason(stmt, dataclasses.replace(proof, **{name: sign * bound}))
    assert reason.endswith("equation fails")


@pytest.mark.parametrize("name,reason", [
    ("z1", "P equation fails"), ("w1", "P equation fails"),
    ("z2", "Q equation fails"), ("w2", "Q equation fails"),
    ("v", "T equation fails"),
])
def test_equation(name: str, reason: str) -> None:
    stmt, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, **{name: getattr(proof, name) + 1})
    assert _reason(stmt, bad) == reason


@pytest.mark.parametrize("name", ["P", "Q", "A", "B", "T", "sigma"])
def test_tampered_first_move(name: str) -> None:
    """Any change to a first-move value changes the challenge: the first equation fails."""
    stmt, proof = _honest(STANDARD)
    v = getattr(proof, name)
    new = v + 1 if name == "sigma" else v * stmt.rp.t % stmt.rp.n
    assert _reason(stmt, dataclasses.replace(proof, **{name: new})) == "P equation fails"


def test_z1_used_in_t_equation() -> None:
    """z1 + 1 with w1 adjusted so that the P equation holds (w1 - lambda) still fails the T one."""
    stmt, proof = _honest(STANDARD)
    lam = ring_pedersen(STANDARD, 1).lam  # s = t^lam: s^(z1+1) t^(w1-lam) = s^z1 t^w1
    bad = dataclasses.replace(proof, z1=proof.z1 + 1, w1=proof.w1 - lam)
    assert _reason(stmt, bad) == "T equation fails"


@pytest.mark.parametrize("ctx", [
    _ctx(STANDARD, sid=b"another session"),
    _ctx(STANDARD, prover=1),
    _ctx(STANDARD, round=3),
], ids=["session", "prover", "round"])
def test_wrong_context(ctx: ProofContext) -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(stmt, proof, ctx) == "P equation fails"


def test_wrong_statement() -> None:
    stmt, proof = _honest(STANDARD)
    # another N0 changes the challenge (and the z bound, which may already fail)
    assert _reason(_statement(STANDARD, paillier_key(STANDARD, 2).n), proof) in (
        "P equation fails", "z1 out of range", "z2 out of range")
    # a proof made against one verifier's parameters is useless to another verifier
    other = dataclasses.replace(stmt, rp=ring_pedersen(STANDARD, 2).params)
    with pytest.raises(InvalidProof):
        fac.verify(_ctx(STANDARD), other, proof)


# --- decoding ----------------------------------------------------------------------------------


def test_truncated_and_padded() -> None:
    _, proof = _honest(STANDARD)
    data = proof.to_bytes()
    for bad in (data[:-1], data[:10], b"", data + b"\x00", data + data):
        with pytest.raises(DecodeError):
            fac.Proof.from_bytes(bad, STANDARD)


def test_decode_field_count() -> None:
    from tss.zk._codec import Writer

    _, proof = _honest(STANDARD)
    values = [getattr(proof, f) for f in FIELDS]
    for fields in (values[:10], [*values, 1]):
        w = Writer()
        for v in fields:
            w.int(v)
        with pytest.raises(DecodeError):
            fac.Proof.from_bytes(w.getvalue(), STANDARD)


@pytest.mark.parametrize("name", FIELDS)
def test_decode_oversized_field(name: str) -> None:
    _, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, **{name: 1 << 6000})
    with pytest.raises(DecodeError):
        fac.Proof.from_bytes(bad.to_bytes(), STANDARD)


@pytest.mark.parametrize("name", ["P", "Q", "A", "B", "T"])
def test_decode_negative_commitment(name: str) -> None:
    _, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, **{name: -getattr(proof, name)})
    with pytest.raises(DecodeError):
        fac.Proof.from_bytes(bad.to_bytes(), STANDARD)


def test_decode_wrong_level() -> None:
    _, proof = _honest(HIGH)
    with pytest.raises(DecodeError):
        fac.Proof.from_bytes(proof.to_bytes(), STANDARD)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=4000))
def test_garbage_bytes(data: bytes) -> None:
    stmt, _ = _honest(STANDARD)
    try:
        proof = fac.Proof.from_bytes(data, STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        fac.verify(_ctx(STANDARD), stmt, proof)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_flipped_byte(pos: int, xor: int) -> None:
    stmt, proof = _honest(STANDARD)
    data = bytearray(proof.to_bytes())
    data[pos % len(data)] ^= xor
    try:
        bad = fac.Proof.from_bytes(bytes(data), STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        fac.verify(_ctx(STANDARD), stmt, bad)


# --- unbalanced moduli (attacks.md A-1, T-1 "unbalanced N") ------------------------------------
#
# Πfac is complete for ANY factorization N0 = p q: the three equations hold whatever p and q are.
# What it adds is the range check |z1|, |z2| <= sqrt(N0) 2^(ell+eps). Soundness (strong RSA on the
# verifier's parameters) lets the verifier extract p, q with |p|, |q| <= sqrt(N0) 2^(ell+eps), so
# neither factor can be below sqrt(N0) / 2^(ell+eps) = 2^(1024-486) = 2^538 at STANDARD. The honest
# prover code run with an unbalanced witness shows the mechanism: with p small, q = N0 / p is
# large and z2 = beta + e q has |z2| ~ |e| q ~ 2^127 q. For p ~ 2^200, q ~ 2^1848 and |z2| ~ 2^1975,
# far above the bound 2^1510, so the verifier rejects with "z2 out of range" (the chance that
# |e| < 2^-338 * 2^128 is nil). Swapping p and q moves the failure to z1.


def _complete(cofactor: int, bits: int = 2048) -> int:
    r = int(gmpy2.next_prime((1 << (bits - 1)) // cofactor + 1))
    assert (cofactor * r).bit_length() == bits
    return r


@functools.cache
def _unbalanced() -> tuple[int, int]:
    p = int(gmpy2.next_prime(SeededRng("small-factor").bits(200) | (1 << 199)))
    return p, _complete(p)


@functools.cache
def _bitforge() -> tuple[int, int]:
    """The product of 16 distinct ~2^16 primes and one large prime, N0 of exactly 2048 bits."""
    small: list[int] = []
    p = 1 << 16
    while len(small) < 16:
        p = int(gmpy2.next_prime(p))
        small.append(p)
    s = prod(small)
    return s, _complete(s)


def _assert_equations_hold(stmt: fac.Statement, proof: fac.Proof) -> None:
    nh, s, t = stmt.rp.n, stmt.rp.s, stmt.rp.t
    e = fac._challenge(_ctx(STANDARD), stmt, proof.P, proof.Q, proof.A, proof.B, proof.T,
                       proof.sigma)
    R = multi_powmod([s, t], [stmt.n0, proof.sigma], nh)
    assert multi_powmod([s, t], [proof.z1, proof.w1], nh) == proof.A * powmod(proof.P, e, nh) % nh
    assert multi_powmod([s, t], [proof.z2, proof.w2], nh) == proof.B * powmod(proof.Q, e, nh) % nh
    assert multi_powmod([proof.Q, t], [proof.z1, proof.v], nh) == proof.T * powmod(R, e, nh) % nh


@pytest.mark.parametrize("swap", [False, True], ids=["small-p", "small-q"])
def test_unbalanced_factor_rejected(swap: bool) -> None:
    p, q = _unbalanced()
    n0 = p * q
    assert n0.bit_length() == 2048 and p.bit_length() == 200
    if swap:
        p, q = q, p
    stmt = _statement(STANDARD, n0)
    proof = fac.prove(_ctx(STANDARD), stmt, fac.Witness(PaillierSecretKey(p, q)),
                      SeededRng("unbalanced"))
    expected = "z1 out of range" if swap else "z2 out of range"
    assert _reason(stmt, proof) == expected
    # the equations themselves hold (Πfac is complete for any factorization): only the range
    # check stands between this N0 and acceptance
    _assert_equations_hold(stmt, proof)
    assert abs(proof.z1 if swap else proof.z2) > _bounds(STANDARD, stmt)["z2"] << 300


def test_bitforge_modulus_rejected() -> None:
    """attacks.md A-1: N0 = 16 small primes (a ~2^256 "p") times one large prime."""
    s, r = _bitforge()
    n0 = s * r
    assert n0.bit_length() == 2048 and gcd(s, r) == 1
    stmt = _statement(STANDARD, n0)
    proof = fac.prove(_ctx(STANDARD), stmt, fac.Witness(PaillierSecretKey(s, r)),
                      SeededRng("bitforge"))
    assert _reason(stmt, proof) == "z2 out of range"
    _assert_equations_hold(stmt, proof)
    # and a proof copied from the honest modulus does not transfer
    _, honest = _honest(STANDARD)
    assert _reason(stmt, honest) in ("P equation fails", "z1 out of range", "z2 out of range")


def test_balanced_but_not_safe_primes_accepted() -> None:
    """The range check only rules out small factors: two balanced ordinary primes pass Πfac
    (Πmod is what demands the Blum structure)."""
    rng = SeededRng("balanced")
    p = int(gmpy2.next_prime(rng.bits(1024) | (3 << 1022)))
    q = _complete(p)
    stmt = _statement(STANDARD, p * q)
    proof = fac.prove(_ctx(STANDARD), stmt, fac.Witness(PaillierSecretKey(p, q)), rng)
    fac.verify(_ctx(STANDARD), stmt, proof)
