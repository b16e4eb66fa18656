"""Key refresh (CGGMP21): new shares of the same key, and new auxiliary information.

Every party of the key takes part. Each deals a Feldman sharing of zero — its constant
commitment must be the identity, checked by everyone, so the public key cannot move and no share
is destroyed (attack A-17) — and proves a fresh Paillier-Blum modulus and ring-Pedersen
parameters with Πmod, Πprm and Πfac, exactly as in key generation. The new share is the old one
plus the sum of the zero-shares; the epoch goes up by one, so old and new shares never mix.
The old share is left untouched: if the refresh fails, it is still valid.

Imported tss-lib shares (which cannot sign) refresh like any other: their evaluation points are
kept and the result has proven Paillier keys.
"""

from __future__ import annotations

import hashlib

from ..curve import Q, point_sum
from ..errors import DecodeError, UsageError
from ..paillier import PaillierSecretKey
from ..randomness import Rng
from ..shares import KeyShare
from ..vss import commitment_at
from ..zk._common import ProofContext
from .keygen import AuxDealing

__all__ = ["Refresh"]


class Refresh(AuxDealing):
    """One party of a key refresh; every party of the key runs one with its current share."""

    PROTOCOL = "refresh"

    def __init__(self, share: KeyShare, session_id: bytes, *, rng: Rng | None = None,
                 paillier_key: PaillierSecretKey | None = None) -> None:
        if not isinstance(share, KeyShare):
            raise UsageError("Refresh takes a KeyShare")
        if share.epoch + 1 >= 1 << 32:
            raise UsageError("this key has reached the last epoch")
        self.share = share
        self._setup(share.index, share.threshold, share.parties, share.points, session_id,
                    share.level, rng, paillier_key)

    def _context_id(self) -> bytes:
        # bind the key, its public shares and its epoch: shares of another key or epoch fail
        h = hashlib.sha256(b"tss/refresh-context")
        h.update(self.session_id)
        h.update(self.share.public_key)
        for X in self.share.public_shares:
            h.update(X.to_bytes())
        h.update(self.share.epoch.to_bytes(4, "big"))
        return h.digest()

    def _dealt_secret(self) -> int:
        return 0

    def _prove_constant(self, ctx: ProofContext) -> bytes:
        return b""

    def _verify_constant(self, j: int, A0, proof: bytes) -> None:
        if not A0.is_identity:
            raise DecodeError("refresh: the constant commitment is not the identity "
                              "(a refresh must deal a sharing of zero)")
        if proof:
            raise DecodeError("refresh: unexpected proof for the constant term")

    def _assemble(self, share_sum: int, commitments: list) -> tuple:
        old = self.share
        x = (old.secret_share + share_sum) % Q
        X = tuple(old.public_shares[k] + point_sum(commitment_at(A, old.points[k])
                                                   for A in commitments)
                  for k in range(old.parties))
        return x, X, old.public_key_point, old.chain_code

    def _make_share(self, x, X, Y, chain, moduli, rps) -> KeyShare:
        old = self.share
        return KeyShare(level=old.level, index=old.index, threshold=old.threshold,
                        parties=old.parties, points=old.points, secret_share=x,
                        public_shares=X, public_key_point=Y, chain_code=chain,
                        paillier=self._sk, paillier_moduli=moduli, ring_pedersen=rps,
                        epoch=old.epoch + 1, imported=False)
