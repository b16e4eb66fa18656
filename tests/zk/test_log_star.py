"""Πlog* (CGGMP21 Fig. 25): completeness, every verifier check, tampering, binding, decoding."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import paillier_key, ring_pedersen
from tss.curve import G, Point, Q, base_mul
from tss.errors import DecodeError, InvalidProof, UsageError
from tss.paillier import PaillierPublicKey, RingPedersen
from tss.params import HIGH, STANDARD, SecurityLevel
from tss.randomness import SeededRng
from tss.zk import log_star
from tss.zk._common import ProofContext

SID = b"test-session-log-star"


def _ctx(level: SecurityLevel, sid: bytes = SID, prover: int = 1, rnd: int = 3) -> ProofContext:
    return ProofContext(sid, prover, level, rnd)


@functools.cache
def _case(level: SecurityLevel, base: str = "R"):
    """(ctx, statement, witness, proof): prover's key 0, verifier's rp on key 1, base g = R (a
    random point) or G."""
    rng = SeededRng(f"log-star-{level.name}-{base}")
    sk = paillier_key(level, 0)
    rp = ring_pedersen(level, 1).params
    g = base_mul(rng.scalar(Q)) if base == "R" else G
    x = rng.scalar(Q)
    C, rho = sk.encrypt(x, rng)
    stmt = log_star.Statement(sk.public, C, g * x, rp, g)
    wit = log_star.Witness(x, rho, sk)
    ctx = _ctx(level)
    return ctx, stmt, wit, log_star.prove(ctx, stmt, wit, rng)


def _reason(ctx: ProofContext, stmt: log_star.Statement, proof: object) -> str:
    with pytest.raises(InvalidProof) as ei:
        log_star.verify(ctx, stmt, proof)  # type: ignore[arg-type]
    assert ei.value.proof == log_star.TAG
    return ei.value.reason


# -- completeness and encoding ------------------------------------------------------------------

def test_completeness(level: SecurityLevel) -> None:
    ctx, stmt, _, proof = _case(level)
    log_star.verify(ctx, stmt, proof)


def test_completeness_base_g() -> None:
    ctx, stmt, _, proof = _case(STANDARD, "G")
    assert stmt.g == G
    log_star.verify(ctx, stmt, proof)


def test_roundtrip(level: SecurityLevel) -> None:
    ctx, stmt, _, proof = _case(level)
    data = proof.to_bytes()
    again = log_star.Proof.from_bytes(data, level)
    assert again == proof
    assert again.to_bytes() == data
    log_star.verify(ctx, stmt, again)


def test_completeness_without_crt_and_negative_x() -> None:
    level = STANDARD
    rng = SeededRng("log-star-nocrt")
    sk = paillier_key(level, 0)
    rp = ring_pedersen(level, 1).params
    g = base_mul(12345)
    for x in (-(1 << level.ell), -5, 1 << level.ell):
        C, rho = sk.encrypt(x, rng)
        stmt = log_star.Statement(sk.public, C, g * x, rp, g)
        proof = log_star.prove(_ctx(level), stmt, log_star.Witness(x, rho), rng)
        log_star.verify(_ctx(level), stmt, proof)


def test_witness_repr_hides_secrets() -> None:
    _, _, wit, _ = _case(STANDARD)
    assert str(wit.x) not in repr(wit) and "secret" in repr(wit)


def test_prover_rejects_bad_witness() -> None:
    ctx, stmt, wit, _ = _case(STANDARD)
    with pytest.raises(UsageError):
        log_star.prove(ctx, stmt, dataclasses.replace(wit, x=-(1 << ctx.level.ell) - 1))
    with pytest.raises(UsageError):
        log_star.prove(ctx, stmt, dataclasses.replace(wit, rho=stmt.pk0.n))
    with pytest.raises(UsageError):
        log_star.prove(ctx, stmt, dataclasses.replace(wit, sk=paillier_key(STANDARD, 2)))
    with pytest.raises(UsageError):
        log_star.prove(ctx, dataclasses.replace(stmt, g=Point.identity()), wit)


# -- every verifier check -----------------------------------------------------------------------

def _bad_unit_values(n: int, factor: int) -> list[int]:
    return [0, n, n + 1, factor, -1]


def test_not_a_proof() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    assert _reason(ctx, stmt, proof.to_bytes()) == "not a Πlog* proof"


def test_statement_checks() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    small = dataclasses.replace(stmt, pk0=PaillierPublicKey(stmt.pk0.n >> 1))
    assert _reason(ctx, small, proof) == "prover modulus N0 has the wrong size"
    rp = stmt.rp
    small_rp = dataclasses.replace(stmt, rp=RingPedersen(rp.n >> 1, rp.s, rp.t))
    assert _reason(ctx, small_rp, proof) == "ring-Pedersen modulus has the wrong size"
    for s, t in ((0, rp.t), (rp.s, rp.n), (paillier_key(STANDARD, 1).p, rp.t)):
        bad = dataclasses.replace(stmt, rp=RingPedersen(rp.n, s, t))
        assert _reason(ctx, bad, proof) == "ring-Pedersen s, t not in Z*_Nhat"
    for C in _bad_unit_values(stmt.pk0.n2, paillier_key(STANDARD, 0).p):
        assert _reason(ctx, dataclasses.replace(stmt, C=C), proof) == "statement C not in Z*_N0^2"
    bad_g = dataclasses.replace(stmt, g=Point.identity())
    assert _reason(ctx, bad_g, proof) == "base point g is the identity"
    bad_x = dataclasses.replace(stmt, X=Point.identity())
    assert _reason(ctx, bad_x, proof) == "statement X is the identity"


@pytest.mark.parametrize(
    "field, reason",
    [("S", "S not in Z*_Nhat"), ("A", "A not in Z*_N0^2"), ("D", "D not in Z*_Nhat"),
     ("z2", "z2 not in Z*_N0")],
)
def test_elements_not_units(field: str, reason: str) -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    if field == "A":
        n, factor = stmt.pk0.n2, paillier_key(STANDARD, 0).q
    elif field == "z2":
        n, factor = stmt.pk0.n, paillier_key(STANDARD, 0).q
    else:
        n, factor = stmt.rp.n, paillier_key(STANDARD, 1).q
    for v in _bad_unit_values(n, factor):
        assert _reason(ctx, stmt, dataclasses.replace(proof, **{field: v})) == reason


def test_y_identity() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    assert _reason(ctx, stmt, dataclasses.replace(proof, Y=Point.identity())) == "Y is the identity"


def test_z1_out_of_range() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    b = 1 << (STANDARD.ell + STANDARD.epsilon)
    for z1 in (b + 1, -b - 1, 1 << 3000, False):
        assert _reason(ctx, stmt, dataclasses.replace(proof, z1=z1)) == "z1 out of range"
    assert _reason(ctx, stmt, dataclasses.replace(proof, z1=-b)) == "Paillier equation fails"


def test_z3_out_of_range() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    b = stmt.rp.n << (STANDARD.ell + STANDARD.epsilon + 1)
    for z3 in (b + 1, -b - 1):
        assert _reason(ctx, stmt, dataclasses.replace(proof, z3=z3)) == "z3 out of range"


def test_paillier_equation_alone() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    bad = dataclasses.replace(proof, z2=proof.z2 * 3 % stmt.pk0.n)
    assert _reason(ctx, stmt, bad) == "Paillier equation fails"


def test_group_equation_alone() -> None:
    """A prover whose X is not x g but whose Paillier and ring-Pedersen parts are honest."""
    ctx, stmt, wit, _ = _case(STANDARD)
    wrong = dataclasses.replace(stmt, X=stmt.X + stmt.g)
    proof = log_star.prove(ctx, wrong, wit, SeededRng("log-star-wrong-x"))
    assert _reason(ctx, wrong, proof) == "group equation fails"


def test_ring_pedersen_equation_alone() -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    assert (_reason(ctx, stmt, dataclasses.replace(proof, z3=proof.z3 - 1))
            == "ring-Pedersen equation fails")


def test_cheating_prover_with_large_x_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    level = STANDARD
    rng = SeededRng("log-star-cheat")
    sk = paillier_key(level, 0)
    x = 1 << (level.ell + level.epsilon + level.challenge_bits + 2)
    C, rho = sk.encrypt(x, rng)
    stmt = log_star.Statement(sk.public, C, base_mul(x), ring_pedersen(level, 1).params)
    monkeypatch.setattr(log_star, "in_signed_range", lambda v, bits: True)
    proof = log_star.prove(_ctx(level), stmt, log_star.Witness(x, rho, sk), rng)
    monkeypatch.undo()
    assert _reason(_ctx(level), stmt, proof) == "z1 out of range"


# -- tampering and binding ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "field, reason",
    [("S", "Paillier equation fails"), ("A", "Paillier equation fails"),
     ("Y", "Paillier equation fails"), ("D", "Paillier equation fails"),
     ("z1", "Paillier equation fails"), ("z2", "Paillier equation fails"),
     ("z3", "ring-Pedersen equation fails")],
)
def test_tampered_field(field: str, reason: str) -> None:
    ctx, stmt, _, proof = _case(STANDARD)
    v = getattr(proof, field)
    if field == "Y":
        candidates = [v + G, v - G]
    else:
        mod = {"S": stmt.rp.n, "D": stmt.rp.n, "A": stmt.pk0.n2, "z2": stmt.pk0.n}.get(field)
        candidates = [(v + 1) % mod, (v - 1) % mod] if mod else [v + 1, v - 1]
    for tampered in candidates:
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
    other_C, _ = paillier_key(STANDARD, 0).encrypt(wit.x, SeededRng("other"))
    for bad in (dataclasses.replace(stmt, C=other_C),
                dataclasses.replace(stmt, X=stmt.X + G),
                dataclasses.replace(stmt, g=G, X=base_mul(wit.x)),
                dataclasses.replace(stmt, rp=ring_pedersen(STANDARD, 2).params)):
        assert _reason(ctx, bad, proof) == "Paillier equation fails"


def test_proof_for_other_level_rejected() -> None:
    _, stmt, _, proof = _case(STANDARD)
    assert _reason(_ctx(HIGH), stmt, proof) == "prover modulus N0 has the wrong size"


# -- decoding -----------------------------------------------------------------------------------

def test_truncated_and_padded() -> None:
    _, _, _, proof = _case(STANDARD)
    data = proof.to_bytes()
    for cut in list(range(0, len(data), 7)) + [len(data) - 1]:
        with pytest.raises(DecodeError):
            log_star.Proof.from_bytes(data[:cut], STANDARD)
    for pad in (b"\x00", b"\xff", data[:5]):
        with pytest.raises(DecodeError):
            log_star.Proof.from_bytes(data + pad, STANDARD)


def test_decode_rejects_oversize_and_bad_point() -> None:
    _, _, _, proof = _case(STANDARD)
    nb = STANDARD.paillier_bits
    for field, v in (("S", 1 << nb), ("A", 1 << (2 * nb)), ("D", -1), ("z2", 1 << nb),
                     ("z1", -(1 << (2 * nb))), ("z3", 1 << (2 * nb))):
        with pytest.raises(DecodeError):
            log_star.Proof.from_bytes(dataclasses.replace(proof, **{field: v}).to_bytes(),
                                      STANDARD)
    with pytest.raises(DecodeError):  # Y at the identity does not decode
        data = dataclasses.replace(proof, Y=Point.identity()).to_bytes()
        log_star.Proof.from_bytes(data, STANDARD)


def _decode_and_verify(data: bytes) -> None:
    ctx, stmt, _, _ = _case(STANDARD)
    try:
        proof = log_star.Proof.from_bytes(data, STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        log_star.verify(ctx, stmt, proof)


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
