"""The fuzz targets: one per decoder of untrusted bytes. Shared by the atheris entry point
(fuzz_decoders.py), the hypothesis fallback (run_hypothesis.py) and the regression tests
(tests/adversarial/test_adversarial_regressions.py).

Each target feeds the bytes to one decoder and lets only ``tss.TssError`` pass: any other
exception is a crash. A successful decode must also be canonical — re-encoding gives back the
same bytes — because every encoding of the library promises exactly one form.

``python fuzz/targets.py --list`` prints the target names; the extra target ``all`` dispatches
on its first byte to every other one.
"""

from __future__ import annotations

import hashlib
import sys

import tss
from tss import KeyShare, Message, Presignature, Signature, TssError
from tss.params import HIGH, STANDARD
from tss.zk import aff_g, enc, fac, log_star, mod, prm, sch


def _level(data: bytes):
    """The first byte chooses the security level of a proof decoder (even: STANDARD)."""
    return (STANDARD if not data or data[0] % 2 == 0 else HIGH), data[1:]


def _sealed(magic: bytes, body: bytes) -> bytes:
    """``body`` under a valid header and checksum, so that the fuzzer reaches the parser."""
    head = magic + b"\x01"
    return head + body + hashlib.sha256(head + body).digest()


def _message(data):
    m = Message.from_bytes(data)
    assert m.to_bytes() == bytes(data), "Message decoding is not canonical"


def _keyshare(data):
    s = KeyShare.from_bytes(data)
    assert s.to_bytes() == bytes(data), "KeyShare decoding is not canonical"


def _presignature(data):
    p = Presignature.from_bytes(data)
    assert p.to_bytes() == bytes(data), "Presignature decoding is not canonical"


def _signature(data):
    s = Signature.from_bytes(data)
    assert (s.to_bytes() if len(data) == 64 else s.to_recoverable()) == bytes(data), (
        "Signature decoding is not canonical")


def _proof(module):
    def target(data):
        level, rest = _level(data)
        p = module.Proof.from_bytes(rest, level)
        assert p.to_bytes() == rest, f"{module.__name__} proof decoding is not canonical"

    return target


def _sch(data):
    p = sch.Proof.from_bytes(data)
    assert p.to_bytes() == bytes(data), "Πsch proof decoding is not canonical"


def _import_tss_lib(data):
    share = tss.import_tss_lib(data)
    assert share.imported and not share.can_sign


TARGETS = {
    "message": _message,
    "keyshare": _keyshare,
    "keyshare_body": lambda d: _keyshare(_sealed(b"TSSK", d)),
    "presignature": _presignature,
    "presignature_body": lambda d: _presignature(_sealed(b"TSSP", d)),
    "signature": _signature,
    "sch": _sch,
    "enc": _proof(enc),
    "aff_g": _proof(aff_g),
    "log_star": _proof(log_star),
    "mod": _proof(mod),
    "fac": _proof(fac),
    "prm": _proof(prm),
    "import_tss_lib": _import_tss_lib,
}


_NAMES = list(TARGETS)


def _all(data: bytes) -> None:
    """Every target in one: the first byte picks the target, the rest is its input (used by
    the short CI run, which then starts one fuzzer process instead of fourteen)."""
    if data:
        TARGETS[_NAMES[data[0] % len(_NAMES)]](data[1:])


def all_input(name: str, data: bytes) -> bytes:
    """The input of target ``all`` that runs ``name`` on ``data``."""
    return bytes([_NAMES.index(name)]) + data


def check(name: str, data: bytes) -> None:
    """Run target ``name`` (or ``all``) on ``data``: a TssError is a refusal, anything else a
    crash."""
    try:
        (_all if name == "all" else TARGETS[name])(data)
    except TssError:
        pass


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print(" ".join(TARGETS))
    else:
        print(__doc__)
