"""The transcript encoding is injective; transcripts bind every context field and value."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tss.curve import G
from tss.hashing import DOMAIN, Transcript, encode, hash_to_scalar
from tss.params import CURVE_ORDER

Q = CURVE_ORDER
SID = b"\x01" * 32

# ---------------------------------------------------------------------------------------------
# encode


TRICKY_PAIRS = [
    (["ab", "c"], ["a", "bc"]),
    ([b"ab", b"c"], [b"a", b"bc"]),
    (["ab", ""], ["a", "b"]),
    (b"", ""),
    (b"", 0),
    (b"", []),
    ("", 0),
    ("", []),
    (0, []),
    (1, -1),
    (0, b"\x00"),
    (0, "\x00"),
    (1, b"\x01"),
    (1, "\x01"),
    (b"\x01", "\x01"),
    (b"a", "a"),
    (255, 256),
    (0, 1),
    (b"\x00", b"\x00\x00"),
    (b"\x00", b""),
    ([], [[]]),
    ([[]], [[], []]),
    ([b""], []),
    ([""], [b""]),
    ([0], [[0]]),
    ([[1], 2], [[1, 2]]),
    ([[1], 2], [1, [2]]),
    ([1, [2, 3]], [[1, 2], 3]),
    ([1, 2], [[1, 2]]),
    ([1, 2], [12]),
    (["1", "2"], "12"),
    ([b"x"], b"x"),
    (["é"], ["e\u0301"]),  # NFC vs NFD: different strings, different bytes
    (-1, [-1]),
    (-(2**64), 2**64),
    (2**64, [2**64]),
]


@pytest.mark.parametrize(("a", "b"), TRICKY_PAIRS, ids=[repr(p) for p in TRICKY_PAIRS])
def test_encode_injective_on_tricky_pairs(a: object, b: object) -> None:
    assert a != b
    ea, eb = encode(a), encode(b)
    assert ea != eb
    # the encoding is self-delimiting: neither is a prefix of the other
    assert not ea.startswith(eb)
    assert not eb.startswith(ea)


def test_encode_concatenation_inside_lists_is_unambiguous() -> None:
    # the classic "ab"+"c" == "a"+"bc" attack against naive concatenation
    assert encode(["ab", "c"]) != encode(["a", "bc"])
    assert encode([1, 23]) != encode([12, 3])
    assert encode([b"\x01\x02", b"\x03"]) != encode([b"\x01", b"\x02\x03"])


def test_encode_equal_values() -> None:
    assert encode(0) == encode(-0)
    assert encode(b"abc") == encode(bytearray(b"abc")) == encode(memoryview(b"abc"))
    # lists and tuples are both sequences: they are documented to encode the same
    assert encode([1, b"x", "y"]) == encode((1, b"x", "y"))


def test_encode_format() -> None:
    assert encode(0) == b"I+" + bytes(8)
    assert encode(-1) == b"I-" + (1).to_bytes(8, "big") + b"\x01"
    assert encode(256) == b"I+" + (2).to_bytes(8, "big") + b"\x01\x00"
    assert encode(b"") == b"B" + bytes(8)
    assert encode("é") == b"S" + (2).to_bytes(8, "big") + "é".encode()
    assert encode([]) == b"L" + bytes(8)
    assert encode([1]) == b"L" + (1).to_bytes(8, "big") + encode(1)


def test_encode_objects_with_transcript_bytes() -> None:
    data = G.to_bytes()
    assert encode(G) == b"P" + len(data).to_bytes(8, "big") + data
    assert encode(G) != encode(data)
    assert encode([G, 1]) != encode([data, 1])


class _Opaque:
    pass


@pytest.mark.parametrize(
    "value",
    [None, True, False, 1.0, 0.0, float("nan"), 1j, {1: 2}, {1}, frozenset(), _Opaque(),
     [None], [1, [True]], (b"x", 2.5), [[[None]]]],
    ids=repr,
)
def test_encode_refuses_unencodable(value: object) -> None:
    with pytest.raises(TypeError):
        encode(value)


# nested lists of ints, bytes and str
_leaves = st.integers() | st.binary(max_size=6) | st.text(max_size=4)
VALUES = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(VALUES, VALUES)
def test_encode_injective_property(a: object, b: object) -> None:
    ea, eb = encode(a), encode(b)
    assert (ea == eb) == (a == b)
    if a != b:
        assert not ea.startswith(eb) and not eb.startswith(ea)


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_encode_deterministic_property(a: object) -> None:
    assert encode(a) == encode(copy.deepcopy(a))


@settings(max_examples=200, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=4), st.lists(VALUES, min_size=1, max_size=4))
def test_encode_injective_on_lists_property(a: list[object], b: list[object]) -> None:
    assert (encode(a) == encode(b)) == (a == b)


# ---------------------------------------------------------------------------------------------
# Transcript


def _challenge(tag: str = "tag", sid: bytes = SID, party: int = 1, round: int = 0,
               items: tuple[tuple[str, object], ...] = (("x", 1), ("y", b"2"))) -> int:
    return Transcript(tag, sid, party, round).extend(items).challenge_scalar()


def test_transcript_deterministic() -> None:
    assert _challenge() == _challenge()
    t = Transcript("tag", SID, 1).append("x", 1)
    # squeezing does not consume: the same challenge twice
    assert t.challenge_scalar() == t.challenge_scalar()
    assert t.digest() == t.digest()


@pytest.mark.parametrize(
    "change",
    [
        {"tag": "tag2"},
        {"tag": "ta"},
        {"sid": b"\x02" * 32},
        {"sid": SID[:-1]},
        {"sid": SID + b"\x00"},
        {"party": 2},
        {"party": 0},
        {"party": -1},
        {"round": 1},
        {"items": (("x", 1), ("z", b"2"))},  # label
        {"items": (("X", 1), ("y", b"2"))},  # label
        {"items": (("x", 2), ("y", b"2"))},  # value
        {"items": (("x", -1), ("y", b"2"))},  # value sign
        {"items": (("x", 1), ("y", "2"))},  # value type
        {"items": (("x", 1), ("y", b"3"))},  # value
        {"items": (("y", b"2"), ("x", 1))},  # order
        {"items": (("x", 1),)},  # missing item
        {"items": (("x", 1), ("y", b"2"), ("y", b"2"))},  # extra item
        {"items": (("x", [1, b"2"]),)},  # same content, other structure
        {"items": (("xy", 1), ("", b"2"))},  # label/value boundary
        {"items": (("x", 1), ("y", [b"2"]))},
    ],
    ids=repr,
)
def test_transcript_binds_everything(change: dict[str, object]) -> None:
    assert _challenge(**change) != _challenge()  # type: ignore[arg-type]


def test_transcript_separates_tag_and_sid_boundaries() -> None:
    a = Transcript("ab", b"c", 1).challenge_scalar()
    b = Transcript("a", b"bc", 1).challenge_scalar()
    assert a != b


def test_transcript_label_and_value_boundary() -> None:
    a = Transcript("t", SID, 1).append("ab", "c").digest()
    b = Transcript("t", SID, 1).append("a", "bc").digest()
    assert a != b


def test_squeeze_labels_separate_challenges() -> None:
    t = Transcript("t", SID, 1).append("x", 1)
    assert t.challenge_scalar("e") != t.challenge_scalar("f")
    assert t.digest("a") != t.digest("b")
    assert t.digest(n=64)[:32] == t.digest(n=32)  # XOF: a longer squeeze extends a shorter one
    assert t.challenge_signed(128, "e") != t.challenge_signed(128, "f")


def test_append_after_squeeze_changes_challenge() -> None:
    t = Transcript("t", SID, 1).append("x", 1)
    before = t.challenge_scalar()
    t.append("y", 2)
    assert t.challenge_scalar() != before


def test_transcript_accepts_points() -> None:
    a = Transcript("t", SID, 1).append("X", G).challenge_scalar()
    b = Transcript("t", SID, 1).append("X", G + G).challenge_scalar()
    assert a != b


def _transcripts(count: int, tag: str = "range"):
    for i in range(count):
        yield Transcript(tag, SID, 1).append("i", i)


@pytest.mark.parametrize("bits", [1, 2, 7, 8, 9, 64, 128, 230])
def test_challenge_signed_range_and_signs(bits: int) -> None:
    values = [t.challenge_signed(bits) for t in _transcripts(200, f"signed-{bits}")]
    bound = 1 << bits
    assert all(-bound <= e <= bound for e in values)
    assert any(e > 0 for e in values)
    assert any(e < 0 for e in values)
    if bits >= 64:
        # the magnitudes use the full width, not a truncated one
        assert max(abs(e) for e in values).bit_length() >= bits - 8


def test_challenge_signed_default_width() -> None:
    values = [t.challenge_signed(128) for t in _transcripts(100)]
    assert all(-(1 << 128) <= e <= (1 << 128) for e in values)
    assert len(set(values)) == 100


def test_challenge_scalar_in_range() -> None:
    values = [t.challenge_scalar() for t in _transcripts(300, "scalar")]
    assert all(0 <= e < Q for e in values)
    assert len(set(values)) == 300
    assert max(values).bit_length() == 256


@pytest.mark.parametrize("n", [2, 3, 1000, Q, 2**255 + 1, (1 << 2048) - 159, (1 << 3072) - 1])
def test_challenge_mod_in_range(n: int) -> None:
    t = Transcript("mod", SID, 1).append("n", n)
    ys = t.challenge_mod(n, 40)
    assert len(ys) == 40
    assert all(0 <= y < n for y in ys)
    if n > 1000:
        assert len(set(ys)) == 40
    assert t.challenge_mod(n, 40) == ys
    assert t.challenge_mod(n, 40, label="z") != ys


def test_challenge_mod_uses_whole_range() -> None:
    n = 7
    seen = set()
    for t in _transcripts(40, "mod-small"):
        seen.update(t.challenge_mod(n, 10))
    assert seen == set(range(n))


def test_challenge_bits() -> None:
    t = Transcript("bits", SID, 1).append("x", 1)
    bits = t.challenge_bits(128)
    assert len(bits) == 128
    assert set(bits) == {0, 1}
    assert t.challenge_bits(128) == bits
    assert t.challenge_bits(128, label="other") != bits
    assert t.challenge_bits(13) == bits[:13]  # the same XOF stream, truncated


def test_hash_to_scalar() -> None:
    a = hash_to_scalar("tag", 1, b"x")
    assert 0 <= a < Q
    assert a == hash_to_scalar("tag", 1, b"x")
    assert a != hash_to_scalar("tag2", 1, b"x")
    assert a != hash_to_scalar("tag", 1, "x")
    assert a != hash_to_scalar("tag", [1, b"x"])
    assert a != hash_to_scalar("tag", 1, b"x", b"")
    with pytest.raises(TypeError):
        hash_to_scalar("tag", None)


def test_domain_is_bound() -> None:
    assert DOMAIN == b"tss/v1"
