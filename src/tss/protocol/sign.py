"""The online signing round: one broadcast of s_i = m k_i + r chi_i per signer.

Each partial signature is checked on its own against the presignature's public values,
s_j R == m R̄_j + r S_j, so a bad one names its sender. The presignature is marked consumed
before this party's share leaves the machine, and a consumed presignature never signs again.
A failed signature is terminal: nothing is retried (abort oracles, attack A-8).

Signing under a BIP32 derivation path uses the additive tweak tau of the child key:
chi_i' = chi_i + tau k_i and S_j' = S_j + tau R̄_j, so one presignature serves any child key.
"""

from __future__ import annotations

from ..curve import Q, point_sum
from ..errors import DecodeError, UsageError
from ..shares import Presignature, Signature
from .driver import RoundMachine
from .message import Message

__all__ = ["Sign", "finalize_signature"]


def finalize_signature(r: int, s: int, R_has_even_y: bool, r_overflow: bool) -> Signature:
    """Normalise to low S and compute the recovery id."""
    rec = (0 if R_has_even_y else 1) | (2 if r_overflow else 0)
    if s > Q // 2:
        s = Q - s
        rec ^= 1
    return Signature(r, s, rec)


class Sign(RoundMachine):
    PROTOCOL = "sign"
    ROUNDS = {1: (True, False)}

    def __init__(self, presignature: Presignature, message_hash: bytes, *,
                 derivation_path: str | None = None) -> None:
        if not isinstance(presignature, Presignature):
            raise UsageError("Sign takes a Presignature")
        if not isinstance(message_hash, (bytes, bytearray)) or len(message_hash) != 32:
            raise UsageError("message_hash must be 32 bytes (hash the message first)")
        if presignature.consumed:
            raise UsageError("this presignature was already used; a presignature signs once")
        super().__init__(presignature.index, presignature.signers, presignature.session_id)
        self.presignature = presignature
        self.message_hash = bytes(message_hash)
        m = int.from_bytes(message_hash, "big") % Q
        tau = 0
        pub = presignature.public_key_point
        if derivation_path:
            from ..hd import derive

            pub, _, tau = derive(presignature.public_key_point, presignature.chain_code,
                                 derivation_path)
        self.public_key_point = pub
        self._m = m
        self._tau = tau
        R = presignature.R
        x, _ = R.xy()
        self._r = x % Q
        if self._r == 0:
            raise UsageError("degenerate presignature (r = 0); use another one")
        self._R_even = R.has_even_y()
        self._r_overflow = x >= Q
        self._S = {j: presignature.S[j] + presignature.Rbar[j] * tau
                   for j in presignature.signers}

    def _start(self) -> list[Message]:
        pre = self.presignature
        if pre.consumed:
            raise UsageError("this presignature was already used; a presignature signs once")
        pre.consumed = True  # burn before the share exists outside this machine
        chi = (pre.chi + self._tau * pre.k) % Q
        self._s_i = (self._m * pre.k + self._r * chi) % Q
        return [self.broadcast(self._s_i.to_bytes(32, "big"))]

    def _round_1(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        pre = self.presignature
        shares = {self.index: self._s_i}
        bad = []
        for j in self.peers:
            with self._blame(j, "partial signature"):
                data = bcast[j]
                if len(data) != 32:
                    raise DecodeError("a partial signature is 32 bytes")
                s_j = int.from_bytes(data, "big")
                if s_j >= Q:
                    raise DecodeError("partial signature out of range")
            lhs = pre.R * s_j
            rhs = point_sum([pre.Rbar[j] * self._m, self._S[j] * self._r])
            if lhs != rhs:
                bad.append(j)
            shares[j] = s_j
        if bad:
            self._abort(bad, 1, "partial signature does not match the presignature")
        s = sum(shares.values()) % Q
        if s == 0:
            self._abort([], 1, "degenerate signature (s = 0)")  # pragma: no cover
        sig = finalize_signature(self._r, s, self._R_even, self._r_overflow)
        if not sig.verify(self.public_key_point.to_bytes(), self.message_hash):
            self._abort([], 1, "combined signature does not verify")  # pragma: no cover
        self._finish(sig)
        return []

