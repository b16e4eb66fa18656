"""The security constants cannot be configured (attacks.md 3.1, "Global parameter assertions";
A-5: iteration counts are constants, never message fields; tss-lib's SetNoProof* flags).

What this file establishes (see docs/security.md, "Parameters"):

* each level's constants are the numbers params.py promises, and the proof code enforces them;
* no environment variable reaches them (the only one the library reads selects the arithmetic
  backend);
* replacing ``tss.params.STANDARD`` (or ``tss.STANDARD``, or ``tss.params.LEVELS``) after import
  does not change a machine that exists, a share decoded from bytes (its one-byte level code
  maps to the canonical objects), or the default of ``Keygen``;
* a forged ``SecurityLevel`` object handed to Keygen or Refresh is replaced by the canonical
  one of its code. Presign is the exception (see the xfail below).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest
from harness import keygen

import tss
import tss.params
from tss import DecodeError, Keygen, KeyShare, Presign, Refresh
from tss.params import HIGH, STANDARD, level_by_code, level_by_name
from tss.zk import mod, prm
from tss.zk._codec import Writer

SRC = Path(tss.__file__).parent


@pytest.mark.parametrize("level, bits", [(STANDARD, 2048), (HIGH, 3072)], ids=["standard", "high"])
def test_security_constants(level, bits):
    """The constants of attacks.md section 1, in the names of attacks.md 3.1."""
    PAILLIER_BITS = level.paillier_bits
    MOD_ITERS = PRM_ITERS = level.iterations
    FAC_ELL, FAC_EPS, ELL_PRIME = level.ell, level.epsilon, level.ell_prime
    CHALLENGE = 1 << level.challenge_bits
    assert PAILLIER_BITS == bits and level.prime_bits == bits // 2
    assert MOD_ITERS == PRM_ITERS == 128
    assert FAC_ELL == 256 and FAC_EPS == 230 and ELL_PRIME == 848
    assert CHALLENGE == 2 ** 128
    assert level.commitment_bytes == 32
    # CGGMP21's conditions on them (LFDT spec, "Security Parameters"): eps >= 2 + s + log Q
    # with s = 80 statistical bits, and ell' >= 2 lambda + eps + s
    assert FAC_EPS >= 2 + 80 + level.challenge_bits
    assert ELL_PRIME >= 2 * 256 + FAC_EPS + 80 - 64
    # no MtA plaintext wraps modulo N: |k x + y| < 2^(ell + ell' + eps + 1) << N / 2
    assert level.ell + level.ell_prime + level.epsilon + 2 < PAILLIER_BITS - 1
    if level is HIGH:
        assert PAILLIER_BITS >= 3071  # 8 kappa - 1, kappa = 384 (LFDT cggmp21)
    # the proof decoders take the counts from the level, not from the message
    for count in (MOD_ITERS - 1, MOD_ITERS + 1):
        w = Writer().int(3)
        for _ in range(4):
            w.ints([1] * count)
        with pytest.raises(DecodeError):
            mod.Proof.from_bytes(w.getvalue(), level)
        with pytest.raises(DecodeError):
            prm.Proof.from_bytes(Writer().ints([2] * count).ints([1] * count).getvalue(), level)


@pytest.mark.parametrize("field", ["paillier_bits", "iterations", "ell", "epsilon",
                                   "challenge_bits", "ell_prime"])
def test_security_constants_cannot_be_set(field):
    for level in (STANDARD, HIGH):
        before = getattr(level, field)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(level, field, 1)
        assert getattr(level, field) == before
    with pytest.raises(TypeError):
        tss.params.LEVELS["weak"] = STANDARD  # type: ignore[index]


def test_no_environment_variable_reaches_the_library():
    """The protocol code reads no environment variable; the only one in the package (outside
    the node service's own command line) chooses the arithmetic backend, not a constant."""
    found = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("node/"):
            continue  # the service's configuration (data dir, bus, passphrases)
        for m in re.finditer(r"os\.(environ|getenv)[^\n]*", path.read_text()):
            found.append((rel, m.group(0)))
    assert found == [("arith/__init__.py",
                      'os.environ.get("TSS_BACKEND", "").lower() == "gmpy2":')]


def _reseal(share: KeyShare, *, code: int | None = None, moduli=None) -> bytes:
    """``share.to_bytes()`` with the level code or the Paillier moduli replaced (and a valid
    checksum), written field by field as KeyShare.to_bytes writes them."""
    w = Writer()
    w.raw(bytes([share.level.code if code is None else code, 0]))
    w.ints([share.index, share.threshold, share.parties, share.epoch, share.secret_share])
    w.ints(list(share.points))
    for p in share.public_shares:
        w.point(p)
    w.point(share.public_key_point)
    w.raw(share.chain_code)
    w.ints([share.paillier.p, share.paillier.q])
    w.ints(list(moduli or share.paillier_moduli))
    for rp in share.ring_pedersen:
        w.ints([rp.n, rp.s, rp.t])
    head = b"TSSK\x01"
    body = head + w.getvalue()
    return body + hashlib.sha256(body).digest()


def test_replacing_the_level_objects_changes_no_running_protocol(monkeypatch):
    """Monkeypatching the configuration: the names STANDARD (in tss and tss.params) and the
    LEVELS mapping are replaced by a 1024-bit, 1-iteration level after import."""
    share = keygen(2, 3)[0]
    assert _reseal(share) == share.to_bytes()  # the re-encoder is faithful
    running = Keygen(0, 2, 2, b"tests/adversarial constants")
    weak = dataclasses.replace(STANDARD, paillier_bits=1024, iterations=1, challenge_bits=1)
    monkeypatch.setattr(tss.params, "STANDARD", weak)
    monkeypatch.setattr(tss, "STANDARD", weak)
    monkeypatch.setattr(tss.params, "LEVELS", {"standard": weak, "high": HIGH})
    # a machine that exists keeps its level
    assert running.level is STANDARD and running.level.paillier_bits == 2048
    # a new Keygen with the default level, or with a level object, gets the canonical one
    assert Keygen(0, 2, 2, b"x").level is STANDARD
    assert Keygen(0, 2, 2, b"x", level=weak).level is STANDARD
    # a share decoded from bytes: level code 1 is the canonical STANDARD, which still checks
    # every peer modulus for exactly 2048 bits
    again = KeyShare.from_bytes(share.to_bytes())
    assert again.level is STANDARD and level_by_code(1) is STANDARD
    short = list(share.paillier_moduli)
    short[1] = (1 << 1023) + 1155
    with pytest.raises(DecodeError, match="exactly 2048 bits"):
        KeyShare.from_bytes(_reseal(share, moduli=short))
    # only a lookup *by name* after the patch sees the replaced mapping: that is in-process
    # code changing the library, outside any threat model (documented)
    assert level_by_name("standard") is weak
    assert Refresh(share, b"x").level is STANDARD  # Refresh canonicalises the share's level


def test_a_forged_level_inside_a_keyshare_is_not_used():
    share = keygen(2, 3)[0]
    weak = dataclasses.replace(STANDARD, challenge_bits=1, iterations=1)
    try:
        forged = dataclasses.replace(share, level=weak)
    except DecodeError:
        return  # refused: fine
    assert forged.level is STANDARD or Presign(forged, [0, 1], b"x").level is STANDARD
