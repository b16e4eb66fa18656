"""Security constants, one frozen set per security level.

Nothing here is configurable: there is no environment variable, argument or flag that changes or
skips a constant. A key share records its level at keygen, and every proof checks a peer's values
against the constants of that level.

Where each number comes from (see ../shared/reference/attacks.md section 1 and CGGMP21, ePrint
2021/060, section "Security parameters"):

* ``paillier_bits``: every party's Paillier-Blum modulus N has exactly this many bits. 2048 for
  STANDARD (parity with tss-lib, which rejects anything else; taurus likewise), 3072 for HIGH
  (128-bit security, N >= 8*kappa - 1 with kappa = 384 as in LFDT cggmp21). Exact sizes rule out
  the undersized keys of Alpha-Rays (A-2).
* ``ell``, ``ell_prime``, ``epsilon``: the range parameters of Πenc, Πaff-g, Πlog* and Πfac.
  ell = 256 (the size of secp256k1 scalars), ell' = 848, epsilon = 230: LFDT cggmp21's
  SecurityLevel128. With N of 2048 bits they leave 2048 - (2*(ell+eps) + 1) > 1000 bits of room,
  so no MtA plaintext wraps modulo N.
* ``challenge_bits``: Πenc, Πaff-g, Πlog* and Πfac use one challenge e in [-2^128, 2^128]; their
  soundness rests on the *verifier's* ring-Pedersen parameters (strong RSA), so one challenge is
  sound there. epsilon - challenge_bits = 102 bits of statistical hiding of the witness.
* ``iterations``: Πmod and Πprm run 128 binary challenges, each bit derived independently from an
  extendable-output hash (attacks A-4, A-5, A-19): the group order is unknown to the verifier, so a
  single large challenge would not be sound.
* ``commitment_bytes``: 32 bytes (256 bits) of randomness in every hash commitment.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["SecurityLevel", "STANDARD", "HIGH", "LEVELS", "level_by_name", "CURVE_ORDER"]

# secp256k1 group order q.
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True, slots=True)
class SecurityLevel:
    """The constants of one security level. Instances are frozen and only two exist."""

    name: str
    code: int  # one byte in encodings
    paillier_bits: int
    ell: int = 256
    ell_prime: int = 848
    epsilon: int = 230
    challenge_bits: int = 128
    iterations: int = 128
    commitment_bytes: int = 32

    @property
    def prime_bits(self) -> int:
        """Bits of each of the two safe primes of a Paillier-Blum modulus."""
        return self.paillier_bits // 2

    @property
    def modulus_bytes(self) -> int:
        return self.paillier_bits // 8

    def __repr__(self) -> str:
        return f"SecurityLevel.{self.name}"


STANDARD = SecurityLevel(name="STANDARD", code=1, paillier_bits=2048)
HIGH = SecurityLevel(name="HIGH", code=2, paillier_bits=3072)

LEVELS = MappingProxyType({"standard": STANDARD, "high": HIGH})
_BY_CODE = MappingProxyType({STANDARD.code: STANDARD, HIGH.code: HIGH})


def level_by_name(name: str | SecurityLevel) -> SecurityLevel:
    """Return the level called ``name`` ("standard" or "high"), or raise UsageError."""
    from .errors import UsageError

    if isinstance(name, SecurityLevel):
        return _BY_CODE[name.code]
    try:
        return LEVELS[str(name).lower()]
    except KeyError:
        raise UsageError(f"unknown security level {name!r}; use 'standard' or 'high'") from None


def level_by_code(code: int) -> SecurityLevel:
    """Return the level with the one-byte ``code``, or raise DecodeError."""
    from .errors import DecodeError

    if type(code) is not int:
        raise DecodeError("security level code must be an int")
    try:
        return _BY_CODE[code]
    except KeyError:
        raise DecodeError(f"unknown security level code {code}") from None
