"""tss: threshold ECDSA on secp256k1 (GG20 structure, CGGMP21 proofs) with GMP kernels.

>>> import tss
>>> shares = tss.simulate_keygen(threshold=2, parties=3)          # doctest: +SKIP
>>> sig = tss.simulate_sign([shares[0], shares[2]], bytes(32))     # doctest: +SKIP
"""

from __future__ import annotations

from . import arith, params
from .errors import DecodeError, InvalidProof, ProtocolAborted, TssError, UsageError
from .migration import import_tss_lib
from .paillier import PaillierSecretKey
from .params import HIGH, STANDARD, SecurityLevel
from .protocol.keygen import Keygen
from .protocol.message import Message
from .protocol.presign import Presign
from .protocol.refresh import Refresh
from .protocol.reshare import Reshare, ReshareReceipt
from .protocol.sign import Sign
from .shares import KeyShare, Presignature, PublicKeyInfo, Signature
from .simulation import (
    simulate_keygen,
    simulate_presign,
    simulate_refresh,
    simulate_reshare,
    simulate_sign,
)

__version__ = "0.1.0"

__all__ = [
    "arith", "params", "TssError", "UsageError", "DecodeError", "InvalidProof",
    "ProtocolAborted", "PaillierSecretKey", "SecurityLevel", "STANDARD", "HIGH", "Keygen",
    "Presign", "Sign",
    "Message", "KeyShare", "Presignature", "PublicKeyInfo", "Signature", "Refresh", "Reshare",
    "ReshareReceipt", "simulate_keygen", "simulate_presign", "simulate_sign", "simulate_refresh",
    "simulate_reshare", "derive_public_key", "import_tss_lib",
]


def derive_public_key(public_key: bytes, chain_code: bytes, path: str) -> bytes:
    """The BIP32 (non-hardened) child public key of ``public_key`` along ``path``."""
    from .hd import derive_public_key as _derive

    return _derive(public_key, chain_code, path)
