"""Presigning (message independent) in four message rounds: GG20's structure, CGGMP21's proofs,
and a proof for every value that is later combined, so that every failure names its sender.

Notation: party i holds k_i, gamma_i (fresh), w_i = lambda_i x_i (its additive key share for the
signer set; W_i = w_i G is public), Paillier key N_i, and the verifier j's ring-Pedersen
parameters rp_j. Enc_i is encryption under N_i.

Round 1 (broadcast): K_i = Enc_i(k_i), G_i = Enc_i(gamma_i).
    (p2p to j): Πenc for K_i against rp_j.
Round 2 (broadcast): Gamma_i = gamma_i G; for every peer j the MtA answers to K_j,
    D_ji = K_j^gamma_i Enc_j(y), F_ji = Enc_i(y) and D^_ji, F^_ji (the same with w_i);
    and H_i = K_i^gamma_i Enc_i(y_i), Y_i = Enc_i(y_i) and H^_i, Y^_i (the same with w_i).
    (p2p to j): Πaff-g for D_ji (X = Gamma_i), for D^_ji (X = W_i), for H_i and H^_i
    (Paillier key N_i on both sides), and Πlog* tying G_i to Gamma_i.
Round 3 (broadcast): delta_i, Delta_i = k_i Gamma.
    (p2p to j): Πlog* tying K_i to Delta_i (base Gamma), and Πlog* tying delta_i G to
    C_delta_i = H_i / Y_i * prod_j D_ij / prod_j F_ji, an encryption of delta_i (as an integer)
    that every party computes from broadcast values alone.
Round 4 (broadcast): S_i = chi_i R, where R = delta^-1 Gamma.
    (p2p to j): Πlog* tying S_i (base R) to C_chi_i, built like C_delta_i from the w MtAs.
Output: a single-use Presignature with R, k_i, chi_i and every signer's R̄_j = k_j R
(= delta^-1 Delta_j) and S_j, against which each later partial signature is checked alone.

Every check that fails names the party whose message failed it. The plaintexts of C_delta_i and
C_chi_i are sums of MtA shares, bounded by the Πaff-g ranges: |.| < 2^(ell' + eps + 10) for up
to 256 signers, far below N/2, so they never wrap; their Πlog* proofs use that range.
"""

from __future__ import annotations

from ..curve import G, Q, point_sum
from ..errors import DecodeError, UsageError
from ..paillier import PaillierPublicKey, PaillierSecretKey
from ..randomness import Rng, resolve
from ..shares import KeyShare, Presignature
from ..vss import lagrange_at_zero
from ..zk import aff_g, enc, log_star
from ..zk._codec import Reader, Writer
from ..zk._common import ProofContext
from .driver import RoundMachine
from .message import Message

__all__ = ["Presign", "sum_range_bits"]


def sum_range_bits(level) -> int:
    """Range (bits) of the integer plaintexts of C_delta and C_chi, for up to 256 signers."""
    return level.ell_prime + level.epsilon + 10


def _combine(pk: PaillierPublicKey, H: int, Y: int, incoming: list[int],
             outgoing: list[int]) -> int:
    """H / Y * prod(incoming) / prod(outgoing) mod N^2."""
    n2 = pk.n2
    num = H
    for c in incoming:
        num = num * c % n2
    den = Y
    for c in outgoing:
        den = den * c % n2
    return num * pow(den, -1, n2) % n2


def _randomness(sk: PaillierSecretKey, c: int) -> tuple[int, int]:
    """(plaintext, rho) of a ciphertext under our own key: rho = (c mod N)^(N^-1 mod phi)."""
    m = sk.decrypt(c)
    rho = sk.powmod_n(c % sk.n, pow(sk.n, -1, sk.phi))
    return m, rho


class _Own:
    """An encryption of k_i * x under our own key, made once and proven to every peer."""

    __slots__ = ("H", "Y", "y", "rho", "rho_y")

    def __init__(self, sk: PaillierSecretKey, K: int, x: int, rng: Rng, lp: int) -> None:
        self.y = rng.signed(lp)
        self.rho = rng.unit(sk.n)
        self.rho_y = rng.unit(sk.n)
        self.H = sk.powmod_n2(K, x) * sk.encrypt_with(self.y, self.rho) % sk.public.n2
        self.Y = sk.encrypt_with(self.y, self.rho_y)


class Presign(RoundMachine):
    PROTOCOL = "presign"
    ROUNDS = {1: (True, True), 2: (True, True), 3: (True, True), 4: (True, True)}

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
        if len(signers) > 256:
            raise UsageError("at most 256 signers")
        super().__init__(share.index, signers, session_id)
        self.share = share
        self.level = share.level
        self._rng = resolve(rng)
        self._pk = {j: PaillierPublicKey(share.paillier_moduli[j]) for j in signers}
        self._rp = {j: share.ring_pedersen[j] for j in signers}
        pts = [share.points[j] for j in signers]
        lam = {j: lagrange_at_zero(pts, share.points[j]) for j in signers}
        self._W = {j: share.public_shares[j] * lam[j] for j in signers}
        self._w = lam[self.index] * share.secret_share % Q
        self._xbits = sum_range_bits(self.level)

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
        self._Kj: dict[int, int] = {self.index: self._K}
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
        me = self.index
        lp = self.level.ell_prime
        self._Gamma_i = G * self._gamma
        self._own = _Own(sk, self._K, self._gamma, rng, lp)
        self._own_hat = _Own(sk, self._K, self._w, rng, lp)
        ctx = self._ctx(me, 2)
        self._beta: dict[int, int] = {}
        self._beta_hat: dict[int, int] = {}
        # my MtA answers, by recipient: (D, F, D^, F^)
        self._answers: dict[int, tuple[int, int, int, int]] = {}
        proofs: dict[int, list[bytes]] = {}
        for j in self.peers:
            D, F, beta, psi = aff_g.mta_response(ctx, self._pk[j], sk, self._Kj[j], self._gamma,
                                                 self._Gamma_i, self._rp[j], rng)
            Dh, Fh, beta_h, psi_h = aff_g.mta_response(ctx, self._pk[j], sk, self._Kj[j],
                                                       self._w, self._W[me], self._rp[j], rng)
            self._beta[j], self._beta_hat[j] = beta, beta_h
            self._answers[j] = (D, F, Dh, Fh)
            proofs[j] = [psi.to_bytes(), psi_h.to_bytes()]
        w = Writer().point(self._Gamma_i)
        w.int(self._own.H).int(self._own.Y).int(self._own_hat.H).int(self._own_hat.Y)
        for j in self.peers:
            for c in self._answers[j]:
                w.int(c)
        out = [self.broadcast(w.getvalue())]
        own_pk = sk.public
        for j in self.peers:
            rp = self._rp[j]
            psi_own = aff_g.prove(
                ctx, aff_g.Statement(own_pk, own_pk, self._K, self._own.H, self._own.Y,
                                     self._Gamma_i, rp),
                aff_g.Witness(self._gamma, self._own.y, self._own.rho, self._own.rho_y, sk), rng)
            psi_own_h = aff_g.prove(
                ctx, aff_g.Statement(own_pk, own_pk, self._K, self._own_hat.H, self._own_hat.Y,
                                     self._W[me], rp),
                aff_g.Witness(self._w, self._own_hat.y, self._own_hat.rho, self._own_hat.rho_y,
                              sk), rng)
            psi_l = log_star.prove(ctx, log_star.Statement(own_pk, self._Gc, self._Gamma_i, rp,
                                                           G),
                                   log_star.Witness(self._gamma, self._nu, sk), rng)
            pw = Writer()
            for blob in proofs[j] + [psi_own.to_bytes(), psi_own_h.to_bytes(), psi_l.to_bytes()]:
                pw.blob(blob)
            out.append(self.send(j, pw.getvalue()))
        return out

    # ---------------------------------------------------------------- round 3
    def _round_2(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        sk = self.share.paillier
        me = self.index
        my_pk = sk.public
        my_rp = self._rp[me]
        self._Gammas = {me: self._Gamma_i}
        # own-key encryptions of every signer: j -> (H, Y, H^, Y^)
        self._owns = {me: (self._own.H, self._own.Y, self._own_hat.H, self._own_hat.Y)}
        # MtA answers by (recipient, sender): (D, F, D^, F^)
        self._mta: dict[tuple[int, int], tuple[int, int, int, int]] = {
            (j, me): self._answers[j] for j in self.peers}
        alpha: dict[int, int] = {}
        alpha_hat: dict[int, int] = {}
        for j in self.peers:
            ctx = self._ctx(j, 2)
            pkj = self._pk[j]
            with self._blame(j, "round 2"):
                r = Reader(bcast[j])
                Gamma_j = r.point()
                owns = (r.int(), r.int(), r.int(), r.int())
                answers = {}
                for k in self.participants:
                    if k != j:
                        answers[k] = (r.int(), r.int(), r.int(), r.int())
                r.end()
                for c in owns:
                    if not pkj.is_ciphertext(c):
                        raise DecodeError("ciphertext out of range")
                for k, (D, F, Dh, Fh) in answers.items():
                    pkk = self._pk[k]
                    if not (pkk.is_ciphertext(D) and pkk.is_ciphertext(Dh)
                            and pkj.is_ciphertext(F) and pkj.is_ciphertext(Fh)):
                        raise DecodeError("ciphertext out of range")
                r = Reader(p2p[j])
                psi = aff_g.Proof.from_bytes(r.blob(), self.level)
                psi_h = aff_g.Proof.from_bytes(r.blob(), self.level)
                psi_own = aff_g.Proof.from_bytes(r.blob(), self.level)
                psi_own_h = aff_g.Proof.from_bytes(r.blob(), self.level)
                psi_l = log_star.Proof.from_bytes(r.blob(), self.level)
                r.end()
                D, F, Dh, Fh = answers[me]
                aff_g.verify(ctx, aff_g.Statement(my_pk, pkj, self._K, D, F, Gamma_j, my_rp),
                             psi)
                aff_g.verify(ctx, aff_g.Statement(my_pk, pkj, self._K, Dh, Fh, self._W[j],
                                                  my_rp), psi_h)
                aff_g.verify(ctx, aff_g.Statement(pkj, pkj, self._Kj[j], owns[0], owns[1],
                                                  Gamma_j, my_rp), psi_own)
                aff_g.verify(ctx, aff_g.Statement(pkj, pkj, self._Kj[j], owns[2], owns[3],
                                                  self._W[j], my_rp), psi_own_h)
                log_star.verify(ctx, log_star.Statement(pkj, self._Gj[j], Gamma_j, my_rp, G),
                                psi_l)
            self._Gammas[j] = Gamma_j
            self._owns[j] = owns
            for k, ans in answers.items():
                self._mta[(k, j)] = ans
            alpha[j] = sk.decrypt(D)
            alpha_hat[j] = sk.decrypt(Dh)
        self._Gamma = point_sum(self._Gammas[j] for j in self.participants)
        if self._Gamma.is_identity:
            self._abort([], 2, "the sum of the Gamma_j is the identity")  # pragma: no cover
        self._Delta_i = self._Gamma * self._k
        # the integer plaintext of C_delta_i, and its randomness, from our own key
        c_delta = self._combined(me, hat=False)
        delta_int, rho_delta = _randomness(sk, c_delta)
        self._delta_i = delta_int % Q
        expected = (self._gamma * self._k + sum(alpha[j] + self._beta[j] for j in self.peers))
        if delta_int != expected:  # pragma: no cover - would be a bug of ours
            raise AssertionError("delta plaintext mismatch")
        rng = self._rng
        ctx = self._ctx(me, 3)
        X = G * self._delta_i
        out = [self.broadcast(Writer().int(self._delta_i).point(self._Delta_i).getvalue())]
        for j in self.peers:
            rp = self._rp[j]
            p1 = log_star.prove(ctx, log_star.Statement(my_pk, self._K, self._Delta_i, rp,
                                                        self._Gamma),
                                log_star.Witness(self._k, self._rho, sk), rng)
            p2 = log_star.prove(ctx, log_star.Statement(my_pk, c_delta, X, rp, G, self._xbits),
                                log_star.Witness(delta_int, rho_delta, sk), rng)
            out.append(self.send(j, Writer().blob(p1.to_bytes()).blob(p2.to_bytes()).getvalue()))
        return out

    def _combined(self, i: int, *, hat: bool) -> int:
        """C_delta_i (or C_chi_i with ``hat``) from broadcast values: an encryption under N_i."""
        H, Y, Hh, Yh = self._owns[i]
        off = 2 if hat else 0
        incoming = [self._mta[(i, j)][off] for j in self.participants if j != i]
        outgoing = [self._mta[(j, i)][off + 1] for j in self.participants if j != i]
        return _combine(self._pk[i], Hh if hat else H, Yh if hat else Y, incoming, outgoing)

    # ---------------------------------------------------------------- round 4
    def _round_3(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        my_rp = self._rp[self.index]
        deltas = {self.index: self._delta_i}
        Deltas = {self.index: self._Delta_i}
        for j in self.peers:
            ctx = self._ctx(j, 3)
            with self._blame(j, "round 3"):
                r = Reader(bcast[j])
                d = r.int()
                Dj = r.point()
                r.end()
                if not 0 <= d < Q:
                    raise DecodeError("delta out of range")
                r = Reader(p2p[j])
                p1 = log_star.Proof.from_bytes(r.blob(), self.level)
                p2 = log_star.Proof.from_bytes(r.blob(), self.level)
                r.end()
                log_star.verify(ctx, log_star.Statement(self._pk[j], self._Kj[j], Dj, my_rp,
                                                        self._Gamma), p1)
                log_star.verify(ctx, log_star.Statement(self._pk[j], self._combined(j, hat=False),
                                                        G * d, my_rp, G, self._xbits), p2)
            deltas[j], Deltas[j] = d, Dj
        delta = sum(deltas.values()) % Q
        if delta == 0 or G * delta != point_sum(Deltas[j] for j in self.participants):
            # every delta_j and Delta_j is proven, so this cannot happen with valid proofs
            self._abort([], 3, "delta G != sum Delta_j despite valid proofs")  # pragma: no cover
        dinv = pow(delta, -1, Q)
        self._R = self._Gamma * dinv
        self._Rbar = {j: Deltas[j] * dinv for j in self.participants}
        sk = self.share.paillier
        c_chi = self._combined(self.index, hat=True)
        chi_int, rho_chi = _randomness(sk, c_chi)
        self._chi_i = chi_int % Q
        self._S_i = self._R * self._chi_i
        rng = self._rng
        ctx = self._ctx(self.index, 4)
        out = [self.broadcast(Writer().point(self._S_i).getvalue())]
        for j in self.peers:
            proof = log_star.prove(ctx, log_star.Statement(sk.public, c_chi, self._S_i,
                                                           self._rp[j], self._R, self._xbits),
                                   log_star.Witness(chi_int, rho_chi, sk), rng)
            out.append(self.send(j, proof.to_bytes()))
        return out

    # ---------------------------------------------------------------- finish
    def _round_4(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        my_rp = self._rp[self.index]
        S = {self.index: self._S_i}
        for j in self.peers:
            with self._blame(j, "round 4"):
                r = Reader(bcast[j])
                Sj = r.point()
                r.end()
                proof = log_star.Proof.from_bytes(p2p[j], self.level)
                log_star.verify(self._ctx(j, 4),
                                log_star.Statement(self._pk[j], self._combined(j, hat=True), Sj,
                                                   my_rp, self._R, self._xbits), proof)
            S[j] = Sj
        if point_sum(S[j] for j in self.participants) != self.share.public_key_point:
            # every S_j is proven, so this cannot happen with valid proofs
            self._abort([], 4, "sum S_j != public key despite valid proofs")  # pragma: no cover
        self._finish(Presignature(
            session_id=self.session_id, index=self.index, signers=self.participants, R=self._R,
            k=self._k, chi=self._chi_i, Rbar=self._Rbar, S=S,
            public_key_point=self.share.public_key_point, chain_code=self.share.chain_code,
            epoch=self.share.epoch))
        return []
