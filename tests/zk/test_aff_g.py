"""Πaff-g (CGGMP21 Fig. 15) and the MtA helper: completeness, every verifier check, tampering,
binding, decoding, and alpha + beta = k x exactly."""

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
from tss.zk import aff_g
from tss.zk._common import ProofContext

SID = b"test-session-aff-g"
_FIRST = "Paillier equation mod N0^2 fails"


def _ctx(level: SecurityLevel, sid: bytes = SID, prover: int = 2, rnd: int = 2) -> ProofContext:
    return ProofContext(sid, prover, level, rnd)


@functools.cache
def _case(level: SecurityLevel):
    """Bob (prover, key 0) answers Alice's (verifier, key 1, rp on key 1) K = Enc_{N0}(k).

    Returns (ctx, statement, witness, proof, k)."""
    rng = SeededRng(f"aff-g-{level.name}")
    alice, bob = paillier_key(level, 1), paillier_key(level, 0)
    rp = ring_pedersen(level, 1).params
    k = rng.scalar(Q)
    K, _ = alice.encrypt(k, rng)
    x = rng.scalar(Q)
    y = rng.signed(level.ell_prime)
    rho, rho_y = rng.unit(alice.n), rng.unit(bob.n)
    D = alice.public.mul(K, x) * alice.encrypt_with(y, rho) % alice.public.n2
    Y = bob.encrypt_with(y, rho_y)
    stmt = aff_g.Statement(alice.public, bob.public, K, D, Y, base_mul(x), rp)
    wit = aff_g.Witness(x, y, rho, rho_y, bob)
    ctx = _ctx(level)
    return ctx, stmt, wit, aff_g.prove(ctx, stmt, wit, rng), k


def _reason(ctx: ProofContext, stmt: aff_g.Statement, proof: object) -> str:
    with pytest.raises(InvalidProof) as ei:
        aff_g.verify(ctx, stmt, proof)  # type: ignore[arg-type]
    assert ei.value.proof == aff_g.TAG
    return ei.value.reason


# -- completeness, encoding, MtA ----------------------------------------------------------------

def test_completeness(level: SecurityLevel) -> None:
    ctx, stmt, _, proof, _ = _case(level)
    aff_g.verify(ctx, stmt, proof)


def test_roundtrip(level: SecurityLevel) -> None:
    ctx, stmt, _, proof, _ = _case(level)
    data = proof.to_bytes()
    again = aff_g.Proof.from_bytes(data, level)
    assert again == proof
    assert again.to_bytes() == data
    aff_g.verify(ctx, stmt, again)


def test_completeness_without_crt_and_extreme_witness() -> None:
    level = STANDARD
    rng = SeededRng("aff-g-nocrt")
    alice, bob = paillier_key(level, 1), paillier_key(level, 0)
    rp = ring_pedersen(level, 1).params
    K, _ = alice.encrypt(rng.scalar(Q), rng)
    bx, by = 1 << level.ell, 1 << level.ell_prime
    for x, y in ((-bx, by), (bx, -by)):
        rho, rho_y = rng.unit(alice.n), rng.unit(bob.n)
        D = alice.public.mul(K, x) * alice.encrypt_with(y, rho) % alice.public.n2
        Y = bob.encrypt_with(y, rho_y)
        stmt = aff_g.Statement(alice.public, bob.public, K, D, Y, base_mul(x), rp)
        proof = aff_g.prove(_ctx(level), stmt, aff_g.Witness(x, y, rho, rho_y), rng)
        aff_g.verify(_ctx(level), stmt, proof)


def test_mta_alpha_plus_beta_is_kx() -> None:
    level = STANDARD
    rng = SeededRng("aff-g-mta")
    alice, bob = paillier_key(level, 1), paillier_key(level, 0)
    rp = ring_pedersen(level, 1).params
    ctx = _ctx(level)
    cases = [(rng.below(Q), rng.below(Q)) for _ in range(3)] + [(0, 5), (Q - 1, Q - 1)]
    for k, x in cases:
        K, _ = alice.encrypt(k, rng)
        X = base_mul(x)
        D, Y, beta, proof = aff_g.mta_response(ctx, alice.public, bob, K, x, X, rp, rng)
        stmt = aff_g.Statement(alice.public, bob.public, K, D, Y, X, rp)
        aff_g.verify(ctx, stmt, aff_g.Proof.from_bytes(proof.to_bytes(), level))
        alpha = alice.decrypt(D)
        assert alpha + beta == k * x  # exactly, as integers, before any reduction mod q
        assert bob.decrypt(Y) == -beta  # Y encrypts y = -beta under Bob's key
        assert abs(beta) <= 1 << level.ell_prime


def test_mta_rejects_bad_K() -> None:
    level = STANDARD
    alice, bob = paillier_key(level, 1), paillier_key(level, 0)
    with pytest.raises(UsageError):
        aff_g.mta_response(_ctx(level), alice.public, bob, alice.n, 3, base_mul(3),
                           ring_pedersen(level, 1).params)


def test_witness_repr_hides_secrets() -> None:
    _, _, wit, _, _ = _case(STANDARD)
    assert str(wit.x) not in repr(wit) and str(wit.y) not in repr(wit)


def test_prover_rejects_bad_witness() -> None:
    ctx, stmt, wit, _, _ = _case(STANDARD)
    for bad in (dataclasses.replace(wit, x=(1 << STANDARD.ell) + 1),
                dataclasses.replace(wit, y=-(1 << STANDARD.ell_prime) - 1),
                dataclasses.replace(wit, rho=0),
                dataclasses.replace(wit, rho_y=stmt.pk1.n),
                dataclasses.replace(wit, sk=paillier_key(STANDARD, 1))):
        with pytest.raises(UsageError):
            aff_g.prove(ctx, stmt, bad)


# -- every verifier check -----------------------------------------------------------------------

def _bad_unit_values(n: int, factor: int) -> list[int]:
    return [0, n, n + 1, factor, -1]


def test_not_a_proof() -> None:
    ctx, stmt, _, proof, _ = _case(STANDARD)
    assert _reason(ctx, stmt, proof.to_bytes()) == "not a Πaff-g proof"


def test_statement_checks() -> None:
    ctx, stmt, _, proof, _ = _case(STANDARD)

    def half(pk: PaillierPublicKey) -> PaillierPublicKey:
        return PaillierPublicKey(pk.n >> 1)

    assert (_reason(ctx, dataclasses.replace(stmt, pk0=half(stmt.pk0)), proof)
            == "verifier modulus N0 has the wrong size")
    assert (_reason(ctx, dataclasses.replace(stmt, pk1=half(stmt.pk1)), proof)
            == "prover modulus N1 has the wrong size")
    rp = stmt.rp
    assert (_reason(ctx, dataclasses.replace(stmt, rp=RingPedersen(rp.n >> 1, rp.s, rp.t)), proof)
            == "ring-Pedersen modulus has the wrong size")
    for s, t in ((0, rp.t), (rp.s, rp.n + 3), (rp.s, paillier_key(STANDARD, 1).q)):
        bad = dataclasses.replace(stmt, rp=RingPedersen(rp.n, s, t))
        assert _reason(ctx, bad, proof) == "ring-Pedersen s, t not in Z*_Nhat"
    p0, p1 = paillier_key(STANDARD, 1).p, paillier_key(STANDARD, 0).p  # factors of N0, N1
    for v in _bad_unit_values(stmt.pk0.n2, p0):
        assert _reason(ctx, dataclasses.replace(stmt, C=v), proof) == "statement C not in Z*_N0^2"
        assert _reason(ctx, dataclasses.replace(stmt, D=v), proof) == "statement D not in Z*_N0^2"
    for v in _bad_unit_values(stmt.pk1.n2, p1):
        assert _reason(ctx, dataclasses.replace(stmt, Y=v), proof) == "statement Y not in Z*_N1^2"
    assert (_reason(ctx, dataclasses.replace(stmt, X=Point.identity()), proof)
            == "statement X is the identity")


_UNIT_FIELDS = [
    ("A", "A not in Z*_N0^2"), ("By", "By not in Z*_N1^2"), ("E", "E not in Z*_Nhat"),
    ("S", "S not in Z*_Nhat"), ("F", "F not in Z*_Nhat"), ("T", "T not in Z*_Nhat"),
    ("w", "w not in Z*_N0"), ("wy", "wy not in Z*_N1"),
]


def _modulus_and_factor(stmt: aff_g.Statement, field: str) -> tuple[int, int]:
    alice, bob = paillier_key(STANDARD, 1), paillier_key(STANDARD, 0)
    return {
        "A": (stmt.pk0.n2, alice.q), "w": (stmt.pk0.n, alice.q),
        "By": (stmt.pk1.n2, bob.q), "wy": (stmt.pk1.n, bob.q),
    }.get(field, (stmt.rp.n, alice.p))  # the verifier's rp is on Alice's key


@pytest.mark.parametrize("field, reason", _UNIT_FIELDS)
def test_elements_not_units(field: str, reason: str) -> None:
    ctx, stmt, _, proof, _ = _case(STANDARD)
    n, factor = _modulus_and_factor(stmt, field)
    for v in _bad_unit_values(n, factor):
        assert _reason(ctx, stmt, dataclasses.replace(proof, **{field: v})) == reason


def test_bx_identity() -> None:
    ctx, stmt, _, proof, _ = _case(STANDARD)
    bad = dataclasses.replace(proof, Bx=Point.identity())
    assert _reason(ctx, stmt, bad) == "Bx is the identity"


def test_responses_out_of_range() -> None:
    ctx, stmt, _, proof, _ = _case(STANDARD)
    lv = STANDARD
    b1, b2 = 1 << (lv.ell + lv.epsilon), 1 << (lv.ell_prime + lv.epsilon)
    b34 = stmt.rp.n << (lv.ell + lv.epsilon + 1)
    for field, bound, reason in (("z1", b1, "z1 out of range"), ("z2", b2, "z2 out of range"),
                                 ("z3", b34, "z3 out of range"), ("z4", b34, "z4 out of range")):
        for v in (bound + 1, -bound - 1, True):
            assert _reason(ctx, stmt, dataclasses.replace(proof, **{field: v})) == reason
    assert _reason(ctx, stmt, dataclasses.replace(proof, z1=b1)) == _FIRST
    assert _reason(ctx, stmt, dataclasses.replace(proof, z2=-b2)) == _FIRST


def test_each_equation_alone() -> None:
    ctx, stmt, wit, proof, _ = _case(STANDARD)
    # w only enters the N0^2 equation, wy only the N1^2 one, z3 / z4 only one ring-Pedersen one
    cases = [
        (dataclasses.replace(proof, w=proof.w * 2 % stmt.pk0.n), _FIRST),
        (dataclasses.replace(proof, wy=proof.wy * 2 % stmt.pk1.n),
         "Paillier equation mod N1^2 fails"),
        (dataclasses.replace(proof, z3=proof.z3 + 1), "ring-Pedersen equation for x fails"),
        (dataclasses.replace(proof, z4=proof.z4 - 1), "ring-Pedersen equation for y fails"),
    ]
    for bad, reason in cases:
        assert _reason(ctx, stmt, bad) == reason
    # X != x G while everything else is honest: only the group equation fails
    wrong = dataclasses.replace(stmt, X=stmt.X + G)
    bad_proof = aff_g.prove(ctx, wrong, wit, SeededRng("aff-g-wrong-x"))
    assert _reason(ctx, wrong, bad_proof) == "group equation fails"


def test_cheating_prover_with_large_y_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """y far beyond ±2^ell': the honest algorithm then fails the range check on z2."""
    ctx, stmt, wit, _, _ = _case(STANDARD)
    lv = STANDARD
    alice, bob = paillier_key(lv, 1), paillier_key(lv, 0)
    y = 1 << (lv.ell_prime + lv.epsilon + lv.challenge_bits + 2)
    D = alice.public.mul(stmt.C, wit.x) * alice.encrypt_with(y, wit.rho) % alice.public.n2
    Y = bob.encrypt_with(y, wit.rho_y)
    st2 = dataclasses.replace(stmt, D=D, Y=Y)
    monkeypatch.setattr(aff_g, "in_signed_range", lambda v, bits: True)
    proof = aff_g.prove(ctx, st2, dataclasses.replace(wit, y=y), SeededRng("aff-g-cheat"))
    monkeypatch.undo()
    assert _reason(ctx, st2, proof) == "z2 out of range"


# -- tampering and binding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, reason",
    [("A", _FIRST), ("Bx", _FIRST), ("By", _FIRST), ("E", _FIRST), ("S", _FIRST), ("F", _FIRST),
     ("T", _FIRST), ("z1", _FIRST), ("z2", _FIRST), ("z3", "ring-Pedersen equation for x fails"),
     ("z4", "ring-Pedersen equation for y fails"), ("w", _FIRST),
     ("wy", "Paillier equation mod N1^2 fails")],
)
def test_tampered_field(field: str, reason: str) -> None:
    ctx, stmt, _, proof, _ = _case(STANDARD)
    v = getattr(proof, field)
    if field == "Bx":
        candidates = [v + G, -v]
    elif field.startswith("z"):
        candidates = [v + 1, v - 1]
    else:
        n, _ = _modulus_and_factor(stmt, field)
        candidates = [(v + 1) % n, (v - 1) % n]
    for tampered in candidates:
        assert _reason(ctx, stmt, dataclasses.replace(proof, **{field: tampered})) == reason


@pytest.mark.parametrize(
    "ctx2",
    [_ctx(STANDARD, sid=b"other-session"), _ctx(STANDARD, prover=1), _ctx(STANDARD, rnd=3)],
    ids=["session", "prover", "round"],
)
def test_wrong_context(ctx2: ProofContext) -> None:
    _, stmt, _, proof, _ = _case(STANDARD)
    assert _reason(ctx2, stmt, proof) == _FIRST


def test_wrong_statement() -> None:
    ctx, stmt, _, proof, _ = _case(STANDARD)
    alice, bob = paillier_key(STANDARD, 1), paillier_key(STANDARD, 0)
    rng = SeededRng("aff-g-other")
    for bad in (dataclasses.replace(stmt, C=alice.encrypt(1, rng)[0]),
                dataclasses.replace(stmt, D=alice.encrypt(2, rng)[0]),
                dataclasses.replace(stmt, Y=bob.encrypt(3, rng)[0]),
                dataclasses.replace(stmt, X=stmt.X + G),
                dataclasses.replace(stmt, rp=ring_pedersen(STANDARD, 2).params)):
        assert _reason(ctx, bad, proof) == _FIRST
    # swapped roles / other keys
    with pytest.raises(InvalidProof):
        aff_g.verify(ctx, dataclasses.replace(stmt, pk1=paillier_key(STANDARD, 2).public), proof)


def test_proof_for_other_level_rejected() -> None:
    _, stmt, _, proof, _ = _case(STANDARD)
    assert _reason(_ctx(HIGH), stmt, proof) == "verifier modulus N0 has the wrong size"


# -- decoding -----------------------------------------------------------------------------------

def test_truncated_and_padded() -> None:
    _, _, _, proof, _ = _case(STANDARD)
    data = proof.to_bytes()
    for cut in list(range(0, len(data), 11)) + [len(data) - 1]:
        with pytest.raises(DecodeError):
            aff_g.Proof.from_bytes(data[:cut], STANDARD)
    for pad in (b"\x00", b"\x00\x00\x00", data[-40:]):
        with pytest.raises(DecodeError):
            aff_g.Proof.from_bytes(data + pad, STANDARD)


def test_decode_rejects_oversize_and_bad_point() -> None:
    _, _, _, proof, _ = _case(STANDARD)
    nb = STANDARD.paillier_bits
    for field, v in (("A", 1 << (2 * nb)), ("By", -2), ("E", 1 << nb), ("T", 1 << nb),
                     ("w", 1 << nb), ("wy", -1), ("z1", 1 << (2 * nb)), ("z4", -(1 << (2 * nb)))):
        with pytest.raises(DecodeError):
            aff_g.Proof.from_bytes(dataclasses.replace(proof, **{field: v}).to_bytes(), STANDARD)
    with pytest.raises(DecodeError):
        data = dataclasses.replace(proof, Bx=Point.identity()).to_bytes()
        aff_g.Proof.from_bytes(data, STANDARD)


def _decode_and_verify(data: bytes) -> None:
    ctx, stmt, _, _, _ = _case(STANDARD)
    try:
        proof = aff_g.Proof.from_bytes(data, STANDARD)
    except DecodeError:
        return
    with pytest.raises(InvalidProof):
        aff_g.verify(ctx, stmt, proof)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_garbage_bytes(data: bytes) -> None:
    _decode_and_verify(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_flipped_byte(data: st.DataObject) -> None:
    _, _, _, proof, _ = _case(STANDARD)
    raw = bytearray(proof.to_bytes())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    _decode_and_verify(bytes(raw))
