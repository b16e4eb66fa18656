"""Πsch (Schnorr): completeness, every verifier check, tampering, binding, decoding."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tss.curve import G, Point, Q, base_mul
from tss.errors import DecodeError, InvalidProof
from tss.params import HIGH, STANDARD, SecurityLevel
from tss.randomness import SeededRng
from tss.zk import sch
from tss.zk._common import ProofContext

SID = b"test-session-sch"


def _ctx(level: SecurityLevel = STANDARD, sid: bytes = SID, prover: int = 1,
         rnd: int = 1) -> ProofContext:
    return ProofContext(sid, prover, level, rnd)


def _case(level: SecurityLevel = STANDARD, seed: str = "sch"):
    rng = SeededRng(seed)
    x = rng.scalar(Q)
    stmt = sch.Statement(base_mul(x))
    wit = sch.Witness(x)
    ctx = _ctx(level)
    return ctx, stmt, wit, sch.prove(ctx, stmt, wit, rng)


def _reason(ctx: ProofContext, stmt: sch.Statement, proof: object) -> str:
    with pytest.raises(InvalidProof) as ei:
        sch.verify(ctx, stmt, proof)  # type: ignore[arg-type]
    assert ei.value.proof == sch.TAG
    return ei.value.reason


def test_completeness(level: SecurityLevel) -> None:
    ctx, stmt, _, proof = _case(level)
    sch.verify(ctx, stmt, proof)


def test_completeness_many_witnesses() -> None:
    for i, x in enumerate((1, 2, Q - 1, Q // 2)):
        stmt = sch.Statement(base_mul(x))
        sch.verify(_ctx(), stmt, sch.prove(_ctx(), stmt, sch.Witness(x), SeededRng(i)))


def test_roundtrip(level: SecurityLevel) -> None:
    ctx, stmt, _, proof = _case(level)
    data = proof.to_bytes()
    assert len(data) <= 33 + 3 + 32  # point, sign, length, z without leading zeros
    again = sch.Proof.from_bytes(data)
    assert again == proof and again.to_bytes() == data
    sch.verify(ctx, stmt, again)


def test_witness_repr_hides_secret() -> None:
    _, _, wit, _ = _case()
    assert str(wit.x) not in repr(wit) and "secret" in repr(wit)


# -- every verifier check -----------------------------------------------------------------------

def test_not_a_proof() -> None:
    ctx, stmt, _, proof = _case()
    assert _reason(ctx, stmt, proof.to_bytes()) == "not a Πsch proof"


def test_statement_identity() -> None:
    ctx, _, _, proof = _case()
    assert _reason(ctx, sch.Statement(Point.identity()), proof) == "statement is the identity"


def test_commitment_identity() -> None:
    ctx, stmt, _, proof = _case()
    bad = dataclasses.replace(proof, A=Point.identity())
    assert _reason(ctx, stmt, bad) == "commitment is the identity"


def test_response_out_of_range() -> None:
    ctx, stmt, _, proof = _case()
    for z in (Q, Q + proof.z, -1, -proof.z, 1 << 300):
        assert _reason(ctx, stmt, dataclasses.replace(proof, z=z)) == "response out of range"


def test_equation() -> None:
    ctx, stmt, _, proof = _case()
    assert (_reason(ctx, stmt, dataclasses.replace(proof, z=(proof.z + 1) % Q))
            == "verification equation fails")
    assert (_reason(ctx, stmt, dataclasses.replace(proof, A=proof.A + G))
            == "verification equation fails")
    # a statement X whose prover used a different x
    other = sch.Statement(stmt.X + G)
    assert _reason(ctx, other, proof) == "verification equation fails"


@pytest.mark.parametrize(
    "ctx2", [_ctx(sid=b"other-session"), _ctx(prover=2), _ctx(rnd=2)],
    ids=["session", "prover", "round"],
)
def test_wrong_context(ctx2: ProofContext) -> None:
    _, stmt, _, proof = _case()
    assert _reason(ctx2, stmt, proof) == "verification equation fails"


def test_level_independent() -> None:
    # Πsch is level-independent: the same proof verifies under either level's context
    _, stmt, _, proof = _case(STANDARD)
    sch.verify(_ctx(HIGH), stmt, proof)


# -- decoding -----------------------------------------------------------------------------------

def test_truncated_and_padded() -> None:
    _, _, _, proof = _case()
    data = proof.to_bytes()
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            sch.Proof.from_bytes(data[:cut])
    for pad in (b"\x00", b"\x01\x02", data):
        with pytest.raises(DecodeError):
            sch.Proof.from_bytes(data + pad)


def test_decode_rejects_out_of_range_and_noncanonical() -> None:
    _, _, _, proof = _case()
    for z in (Q, -1, 1 << 256):
        with pytest.raises(DecodeError):
            sch.Proof.from_bytes(dataclasses.replace(proof, z=z).to_bytes())
    with pytest.raises(DecodeError):
        sch.Proof.from_bytes(dataclasses.replace(proof, A=Point.identity()).to_bytes())
    data = proof.to_bytes()
    point, zpart = data[:33], data[33:]
    n = int.from_bytes(zpart[1:3], "big")
    with pytest.raises(DecodeError):  # leading zero in z
        sch.Proof.from_bytes(point + b"\x00" + (n + 1).to_bytes(2, "big") + b"\x00" + zpart[3:])
    with pytest.raises(DecodeError):  # bad point prefix
        sch.Proof.from_bytes(b"\x04" + data[1:])
    with pytest.raises(DecodeError):
        sch.Proof.from_bytes(None)  # type: ignore[arg-type]


def _decode_and_verify(data: bytes) -> None:
    ctx, stmt, _, _ = _case()
    try:
        proof = sch.Proof.from_bytes(data)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        sch.verify(ctx, stmt, proof)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=100))
def test_garbage_bytes(data: bytes) -> None:
    _decode_and_verify(data)


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_wellformed_garbage(zbytes: bytes) -> None:
    # a valid point and a reduced scalar: decodes, and must fail verification
    z = int.from_bytes(zbytes, "big") % Q
    data = sch.Proof(base_mul(7), z).to_bytes()
    _decode_and_verify(data)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_flipped_byte(data: st.DataObject) -> None:
    _, _, _, proof = _case()
    raw = bytearray(proof.to_bytes())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    _decode_and_verify(bytes(raw))
