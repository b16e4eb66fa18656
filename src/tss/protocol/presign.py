"""Presigning (message independent), in four message rounds, GG20 structure with CGGMP21 proofs.

Round 1 (broadcast): K_i = Enc_i(k_i), G_i = Enc_i(gamma_i).
    (point-to-point): Πenc for K_i against the recipient's ring-Pedersen parameters.
Round 2 (broadcast): Gamma_i = gamma_i G.
    (point-to-point): the two MtA answers to the recipient's K_j — for gamma_i (D, F) and for
    w_i (D^, F^) — each with Πaff-g, and Πlog* tying G_i to Gamma_i.
Round 3 (broadcast): delta_i and Delta_i = k_i Gamma.
    (point-to-point): Πlog* tying K_i to Delta_i in base Gamma.
Round 4 (broadcast): S_i = chi_i R, once R = delta^-1 Gamma is known; everyone checks
    sum S_j = Y, so that each later partial signature can be checked on its own.
Output: a single-use Presignature with R, k_i, chi_i and every signer's R̄_j = k_j R, S_j.

w_i = lambda_i x_i is this party's additive share for the signer set; W_j = lambda_j X_j is its
public image, computed by everyone from the key share.
"""

from __future__ import annotations

from ..curve import G, Q, point_sum
from ..errors import DecodeError, UsageError
from ..paillier import PaillierPublicKey
from ..randomness import Rng, resolve
from ..shares import KeyShare, Presignature
from ..zk import aff_g, enc, log_star
from ..zk._codec import Reader, Writer
from ..zk._common import ProofContext
from .driver import RoundMachine
from .message import Message

__all__ = ["Presign"]


class Presign(RoundMachine):
    PROTOCOL = "presign"
    ROUNDS = {1: (True, True), 2: (True, True), 3: (True, True), 4: (True, False)}

    def __init__(self, share: KeyShare, signers: list[int] | tuple[int, ...], session_id: bytes,
                 *, rng: Rng | None = None) -> None:
        if not isinstance(share, KeyShare):
            raise UsageError("Presign takes a KeyShare")
        if not share.can_sign:
            raise UsageError("this key share cannot sign yet: it was imported and has no proven "
                             "Paillier key; run a Refresh or Reshare first")
        signers = tuple(sorted(signers))
        if any(not isinstance(j, int) or not 0 <= j < share.parties for j in signers):
            raise UsageError("signer index out of range")
        if len(set(signers)) != len(signers):
            raise UsageError("duplicate signer")
        if len(signers) < share.threshold:
            raise UsageError(f"need at least {share.threshold} signers, got {len(signers)}")
        super().__init__(share.index, signers, session_id)
        self.share = share
        self.level = share.level
        self._rng = resolve(rng)
        self._pk = {j: PaillierPublicKey(share.paillier_moduli[j]) for j in signers}
        self._rp = {j: share.ring_pedersen[j] for j in signers}
        pts = [share.points[j] for j in signers]
        from ..vss import lagrange_at_zero

        self._lam = {j: lagrange_at_zero(pts, share.points[j]) for j in signers}
        self._W = {j: share.public_shares[j] * self._lam[j] for j in signers}
        self._w = self._lam[self.index] * share.secret_share % Q

    def _ctx(self, prover: int, round: int) -> ProofContext:
        # the epoch is bound into the session: shares of different epochs never agree
        sid = self.session_id + self.share.epoch.to_bytes(4, "big")
        return ProofContext(sid, prover, self.level, round)

    # ---------------------------------------------------------------- round 1
    def _start(self) -> list[Message]:
        rng = self._rng
        sk = self.share.paillier
        self._k = rng.scalar(Q)
        self._gamma = rng.scalar(Q)
        self._K, self._rho = sk.encrypt(self._k, rng)
        self._Gc, self._nu = sk.encrypt(self._gamma, rng)
        out = [self.broadcast(Writer().int(self._K).int(self._Gc).getvalue())]
        ctx = self._ctx(self.index, 1)
        for j in self.peers:
            proof = enc.prove(ctx, enc.Statement(sk.public, self._K, self._rp[j]),
                              enc.Witness(self._k, self._rho, sk), rng)
            out.append(self.send(j, proof.to_bytes()))
        return out

    # ---------------------------------------------------------------- round 2
    def _round_1(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        my_rp = self._rp[self.index]
        self._Kj: dict[int, int] = {}
        self._Gj: dict[int, int] = {}
        for j in self.peers:
            with self._blame(j, "round 1"):
                r = Reader(bcast[j])
                K, Gc = r.int(), r.int()
                r.end()
                if not (self._pk[j].is_ciphertext(K) and self._pk[j].is_ciphertext(Gc)):
                    raise DecodeError("ciphertext out of range")
                proof = enc.Proof.from_bytes(p2p[j], self.level)
                enc.verify(self._ctx(j, 1), enc.Statement(self._pk[j], K, my_rp), proof)
            self._Kj[j], self._Gj[j] = K, Gc
        rng = self._rng
        sk = self.share.paillier
        self._Gamma_i = G * self._gamma
        ctx = self._ctx(self.index, 2)
        out = [self.broadcast(Writer().point(self._Gamma_i).getvalue())]
        self._beta: dict[int, int] = {}
        self._beta_hat: dict[int, int] = {}
        for j in self.peers:
            D, F, beta, psi = aff_g.mta_response(ctx, self._pk[j], sk, self._Kj[j], self._gamma,
                                                 self._Gamma_i, self._rp[j], rng)
            Dh, Fh, beta_h, psi_h = aff_g.mta_response(ctx, self._pk[j], sk, self._Kj[j],
                                                       self._w, self._W[self.index],
                                                       self._rp[j], rng)
            self._beta[j], self._beta_hat[j] = beta, beta_h
            psi_l = log_star.prove(ctx, log_star.Statement(sk.public, self._Gc, self._Gamma_i,
                                                           self._rp[j], G),
                                   log_star.Witness(self._gamma, self._nu, sk), rng)
            w = Writer().int(D).int(F).int(Dh).int(Fh)
            w.blob(psi.to_bytes()).blob(psi_h.to_bytes()).blob(psi_l.to_bytes())
            out.append(self.send(j, w.getvalue()))
        return out

    # ---------------------------------------------------------------- round 3
    def _round_2(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        sk = self.share.paillier
        my_pk = sk.public
        my_rp = self._rp[self.index]
        Gammas = {self.index: self._Gamma_i}
        alpha: dict[int, int] = {}
        alpha_hat: dict[int, int] = {}
        for j in self.peers:
            ctx = self._ctx(j, 2)
            with self._blame(j, "round 2"):
                r = Reader(bcast[j])
                Gamma_j = r.point()
                r.end()
                r = Reader(p2p[j])
                D, F, Dh, Fh = r.int(), r.int(), r.int(), r.int()
                psi = aff_g.Proof.from_bytes(r.blob(), self.level)
                psi_h = aff_g.Proof.from_bytes(r.blob(), self.level)
                psi_l = log_star.Proof.from_bytes(r.blob(), self.level)
                r.end()
                aff_g.verify(ctx, aff_g.Statement(my_pk, self._pk[j], self._K, D, F, Gamma_j,
                                                  my_rp), psi)
                aff_g.verify(ctx, aff_g.Statement(my_pk, self._pk[j], self._K, Dh, Fh,
                                                  self._W[j], my_rp), psi_h)
                log_star.verify(ctx, log_star.Statement(self._pk[j], self._Gj[j], Gamma_j,
                                                        my_rp, G), psi_l)
            Gammas[j] = Gamma_j
            alpha[j] = sk.decrypt(D)
            alpha_hat[j] = sk.decrypt(Dh)
        self._Gammas = Gammas
        self._Gamma = point_sum(Gammas[j] for j in self.participants)
        if self._Gamma.is_identity:
            self._abort([], 2, "the sum of the Gamma_j is the identity")  # pragma: no cover
        self._Delta_i = self._Gamma * self._k
        self._delta_i = (self._gamma * self._k
                         + sum(alpha[j] + self._beta[j] for j in self.peers)) % Q
        self._chi_i = (self._w * self._k
                       + sum(alpha_hat[j] + self._beta_hat[j] for j in self.peers)) % Q
        rng = self._rng
        ctx = self._ctx(self.index, 3)
        out = [self.broadcast(Writer().int(self._delta_i).point(self._Delta_i).getvalue())]
        for j in self.peers:
            proof = log_star.prove(ctx, log_star.Statement(my_pk, self._K, self._Delta_i,
                                                           self._rp[j], self._Gamma),
                                   log_star.Witness(self._k, self._rho, sk), rng)
            out.append(self.send(j, proof.to_bytes()))
        return out

    # ---------------------------------------------------------------- round 4
    def _round_3(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        my_rp = self._rp[self.index]
        deltas = {self.index: self._delta_i}
        Deltas = {self.index: self._Delta_i}
        for j in self.peers:
            with self._blame(j, "round 3"):
                r = Reader(bcast[j])
                d = r.int()
                Dj = r.point()
                r.end()
                if not 0 <= d < Q:
                    raise DecodeError("delta out of range")
                proof = log_star.Proof.from_bytes(p2p[j], self.level)
                log_star.verify(self._ctx(j, 3),
                                log_star.Statement(self._pk[j], self._Kj[j], Dj, my_rp,
                                                   self._Gamma), proof)
            deltas[j], Deltas[j] = d, Dj
        delta = sum(deltas.values()) % Q
        if delta == 0 or G * delta != point_sum(Deltas[j] for j in self.participants):
            # every Delta_j is proven against K_j, so a wrong delta_j is what broke the
            # equation; telling which one needs the CGGMP21 blame round (not implemented)
            self._abort([], 3, "delta G != sum Delta_j: a party sent a wrong delta share "
                               "(the culprit is not identified)")
        dinv = pow(delta, -1, Q)
        self._R = self._Gamma * dinv
        self._Rbar = {j: Deltas[j] * dinv for j in self.participants}
        self._S_i = self._R * self._chi_i
        return [self.broadcast(Writer().point(self._S_i).getvalue())]

    # ---------------------------------------------------------------- finish
    def _round_4(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        S = {self.index: self._S_i}
        for j in self.peers:
            with self._blame(j, "round 4"):
                r = Reader(bcast[j])
                S[j] = r.point(allow_identity=True)
                r.end()
        if point_sum(S[j] for j in self.participants) != self.share.public_key_point:
            self._abort([], 4, "sum S_j != public key: a party sent a wrong S share "
                               "(the culprit is not identified)")
        self._finish(Presignature(
            session_id=self.session_id, index=self.index, signers=self.participants, R=self._R,
            k=self._k, chi=self._chi_i, Rbar=self._Rbar, S=S,
            public_key_point=self.share.public_key_point, chain_code=self.share.chain_code,
            epoch=self.share.epoch))
        return []

