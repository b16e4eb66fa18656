"""Πprm (CGGMP21 Fig. 17): completeness, every verifier check, encoding, and s outside <t>."""

from __future__ import annotations

import dataclasses
import functools

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import paillier_key, ring_pedersen
from tss.errors import DecodeError, InvalidProof, UsageError
from tss.paillier import RingPedersen, RingPedersenSecret
from tss.params import HIGH, STANDARD, SecurityLevel
from tss.randomness import SeededRng
from tss.zk import prm
from tss.zk._common import ProofContext

SID = b"zk-prm-test-session"


def _ctx(level: SecurityLevel, sid: bytes = SID, prover: int = 2, round: int = 1) -> ProofContext:
    return ProofContext(sid, prover, level, round)


@functools.cache
def _honest(level: SecurityLevel) -> tuple[prm.Statement, prm.Proof]:
    secret = ring_pedersen(level, 0)
    stmt = prm.Statement(secret.params)
    wit = prm.Witness(secret, paillier_key(level, 0))
    return stmt, prm.prove(_ctx(level), stmt, wit, SeededRng(f"prm-{level.name}"))


def _reason(stmt: prm.Statement, proof: prm.Proof, ctx: ProofContext | None = None) -> str:
    with pytest.raises(InvalidProof) as exc:
        prm.verify(ctx or _ctx(STANDARD), stmt, proof)
    assert exc.value.proof == prm.TAG
    return exc.value.reason


def _set(values: tuple[int, ...], i: int, v: object) -> tuple[int, ...]:
    out = list(values)
    out[i] = v  # type: ignore[call-overload]
    return tuple(out)


def _bits(stmt: prm.Statement, proof: prm.Proof) -> list[int]:
    return prm._challenge(_ctx(STANDARD), stmt.params, proof.A)


# --- completeness and encoding -----------------------------------------------------------------


def test_completeness(level: SecurityLevel) -> None:
    stmt, proof = _honest(level)
    assert len(proof.A) == len(proof.z) == level.iterations
    prm.verify(_ctx(level), stmt, proof)


def test_completeness_without_crt() -> None:
    secret = ring_pedersen(STANDARD, 1)
    stmt = prm.Statement(secret.params)
    proof = prm.prove(_ctx(STANDARD), stmt, prm.Witness(secret))
    prm.verify(_ctx(STANDARD), stmt, proof)


def test_roundtrip(level: SecurityLevel) -> None:
    stmt, proof = _honest(level)
    data = proof.to_bytes()
    again = prm.Proof.from_bytes(data, level)
    assert again == proof
    assert again.to_bytes() == data


def test_challenges_use_both_values() -> None:
    stmt, proof = _honest(STANDARD)
    bits = _bits(stmt, proof)
    assert 32 < sum(bits) < 96
    assert any(bits[32:]) and not all(bits[32:])  # the high bits are live


def test_witness_repr_hides_secret() -> None:
    secret = ring_pedersen(STANDARD, 0)
    text = repr(prm.Witness(secret, paillier_key(STANDARD, 0)))
    assert str(secret.lam) not in text and "secret" in text


def test_prover_refuses_mismatched_witness() -> None:
    stmt = prm.Statement(ring_pedersen(STANDARD, 1).params)
    with pytest.raises(UsageError):
        prm.prove(_ctx(STANDARD), stmt, prm.Witness(ring_pedersen(STANDARD, 0)))
    with pytest.raises(UsageError):
        prm.prove(_ctx(STANDARD), stmt,
                  prm.Witness(ring_pedersen(STANDARD, 1), paillier_key(STANDARD, 0)))


# --- each verifier check -----------------------------------------------------------------------


def test_not_a_proof() -> None:
    stmt, _ = _honest(STANDARD)
    assert _reason(stmt, b"proof") == "not a Πprm proof"  # type: ignore[arg-type]


def test_statement_not_parameters() -> None:
    _, proof = _honest(STANDARD)
    stmt = prm.Statement((1, 2, 3))  # type: ignore[arg-type]
    assert _reason(stmt, proof) == "statement is not ring-Pedersen parameters"


@pytest.mark.parametrize("shift", [-2, -1, 1, 1024])
def test_modulus_size(shift: int) -> None:
    stmt, proof = _honest(STANDARD)
    p = stmt.params
    n = p.n >> -shift if shift < 0 else p.n << shift
    bad = prm.Statement(RingPedersen(n | 1, p.s % n, p.t % n))
    assert _reason(bad, proof) == "modulus size"


def test_wrong_level_context() -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(stmt, proof, _ctx(HIGH)) == "modulus size"


@pytest.mark.parametrize("change", ["s=t", "s=0", "s=1", "s=n-1", "t=1", "t=n", "s=p", "t=q",
                                    "s=bool"])
def test_invalid_parameters(change: str) -> None:
    stmt, proof = _honest(STANDARD)
    key = paillier_key(STANDARD, 0)
    p = stmt.params
    values = {"t": p.t, "0": 0, "1": 1, "n-1": p.n - 1, "n": p.n, "p": key.p, "q": key.q,
              "bool": True}
    field, what = change.split("=")
    bad = prm.Statement(dataclasses.replace(p, **{field: values[what]}))
    with pytest.raises(InvalidProof) as exc:
        prm.verify(_ctx(STANDARD), bad, proof)
    assert exc.value.reason == "invalid ring-Pedersen parameters"
    assert isinstance(exc.value.__cause__, DecodeError)


@pytest.mark.parametrize("field", ["A", "z"])
@pytest.mark.parametrize("count", [0, 127, 129])
def test_wrong_number_of_iterations(field: str, count: int) -> None:
    stmt, proof = _honest(STANDARD)
    values = (getattr(proof, field) * 2)[:count]
    assert _reason(stmt, dataclasses.replace(proof, **{field: values})) == \
        "wrong number of iterations"


def test_lists_not_sequences() -> None:
    stmt, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, A=iter(proof.A))  # type: ignore[arg-type]
    assert _reason(stmt, bad) == "wrong number of iterations"


@pytest.mark.parametrize("value", [0, -3, "n", "n+1", 2.0, True])
def test_commitment_out_of_range(value: object) -> None:
    stmt, proof = _honest(STANDARD)
    n = stmt.params.n
    v = {"n": n, "n+1": n + 1}.get(value, value)  # type: ignore[call-overload]
    assert _reason(stmt, dataclasses.replace(proof, A=_set(proof.A, 4, v))) == "A out of range"


def test_commitment_not_a_unit() -> None:
    stmt, proof = _honest(STANDARD)
    q = paillier_key(STANDARD, 0).q
    assert _reason(stmt, dataclasses.replace(proof, A=_set(proof.A, 4, q))) == "A is not a unit"


@pytest.mark.parametrize("value", [-1, "n", "n+7", 1 << 4000, "z"])
def test_response_out_of_range(value: object) -> None:
    stmt, proof = _honest(STANDARD)
    n = stmt.params.n
    v = {"n": n, "n+7": n + 7}.get(value, value)  # type: ignore[call-overload]
    assert _reason(stmt, dataclasses.replace(proof, z=_set(proof.z, 100, v))) == "z out of range"


@pytest.mark.parametrize("bit", [0, 1])
def test_equation_each_challenge_value(bit: int) -> None:
    """Tamper a response at an index whose challenge bit is 0, then 1."""
    stmt, proof = _honest(STANDARD)
    i = _bits(stmt, proof).index(bit)
    bad = dataclasses.replace(proof, z=_set(proof.z, i, (proof.z[i] + 1) % stmt.params.n))
    assert _reason(stmt, bad) == "verification equation fails"


@pytest.mark.parametrize("i", [0, 127])
def test_tampered_commitment(i: int) -> None:
    stmt, proof = _honest(STANDARD)
    n, t = stmt.params.n, stmt.params.t
    bad = dataclasses.replace(proof, A=_set(proof.A, i, proof.A[i] * t % n))
    assert _reason(stmt, bad) == "verification equation fails"


def test_swapped_iterations() -> None:
    stmt, proof = _honest(STANDARD)
    bad = prm.Proof(proof.A[::-1], proof.z[::-1])
    assert _reason(stmt, bad) == "verification equation fails"


@pytest.mark.parametrize("ctx", [
    _ctx(STANDARD, sid=b"another session"),
    _ctx(STANDARD, prover=3),
    _ctx(STANDARD, round=2),
], ids=["session", "prover", "round"])
def test_wrong_context(ctx: ProofContext) -> None:
    stmt, proof = _honest(STANDARD)
    assert _reason(stmt, proof, ctx) == "verification equation fails"


def test_wrong_statement() -> None:
    stmt, proof = _honest(STANDARD)
    other = prm.Statement(ring_pedersen(STANDARD, 1).params)
    with pytest.raises(InvalidProof):
        prm.verify(_ctx(STANDARD), other, proof)
    # same modulus, s and t swapped
    p = stmt.params
    assert _reason(prm.Statement(RingPedersen(p.n, p.t, p.s)), proof) == \
        "verification equation fails"


# --- s outside <t> (attacks.md A-19 consequence) -----------------------------------------------


def _lying(s_of: str) -> tuple[prm.Statement, prm.Witness]:
    secret = ring_pedersen(STANDARD, 0)
    key = paillier_key(STANDARD, 0)
    n, t, lam = secret.params.n, secret.params.t, secret.lam
    s = key.powmod_n(t, lam)
    if s_of == "minus":
        s = n - s  # -1 is a non-residue mod both Blum primes, t^lam a residue
    else:
        rng = SeededRng("jacobi")
        while True:
            w = rng.unit(n)
            if gmpy2.jacobi(w, n) == -1:
                break
        s = s * w % n  # Jacobi symbol -1, while every element of <t> has Jacobi symbol 1
    params = RingPedersen(n, s, t)
    params.validate()
    return prm.Statement(params), prm.Witness(RingPedersenSecret(params, lam, key.phi), key)


@pytest.mark.parametrize("s_of", ["minus", "jacobi"])
def test_s_not_in_t_subgroup(s_of: str) -> None:
    stmt, wit = _lying(s_of)
    proof = prm.prove(_ctx(STANDARD), stmt, wit, SeededRng("liar"))
    assert _reason(stmt, proof) == "verification equation fails"


def test_guessing_cheater() -> None:
    """A prover without lambda answers each round for a guessed bit (A = t^z s^-e_guess); the
    derived bits differ from its guesses somewhere (all 128 would have to match), and the
    all-zero guess that the A-19 bug would have made mostly right fails as well."""
    stmt, wit = _lying("jacobi")
    n, s, t = stmt.params.n, stmt.params.s, stmt.params.t
    rng = SeededRng("guess")
    s_inv = pow(s, -1, n)
    z = [rng.below(n) for _ in range(128)]
    tz = [int(gmpy2.powmod(t, zi, n)) for zi in z]
    for guesses in ([0] * 128, [1] * 128, [rng.bits(1) for _ in range(128)]):
        A = [v * s_inv % n if g else v for v, g in zip(tz, guesses, strict=True)]
        proof = prm.Proof(tuple(A), tuple(z))
        assert _reason(stmt, proof) == "verification equation fails"


# --- decoding ----------------------------------------------------------------------------------


def test_truncated_and_padded() -> None:
    _, proof = _honest(STANDARD)
    data = proof.to_bytes()
    for bad in (data[:-1], data[:2], b"", data + b"\x00", data + data):
        with pytest.raises(DecodeError):
            prm.Proof.from_bytes(bad, STANDARD)


@pytest.mark.parametrize("count", [127, 129])
def test_decode_wrong_iterations(count: int) -> None:
    _, proof = _honest(STANDARD)
    bad = prm.Proof((proof.A * 2)[:count], (proof.z * 2)[:count])
    with pytest.raises(DecodeError):
        prm.Proof.from_bytes(bad.to_bytes(), STANDARD)


@pytest.mark.parametrize("field,value", [("A", -1), ("A", 1 << 2048), ("z", -5),
                                         ("z", 1 << 2050)])
def test_decode_field_range(field: str, value: int) -> None:
    _, proof = _honest(STANDARD)
    bad = dataclasses.replace(proof, **{field: _set(getattr(proof, field), 3, value)})
    with pytest.raises(DecodeError):
        prm.Proof.from_bytes(bad.to_bytes(), STANDARD)


def test_decode_wrong_level() -> None:
    _, proof = _honest(HIGH)
    with pytest.raises(DecodeError):
        prm.Proof.from_bytes(proof.to_bytes(), STANDARD)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_bytes(data: bytes) -> None:
    stmt, _ = _honest(STANDARD)
    try:
        proof = prm.Proof.from_bytes(data, STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        prm.verify(_ctx(STANDARD), stmt, proof)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_flipped_byte(pos: int, xor: int) -> None:
    stmt, proof = _honest(STANDARD)
    data = bytearray(proof.to_bytes())
    data[pos % len(data)] ^= xor
    try:
        bad = prm.Proof.from_bytes(bytes(data), STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        prm.verify(_ctx(STANDARD), stmt, bad)
