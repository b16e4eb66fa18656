"""Every bad input to tss.import_tss_lib, each in its own test: a typed error, never a share,
and no secret in the message."""

from __future__ import annotations

import json
import re

import pytest
from migration_support import (
    N_SECP256K1,
    P_SECP256K1,
    doc,
    dump,
    point_json,
    raw,
    secret_of,
    tss_lib_file,
)

import tss
from tss.migration import import_tss_lib

KEY = "2of3"
ME = 1  # the party whose file is tampered with


def _secrets(d: dict) -> list[str]:
    """Decimal and hex spellings of the secret values a file holds (Xi and the Paillier key)."""
    values = [d["Xi"], d["PaillierSK"]["P"], d["PaillierSK"]["Q"], d["PaillierSK"]["PhiN"],
              d["PaillierSK"]["LambdaN"], d["P"], d["Q"], d["Alpha"], d["Beta"]]
    out = []
    for v in values:
        out += [str(v), f"{v:x}", f"{v:X}", str(v)[:20], f"{v:x}"[:16]]
    return out


def reject(data, exc=tss.DecodeError, match: str | None = None, **kwargs) -> str:
    """import_tss_lib(data) raises ``exc`` whose message leaks no secret; returns the message."""
    with pytest.raises(exc) as info:
        import_tss_lib(data, **kwargs)
    assert isinstance(info.value, tss.TssError) and isinstance(info.value, ValueError)
    msg = str(info.value)
    for s in _secrets(doc(KEY, ME)):
        assert s not in msg, "a secret value leaked into the error message"
    assert len(msg) < 300
    if match is not None:
        assert re.search(match, msg, re.I), msg
    return msg


def tampered(**changes) -> bytes:
    d = doc(KEY, ME)
    d.update(changes)
    return dump(d)


# -- not a save file --------------------------------------------------------------------------
def test_garbage():
    reject(b"\x00\x01\x02 certainly not JSON \xff")
    reject(b"\xff\xfe{}")  # not UTF-8
    reject("{not json}")
    reject(b"")
    reject(b"   ")


def test_truncated_json():
    data = raw(KEY, ME)
    for cut in (1, 2, 10, len(data) // 3, len(data) // 2, len(data) - 2, len(data) - 1):
        reject(data[:cut], match="truncated|JSON")
    # a truncation inside Xi's digits: the message must not quote them
    text = data.decode()
    at = text.index('"Xi": ') + 6 + 30
    reject(text[:at])


def test_not_a_json_object():
    for data in (b"[]", b"[1, 2, 3]", b"42", b'"text"', b"null", b"true"):
        reject(data, match="object")


def test_wrong_argument_type():
    for data in (None, 42, ["{}"], {"Xi": 1}):
        reject(data)


def test_floats_are_rejected():
    text = raw(KEY, ME).decode()
    d = doc(KEY, ME)
    reject(text.replace(f'"ShareID": {d["ShareID"]}', f'"ShareID": {d["ShareID"]}.0'))
    reject(text.replace(f'"ShareID": {d["ShareID"]}', '"ShareID": 8.02e76'))
    reject(text.replace(f'"ShareID": {d["ShareID"]}', '"ShareID": NaN'))


def test_bools_and_strings_are_not_integers():
    reject(tampered(Xi=True), match="Xi")
    reject(tampered(Xi=str(doc(KEY, ME)["Xi"])), match="Xi")
    reject(tampered(ShareID=None), match="ShareID")
    d = doc(KEY, ME)
    d["Ks"][0] = True
    reject(dump(d), match="Ks")
    d = doc(KEY, ME)
    d["BigXj"][0]["Coords"][1] = False
    reject(dump(d), match="BigXj")


def test_missing_fields():
    for name in ("Xi", "ShareID", "Ks", "BigXj", "ECDSAPub"):
        d = doc(KEY, ME)
        del d[name]
        reject(dump(d), match=name)


def test_wrong_shapes():
    reject(tampered(Ks={"0": 1}), match="Ks")
    reject(tampered(Ks=[]), match="Ks")
    reject(tampered(BigXj=point_json(5)), match="BigXj")
    reject(tampered(ECDSAPub=None), match="ECDSAPub")
    reject(tampered(ECDSAPub=[1, 2]), match="ECDSAPub")
    d = doc(KEY, ME)
    d["ECDSAPub"]["Coords"] = d["ECDSAPub"]["Coords"][:1]
    reject(dump(d), match="ECDSAPub")
    d = doc(KEY, ME)
    d["ECDSAPub"]["Extra"] = 1
    reject(dump(d), match="ECDSAPub")


def test_duplicate_json_fields():
    text = raw(KEY, ME).decode()
    other = doc(KEY, 0)["ShareID"]
    reject(text.replace('"ShareID": ', f'"ShareID": {other}, "ShareID": ', 1), match="duplicate")


def test_integer_with_too_many_digits():
    text = raw(KEY, ME).decode()
    reject(text.replace('"Alpha": ', '"Alpha": ' + "9" * 5000 + "0", 1))


# -- Xi and ShareID ---------------------------------------------------------------------------
def test_xi_changed():
    xi = doc(KEY, ME)["Xi"]
    reject(tampered(Xi=xi + 1), match="Xi")
    reject(tampered(Xi=(xi * 2) % N_SECP256K1), match="Xi")
    reject(tampered(Xi=doc(KEY, 0)["Xi"]), match="Xi")


def test_xi_out_of_range():
    xi = doc(KEY, ME)["Xi"]
    reject(tampered(Xi=0), match="Xi")
    reject(tampered(Xi=-xi), match="Xi")
    reject(tampered(Xi=xi + N_SECP256K1), match="Xi")  # same residue, not reduced
    reject(tampered(Xi=N_SECP256K1), match="Xi")


def test_share_id_not_in_ks():
    d = doc(KEY, ME)
    reject(tampered(ShareID=d["ShareID"] + 1000), match="ShareID")
    reject(tampered(ShareID=0), match="ShareID")


def test_share_id_of_another_party():
    """ShareID is in Ks, but it is another party's: Xi does not match that party's BigXj."""
    for other in (0, 2):
        reject(tampered(ShareID=doc(KEY, other)["ShareID"]), match="Xi|ShareID")


# -- points -----------------------------------------------------------------------------------
def test_point_off_the_curve():
    for where in ("BigXj0", "BigXj_me", "ECDSAPub"):
        d = doc(KEY, ME)
        p = {"BigXj0": d["BigXj"][0], "BigXj_me": d["BigXj"][ME], "ECDSAPub": d["ECDSAPub"]}[where]
        p["Coords"][1] = (p["Coords"][1] + 1) % P_SECP256K1
        reject(dump(d), match="not a point on secp256k1|not on secp256k1")


def test_point_coordinates_out_of_range():
    for coords in ([-1, 2], [2, -1], [P_SECP256K1 + 1, 2], [2**256, 2**256], [0, 0]):
        d = doc(KEY, ME)
        d["BigXj"][2]["Coords"] = coords
        reject(dump(d), match="BigXj")
    # a coordinate plus p: the same point mod p, but not a canonical coordinate
    d = doc(KEY, ME)
    x, y = d["BigXj"][2]["Coords"]
    d["BigXj"][2]["Coords"] = [x, y + P_SECP256K1]
    reject(dump(d), match="BigXj")


def test_another_curve_name():
    for name in ("P-256", "ed25519", "secp256r1", "SECP256K1", "", None, 1):
        d = doc(KEY, ME)
        d["BigXj"][0]["Curve"] = name
        reject(dump(d), match="secp256k1")
        d = doc(KEY, ME)
        d["ECDSAPub"]["Curve"] = name
        reject(dump(d), match="secp256k1")


def test_eddsa_save_data_is_refused():
    """tss-lib's EdDSA keygen writes EDDSAPub and ed25519 points: not an ECDSA key."""
    d = doc(KEY, ME)
    d["EDDSAPub"] = d.pop("ECDSAPub")
    reject(dump(d), match="ECDSAPub")
    for p in [*d["BigXj"], d["EDDSAPub"]]:
        p["Curve"] = "ed25519"
    reject(dump(d), match="secp256k1")


# -- Ks ---------------------------------------------------------------------------------------
def test_duplicated_ks():
    d = doc(KEY, ME)
    d["Ks"][2] = d["Ks"][0]
    reject(dump(d), match="duplicate")
    # ShareID duplicated onto another position
    d = doc(KEY, ME)
    d["Ks"][0] = d["Ks"][ME]
    reject(dump(d), match="duplicate")


def test_ks_zero_or_not_reduced():
    d = doc(KEY, ME)
    d["Ks"][0] = 0
    reject(dump(d), match="Ks")
    d = doc(KEY, ME)
    d["Ks"][2] = d["Ks"][0] + N_SECP256K1  # equal to Ks[0] mod q
    reject(dump(d), match="Ks")
    d = doc(KEY, ME)
    d["Ks"][2] = -d["Ks"][2]
    reject(dump(d), match="Ks")


def test_big_xj_count_differs_from_ks():
    d = doc(KEY, ME)
    d["BigXj"] = d["BigXj"][:2]
    reject(dump(d), match="BigXj")
    d = doc(KEY, ME)
    d["BigXj"].append(point_json(7))
    reject(dump(d), match="BigXj")


# -- the polynomial ---------------------------------------------------------------------------
def test_big_xj_off_the_polynomial():
    for j in (0, 2):  # another party's public share replaced by a valid point
        d = doc(KEY, ME)
        d["BigXj"][j] = point_json(123456789)
        reject(dump(d), match="polynomial")
    d = doc("3of5", 0)  # in a 3-of-5 key, the last party's
    d["BigXj"][4] = point_json(987654321)
    reject(dump(d), match="polynomial")


def test_big_xj_swapped():
    d = doc("3of5", 0)
    d["BigXj"][3], d["BigXj"][4] = d["BigXj"][4], d["BigXj"][3]
    reject(dump(d), match="polynomial")


def test_ecdsapub_changed():
    reject(tampered(ECDSAPub=point_json(42)), match="polynomial|ECDSAPub")
    # the negated key: same x, other y
    d = doc(KEY, ME)
    d["ECDSAPub"]["Coords"][1] = P_SECP256K1 - d["ECDSAPub"]["Coords"][1]
    reject(dump(d), match="polynomial|ECDSAPub")


def test_ks_changed_under_the_shares():
    """Evaluation points that are not the ones the shares were made at."""
    d = doc("3of5", 0)
    d["Ks"][4] += 1
    reject(dump(d), match="polynomial")


# -- the caller's arguments -------------------------------------------------------------------
def test_threshold_argument_mismatch():
    reject(raw(KEY, ME), threshold=3, match="2 signers")
    reject(raw(KEY, ME), threshold=1, match="2 signers")
    reject(raw("3of5", 0), threshold=2, match="3 signers")
    reject(raw("3of5", 0), threshold=5, match="3 signers")


def test_threshold_argument_of_the_wrong_type():
    for bad in (0, -1, True, 2.0, "2"):
        reject(raw(KEY, ME), exc=tss.UsageError, threshold=bad)


def test_chain_code_of_wrong_length():
    for bad in (b"", bytes(31), bytes(33), bytes(64), "00" * 32, 5):
        reject(raw(KEY, ME), exc=tss.UsageError, chain_code=bad, match="chain.code")


# -- a file of a different key is consistent, but not this key --------------------------------
def test_file_of_another_key_has_another_public_key():
    """Not a rejection by itself (a file only knows its own key): the key differs."""
    ks = doc(KEY, 0)["Ks"]
    other = import_tss_lib(tss_lib_file(secret_of(KEY) + 1, [5], ks, 0))
    assert other.public_key != import_tss_lib(raw(KEY, 0)).public_key


def test_error_messages_carry_no_secret():
    """Cases whose message could quote a value: every message is checked in reject()."""
    d = doc(KEY, ME)
    messages = [
        reject(tampered(Xi=d["Xi"] + 1)),
        reject(tampered(Xi=d["Xi"] + N_SECP256K1)),
        reject(tampered(Xi=str(d["Xi"]))),
        reject(raw(KEY, ME).decode().replace(f'"Xi": {d["Xi"]}', f'"Xi": {d["Xi"]}.5')),
        reject(raw(KEY, ME)[: raw(KEY, ME).index(b'"Xi"') + 40]),
    ]
    assert all(str(d["Xi"])[:8] not in m for m in messages)
    json.dumps(messages)  # plain text
