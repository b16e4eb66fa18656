"""Πenc (CGGMP21 Fig. 14): completeness, every verifier check, tampering, binding, decoding."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import paillier_key, ring_pedersen
from tss.curve import Q
from tss.errors import DecodeError, InvalidProof, UsageError
from tss.paillier import PaillierPublicKey, RingPedersen
from tss.params import HIGH, STANDARD, SecurityLevel
from tss.randomness import SeededRng
from tss.zk import enc
from tss.zk._common import ProofContext

SID = b"test-session-enc"


def _ctx(level: SecurityLevel, sid: bytes = SID, prover: int = 1, rnd: int = 3) -> ProofContext:
    return ProofContext(sid, prover, level, rnd)


@functools.cache
def _case(level: SecurityLevel):
    """(ctx, statement, witness, proof) with the prover's key 0 and the verifier's rp on key 1."""
    rng = SeededRng(f"enc-{level.name}")
    sk = paillier_key(level, 0)
    rp = ring_pedersen(level, 1).params
    k = rng.scalar(Q)
    K, rho = sk.encrypt(k, rng)
    stmt = enc.Statement(sk.public, K, rp)
    wit = enc.Witness(k, rho, sk)
    ctx = _ctx(level)
    return ctx, stmt, wit, enc.prove(ctx, stmt, wit, rng)


def _reason(ctx: ProofContext, stmt: enc.Statement, proof: object) -> str:
    with pytest.raises(InvalidProof) as ei:
        enc.verify(ctx, stmt, proof)  # type: ignore[arg-type]
    assert ei.value.proof == enc.TAG
    return ei.value.reason


# -- completeness and encoding ------------------------------------------------------------------

def test_completeness(level: SecurityLevel) -> None:
    ctx, stmt, _, proof = _case(level)
    enc.verify(ctx, stmt, proof)


def test_roundtrip(level: SecurityLevel) -> None:
    ctx, stmt, _, proof = _case(level)
    data = proof.to_bytes()
    again = enc.Proof.from_bytes(data, level)
    assert again == proof
    assert again.to_bytes() == data
    enc.verify(ctx, stmt, again)


def test_completeness_without_crt_and_negative_k() -> None:
    level = STANDARD
    rng = SeededRng("enc-nocrt")
    sk = paillier_key(level, 0)
    rp = ring_pedersen(level, 1).params
    for k in (-(1 << level.ell), 0, 1 << level.ell):
        K, rho = sk.encrypt(k, rng)
        stmt = enc.Statement(sk.public, K, rp)
        enc.verify(_ctx(level), stmt, enc.prove(_ctx(level), stmt, enc.Witness(k, rho), rng))


def test_witness_repr_hides_secrets() -> None:
    _, _, wit, _ = _case(STANDARD)
    assert str(wit.k) not in repr(wit) and "secret" in repr(wit)


def test_prover_rejects_bad_witness() -> None:
    ctx, stmt, wit, _ = _case(STANDARD)
    with pytest.raises(UsageError):
        enc.prove(ctx, stmt, dataclasses.replace(wit, k=(1 << ctx.level.ell) + 1))
    with pytest.raises(UsageError):
        enc.prove(ctx, stmt, dataclasses.replace(wit, rho=0))
    with pytest.raises(UsageError):
        enc.prove(ctx, stmt, dataclasses.replace(wit, sk=paillier_key(STANDARD, 2)))


# -- every verifier check -----------------------------------------------------------------------

def _bad_unit_values(n: int, factor: int) -> list[int]:
    return [0, n, n + 1, factor, -1]


def test_not_a_proof() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    assert _reason(ctx, stmt, proof.to_bytes()) == "not a Πenc proof"


def test_statement_modulus_sizes() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    small = dataclasses.replace(stmt, pk0=PaillierPublicKey(stmt.pk0.n >> 1))
    assert _reason(ctx, small, proof) == "prover modulus N0 has the wrong size"
    rp = stmt.rp
    small_rp = dataclasses.replace(stmt, rp=RingPedersen(rp.n >> 1, rp.s, rp.t))
    assert _reason(ctx, small_rp, proof) == "ring-Pedersen modulus has the wrong size"
    for s in (0, rp.n, paillier_key(STANDARD, 1).p):
        bad = dataclasses.replace(stmt, rp=RingPedersen(rp.n, s, rp.t))
        assert _reason(ctx, bad, proof) == "ring-Pedersen s, t not in Z*_Nhat"
    bad = dataclasses.replace(stmt, rp=RingPedersen(rp.n, rp.s, 0))
    assert _reason(ctx, bad, proof) == "ring-Pedersen s, t not in Z*_Nhat"


def test_statement_ciphertext_not_unit() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    p0 = paillier_key(STANDARD, 0).p
    for K in _bad_unit_values(stmt.pk0.n2, p0):
        bad = dataclasses.replace(stmt, K=K)
        assert _reason(ctx, bad, proof) == "statement K not in Z*_N0^2"


@pytest.mark.parametrize(
    "field, reason",
    [("S", "S not in Z*_Nhat"), ("A", "A not in Z*_N0^2"), ("C", "C not in Z*_Nhat"),
     ("z2", "z2 not in Z*_N0")],
)
def test_elements_not_units(field: str, reason: str) -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    if field == "A":
        n, factor = stmt.pk0.n2, paillier_key(STANDARD, 0).q
    elif field == "z2":
        n, factor = stmt.pk0.n, paillier_key(STANDARD, 0).q
    else:
        n, factor = stmt.rp.n, paillier_key(STANDARD, 1).q  # the verifier's rp is on key 1
    for v in _bad_unit_values(n, factor):
        assert _reason(ctx, stmt, dataclasses.replace(proof, **{field: v})) == reason


def test_z1_out_of_range() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    b = 1 << (STANDARD.ell + STANDARD.epsilon)
    for z1 in (b + 1, -b - 1, 1 << 3000):
        assert _reason(ctx, stmt, dataclasses.replace(proof, z1=z1)) == "z1 out of range"
    # the bound itself is in range (then the equations fail)
    assert _reason(ctx, stmt, dataclasses.replace(proof, z1=b)) == "Paillier equation fails"


def test_z3_out_of_range() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    b = stmt.rp.n << (STANDARD.ell + STANDARD.epsilon + 1)
    for z3 in (b + 1, -b - 1):
        assert _reason(ctx, stmt, dataclasses.replace(proof, z3=z3)) == "z3 out of range"


def test_non_int_responses() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    assert _reason(ctx, stmt, dataclasses.replace(proof, z1=True)) == "z1 out of range"
    assert _reason(ctx, stmt, dataclasses.replace(proof, z2=1.0)) == "z2 not in Z*_N0"
    assert _reason(ctx, stmt, dataclasses.replace(proof, S=None)) == "S not in Z*_Nhat"


def test_paillier_equation_alone() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    bad = dataclasses.replace(proof, z2=proof.z2 * 2 % stmt.pk0.n)  # only in that equation
    assert _reason(ctx, stmt, bad) == "Paillier equation fails"


def test_ring_pedersen_equation_alone() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    bad = dataclasses.replace(proof, z3=proof.z3 + 1)  # only in that equation
    assert _reason(ctx, stmt, bad) == "ring-Pedersen equation fails"


def test_cheating_prover_with_large_k_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prover whose plaintext is far out of range, running the honest algorithm, fails the
    range check on z1 (the prover's own guard is disabled for this test)."""
    level = STANDARD
    rng = SeededRng("enc-cheat")
    sk = paillier_key(level, 0)
    k = 1 << (level.ell + level.epsilon + level.challenge_bits + 2)
    K, rho = sk.encrypt(k, rng)
    stmt = enc.Statement(sk.public, K, ring_pedersen(level, 1).params)
    monkeypatch.setattr(enc, "in_signed_range", lambda v, bits: True)
    proof = enc.prove(_ctx(level), stmt, enc.Witness(k, rho, sk), rng)
    monkeypatch.undo()
    assert _reason(_ctx(level), stmt, proof) == "z1 out of range"


# -- tampering and binding ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "field, reason",
    [("S", "Paillier equation fails"), ("A", "Paillier equation fails"),
     ("C", "Paillier equation fails"), ("z1", "Paillier equation fails"),
     ("z2", "Paillier equation fails"), ("z3", "ring-Pedersen equation fails")],
)
def test_tampered_field(field: str, reason: str) -> None:
    # S, A, C feed the challenge, so the first equation fails; z3 only enters the second one
    ctx, stmt, _, proof = _case(STANDARD)
    v = getattr(proof, field)
    for tampered in (v + 1, v - 1):
        if field in ("S", "C"):
            tampered %= stmt.rp.n
        elif field == "A":
            tampered %= stmt.pk0.n2
        elif field == "z2":
            tampered %= stmt.pk0.n
        assert _reason(ctx, stmt, dataclasses.replace(proof, **{field: tampered})) == reason


@pytest.mark.parametrize(
    "ctx2",
    [_ctx(STANDARD, sid=b"other-session"), _ctx(STANDARD, prover=2), _ctx(STANDARD, rnd=4)],
    ids=["session", "prover", "round"],
)
def test_wrong_context(ctx2: ProofContext) -> None:
    _, stmt, _, proof = _case(STANDARD)
    assert _reason(ctx2, stmt, proof) == "Paillier equation fails"


def test_wrong_statement() -> None:
    ctx, stmt, wit, proof = _case(STANDARD)
    sk = paillier_key(STANDARD, 0)
    other_K, _ = sk.encrypt(wit.k, SeededRng("other"))
    assert _reason(ctx, dataclasses.replace(stmt, K=other_K), proof) == "Paillier equation fails"
    other_rp = dataclasses.replace(stmt, rp=ring_pedersen(STANDARD, 2).params)
    assert _reason(ctx, other_rp, proof) == "Paillier equation fails"
    # the same proof under another prover key is rejected too
    other_pk = dataclasses.replace(stmt, pk0=paillier_key(STANDARD, 2).public)
    with pytest.raises(InvalidProof):
        enc.verify(ctx, other_pk, proof)


def test_proof_for_other_level_rejected() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    high_ctx = _ctx(HIGH)
    assert _reason(high_ctx, stmt, proof) == "prover modulus N0 has the wrong size"


# -- decoding -----------------------------------------------------------------------------------

def test_truncated_and_padded() -> None:
    _, _, _, proof = _case(STANDARD)
    data = proof.to_bytes()
    for cut in range(0, len(data), 7):
        with pytest.raises(DecodeError):
            enc.Proof.from_bytes(data[:cut], STANDARD)
    with pytest.raises(DecodeError):
        enc.Proof.from_bytes(data[:-1], STANDARD)
    for pad in (b"\x00", b"\x01", data[:3]):
        with pytest.raises(DecodeError):
            enc.Proof.from_bytes(data + pad, STANDARD)


def test_decode_rejects_oversize_and_noncanonical() -> None:
    _, _, _, proof = _case(STANDARD)
    nb = STANDARD.paillier_bits
    for field, v in (("S", 1 << nb), ("A", 1 << (2 * nb)), ("z2", 1 << nb),
                     ("z1", 1 << (2 * nb)), ("z3", -(1 << (2 * nb))), ("S", -5)):
        with pytest.raises(DecodeError):
            enc.Proof.from_bytes(dataclasses.replace(proof, **{field: v}).to_bytes(), STANDARD)
    data = proof.to_bytes()
    # S is first: sign byte, 2-byte length, magnitude. Insert a leading zero byte.
    n = int.from_bytes(data[1:3], "big")
    padded = data[:1] + (n + 1).to_bytes(2, "big") + b"\x00" + data[3:]
    with pytest.raises(DecodeError):
        enc.Proof.from_bytes(padded, STANDARD)
    with pytest.raises(DecodeError):
        enc.Proof.from_bytes(b"\x02" + data[1:], STANDARD)  # bad sign byte
    with pytest.raises(DecodeError):
        enc.Proof.from_bytes("text", STANDARD)  # type: ignore[arg-type]


def _decode_and_verify(data: bytes) -> None:
    ctx, stmt, _, _ = _case(STANDARD)
    try:
        proof = enc.Proof.from_bytes(data, STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        enc.verify(ctx, stmt, proof)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_garbage_bytes(data: bytes) -> None:
    _decode_and_verify(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_flipped_byte(data: st.DataObject) -> None:
    _, _, _, proof = _case(STANDARD)
    raw = bytearray(proof.to_bytes())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    _decode_and_verify(bytes(raw))
