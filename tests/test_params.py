"""The security constants: exact values per level, immutability and lookup errors."""

from __future__ import annotations

import dataclasses

import pytest

from tss.errors import DecodeError, UsageError
from tss.params import (
    CURVE_ORDER,
    HIGH,
    LEVELS,
    STANDARD,
    SecurityLevel,
    level_by_code,
    level_by_name,
)


def test_curve_order_is_secp256k1_n() -> None:
    assert CURVE_ORDER == int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16
    )


@pytest.mark.parametrize(
    ("level", "name", "code", "bits"),
    [(STANDARD, "STANDARD", 1, 2048), (HIGH, "HIGH", 2, 3072)],
    ids=["standard", "high"],
)
def test_constants_exact(level: SecurityLevel, name: str, code: int, bits: int) -> None:
    assert level.name == name
    assert level.code == code
    assert level.paillier_bits == bits
    assert level.prime_bits == bits // 2
    assert level.modulus_bytes == bits // 8
    assert level.ell == 256
    assert level.ell_prime == 848
    assert level.epsilon == 230
    assert level.challenge_bits == 128
    assert level.iterations == 128
    assert level.commitment_bytes == 32


def test_range_parameters_leave_room_in_the_modulus(level: SecurityLevel) -> None:
    # the documented rationale: no MtA plaintext wraps modulo N
    assert level.paillier_bits - (2 * (level.ell + level.epsilon) + 1) > 1000
    # statistical hiding of the witness: epsilon - challenge bits
    assert level.epsilon - level.challenge_bits == 102


def test_only_two_levels() -> None:
    assert dict(LEVELS) == {"standard": STANDARD, "high": HIGH}
    assert STANDARD != HIGH
    assert repr(STANDARD) == "SecurityLevel.STANDARD"
    assert repr(HIGH) == "SecurityLevel.HIGH"


@pytest.mark.parametrize(
    "field",
    ["name", "code", "paillier_bits", "ell", "ell_prime", "epsilon", "challenge_bits",
     "iterations", "commitment_bytes"],
)
def test_frozen_assignment_raises(level: SecurityLevel, field: str) -> None:
    before = getattr(level, field)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(level, field, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(level, field)
    assert getattr(level, field) == before


def test_no_new_attributes(level: SecurityLevel) -> None:
    with pytest.raises((AttributeError, TypeError)):
        level.skip_proofs = True  # type: ignore[attr-defined]
    assert not hasattr(level, "__dict__")


def test_properties_cannot_be_set(level: SecurityLevel) -> None:
    # (CPython < 3.12 raises TypeError here for frozen slotted dataclasses; either way it raises)
    with pytest.raises((AttributeError, TypeError)):
        level.prime_bits = 8  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        level.modulus_bytes = 8  # type: ignore[misc]
    assert level.prime_bits == level.paillier_bits // 2


def test_levels_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        LEVELS["weak"] = STANDARD  # type: ignore[index]
    with pytest.raises(TypeError):
        del LEVELS["standard"]  # type: ignore[attr-defined]
    assert len(LEVELS) == 2


def test_replace_does_not_change_the_originals() -> None:
    weak = dataclasses.replace(STANDARD, paillier_bits=512)
    assert STANDARD.paillier_bits == 2048
    assert weak is not STANDARD
    # a forged level with a known code resolves to the canonical constants
    assert level_by_name(weak) is STANDARD


@pytest.mark.parametrize(
    ("name", "expected"),
    [("standard", STANDARD), ("STANDARD", STANDARD), ("Standard", STANDARD),
     ("high", HIGH), ("HIGH", HIGH)],
)
def test_level_by_name(name: str, expected: SecurityLevel) -> None:
    assert level_by_name(name) is expected


def test_level_by_name_passes_levels_through(level: SecurityLevel) -> None:
    assert level_by_name(level) is level


@pytest.mark.parametrize("name", ["", "low", "medium", "standard ", " high", "2048", "1", 1, None])
def test_level_by_name_unknown_raises_usage_error(name: object) -> None:
    with pytest.raises(UsageError) as info:
        level_by_name(name)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert "standard" in str(info.value) and "high" in str(info.value)


def test_level_by_code(level: SecurityLevel) -> None:
    assert level_by_code(level.code) is level
    assert level_by_code(1) is STANDARD
    assert level_by_code(2) is HIGH


@pytest.mark.parametrize("code", [0, 3, -1, 255, 256, 2048, "1"])
def test_level_by_code_unknown_raises_decode_error(code: object) -> None:
    with pytest.raises(DecodeError) as info:
        level_by_code(code)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
