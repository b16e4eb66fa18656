"""Presigning (message independent): GG20's structure with CGGMP21's proofs, four message
rounds when everyone is honest, and a blame round that names the culprit when a combined value
is wrong.

Notation: party i holds k_i, gamma_i (fresh), w_i = lambda_i x_i (its additive key share for the
signer set; W_i = w_i G is public), Paillier key N_i, and the verifier j's ring-Pedersen
parameters rp_j. Enc_i is encryption under N_i.

Round 1 (broadcast): K_i = Enc_i(k_i), G_i = Enc_i(gamma_i).
    (p2p to j): Πenc for K_i against rp_j.
Round 2 (broadcast): an echo of the round-1 broadcasts; Gamma_i = gamma_i G, and the MtA
    answers to every peer j's K_j:
    D_ji = K_j^gamma_i Enc_j(y), F_ji = Enc_i(y), and D^_ji, F^_ji (the same with w_i).
    Broadcasting the ciphertexts costs nothing in secrecy and lets everyone later recompute an
    encryption of any party's delta_i and chi_i.
    (p2p to j): Πaff-g for D_ji (X = Gamma_i) and for D^_ji (X = W_i); Πlog* tying G_i to
    Gamma_i.
Round 3 (broadcast): an echo of the round-2 broadcasts; delta_i, Delta_i = k_i Gamma.
    (p2p): Πlog* tying K_i to Delta_i.
Round 4 (broadcast): an echo of the round-3 broadcasts and S_i = chi_i R, R = delta^-1 Gamma.
    Done when sum S_j = Y. Each later partial signature is then checked alone against
    R̄_j = k_j R = delta^-1 Delta_j and S_j.

Blame (only after a failure; every message is a zero-knowledge proof, nothing secret leaks):
* delta G != sum Delta_j: round 4 carries instead H_i = K_i^gamma_i Enc_i(y_i), Y_i = Enc_i(y_i)
  with Πaff-g (Paillier key N_i on both sides), and Πlog* tying delta_i G to
  C_delta_i = H_i / Y_i * prod_j D_ij / prod_j F_ji, an encryption of delta_i as an integer that
  every party computes from broadcast values. The parties whose proofs fail are the culprits.
* sum S_j != Y: round 5 does the same for chi_i (H^_i with w_i, Πlog* in base R against S_i).
The plaintexts of C_delta_i and C_chi_i are sums of MtA shares, bounded through the Πaff-g ranges
by 2^(ell' + eps + 10) for up to 256 signers, far below N/2, so they never wrap; their Πlog*
proofs use that range. The echo makes every honest party take the same branch.
"""

from __future__ import annotations

from ..curve import G, Q, point_sum
from ..errors import DecodeError, InvalidProof, UsageError
from ..paillier import PaillierPublicKey, PaillierSecretKey
from ..randomness import Rng, resolve
from ..shares import KeyShare, Presignature
from ..vss import lagrange_at_zero
from ..zk import aff_g, enc, log_star
from ..zk._codec import Reader, Writer
from ..zk._common import ProofContext
from .driver import RoundMachine, echo_digests
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
    ROUNDS = {1: (True, True), 2: (True, True), 3: (True, True), 4: (True, True),
              5: (True, True)}

    _NORMAL, _BLAME_DELTA, _BLAME_CHI = 0, 1, 2

    def __init__(self, share: KeyShare, signers: list[int] | tuple[int, ...], session_id: bytes,
                 *, rng: Rng | None = None) -> None:
        if not isinstance(share, KeyShare):
            raise UsageError("Presign takes a KeyShare")
        if not share.can_sign:
            raise UsageError("this key share cannot sign yet: it was imported and has no proven "
                             "Paillier key; run a Refresh or Reshare first")
        signers = tuple(signers)
        if any(not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < share.parties
               for j in signers):
            raise UsageError("signer index out of range")
        signers = tuple(sorted(signers))
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
        self._mode = self._NORMAL
        self._sid = self.session_id + share.sharing_id

    def _ctx(self, prover: int, round: int) -> ProofContext:
        # the sharing is bound into the session: shares of different sharings never agree
        return ProofContext(self._sid, prover, self.level, round)

    def _expected(self, r: int) -> list[tuple[int, bool]]:
        if r == 4 and self._mode == self._NORMAL:
            return [(p, True) for p in self.peers]
        if r in (4, 5):
            # blame: a peer's proofs come point to point, unless its broadcast already shows
            # it took the other branch (then the round runs and names it)
            slots = []
            for p in self.peers:
                slots.append((p, True))
                held = self._inbox.get((r, p, True))
                if held is None or held.payload[:1] == bytes([self._mode]):
                    slots.append((p, False))
            return slots
        return super()._expected(r)

    # ---------------------------------------------------------------- round 1
    def _start(self) -> list[Message]:
        rng = self._rng
        sk = self.share.paillier
        self._k = rng.scalar(Q)
        self._gamma = rng.scalar(Q)
        self._K, self._rho = sk.encrypt(self._k, rng)
        self._Gc, self._nu = sk.encrypt(self._gamma, rng)
        payload = Writer().int(self._K).int(self._Gc).getvalue()
        self._r1 = {self.index: payload}
        out = [self.broadcast(payload)]
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
            self._r1[j] = bcast[j]
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
        self._Gamma_i = G * self._gamma
        ctx = self._ctx(me, 2)
        self._beta: dict[int, int] = {}
        self._beta_hat: dict[int, int] = {}
        # MtA answers by (recipient, sender): (D, F, D^, F^)
        self._mta: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        proofs: dict[int, list[bytes]] = {}
        for j in self.peers:
            D, F, beta, psi = aff_g.mta_response(ctx, self._pk[j], sk, self._Kj[j], self._gamma,
                                                 self._Gamma_i, self._rp[j], rng)
            Dh, Fh, beta_h, psi_h = aff_g.mta_response(ctx, self._pk[j], sk, self._Kj[j],
                                                       self._w, self._W[me], self._rp[j], rng)
            self._beta[j], self._beta_hat[j] = beta, beta_h
            self._mta[(j, me)] = (D, F, Dh, Fh)
            psi_l = log_star.prove(ctx, log_star.Statement(sk.public, self._Gc, self._Gamma_i,
                                                           self._rp[j], G),
                                   log_star.Witness(self._gamma, self._nu, sk), rng)
            proofs[j] = [psi.to_bytes(), psi_h.to_bytes(), psi_l.to_bytes()]
        w = Writer().raw(echo_digests(self.session_id, 1, self._r1)).point(self._Gamma_i)
        for j in self.peers:
            for c in self._mta[(j, me)]:
                w.int(c)
        payload = w.getvalue()
        self._r2 = {me: payload}
        out = [self.broadcast(payload)]
        for j in self.peers:
            pw = Writer()
            for blob in proofs[j]:
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
        alpha: dict[int, int] = {}
        alpha_hat: dict[int, int] = {}
        echo_len = 32 * len(self.participants)
        for j in self.peers:
            ctx = self._ctx(j, 2)
            pkj = self._pk[j]
            self._r2[j] = bcast[j]
            with self._blame(j, "round 2"):
                r = Reader(bcast[j])
                echo = r.raw(echo_len)
            self._check_echo(j, echo, self._r1, 1)
            with self._blame(j, "round 2"):
                Gamma_j = r.point()
                answers = {}
                for k in self.participants:
                    if k != j:
                        answers[k] = (r.int(), r.int(), r.int(), r.int())
                r.end()
                for k, (D, F, Dh, Fh) in answers.items():
                    pkk = self._pk[k]
                    if not (pkk.is_ciphertext(D) and pkk.is_ciphertext(Dh)
                            and pkj.is_ciphertext(F) and pkj.is_ciphertext(Fh)):
                        raise DecodeError("ciphertext out of range")
                r = Reader(p2p[j])
                psi = aff_g.Proof.from_bytes(r.blob(), self.level)
                psi_h = aff_g.Proof.from_bytes(r.blob(), self.level)
                psi_l = log_star.Proof.from_bytes(r.blob(), self.level)
                r.end()
                D, F, Dh, Fh = answers[me]
                aff_g.verify(ctx, aff_g.Statement(my_pk, pkj, self._K, D, F, Gamma_j, my_rp),
                             psi)
                aff_g.verify(ctx, aff_g.Statement(my_pk, pkj, self._K, Dh, Fh, self._W[j],
                                                  my_rp), psi_h)
                log_star.verify(ctx, log_star.Statement(pkj, self._Gj[j], Gamma_j, my_rp, G),
                                psi_l)
            self._Gammas[j] = Gamma_j
            for k, ans in answers.items():
                self._mta[(k, j)] = ans
            alpha[j] = sk.decrypt(D)
            alpha_hat[j] = sk.decrypt(Dh)
        self._Gamma = point_sum(self._Gammas[j] for j in self.participants)
        if self._Gamma.is_identity:
            self._abort([], 2, "the sum of the Gamma_j is the identity")  # pragma: no cover
        self._Delta_i = self._Gamma * self._k
        self._delta_i = (self._gamma * self._k
                         + sum(alpha[j] + self._beta[j] for j in self.peers)) % Q
        self._chi_i = (self._w * self._k
                       + sum(alpha_hat[j] + self._beta_hat[j] for j in self.peers)) % Q
        rng = self._rng
        ctx = self._ctx(me, 3)
        payload = (Writer().raw(echo_digests(self.session_id, 2, self._r2))
                   .int(self._delta_i).point(self._Delta_i).getvalue())
        self._r3 = {me: payload}
        out = [self.broadcast(payload)]
        for j in self.peers:
            proof = log_star.prove(ctx, log_star.Statement(my_pk, self._K, self._Delta_i,
                                                           self._rp[j], self._Gamma),
                                   log_star.Witness(self._k, self._rho, sk), rng)
            out.append(self.send(j, proof.to_bytes()))
        return out

    # ---------------------------------------------------------------- round 4
    def _round_3(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        my_rp = self._rp[self.index]
        self._deltas = {self.index: self._delta_i}
        Deltas = {self.index: self._Delta_i}
        echo_len = 32 * len(self.participants)
        for j in self.peers:
            self._r3[j] = bcast[j]
            with self._blame(j, "round 3"):
                r = Reader(bcast[j])
                echo = r.raw(echo_len)
            self._check_echo(j, echo, self._r2, 2)
            with self._blame(j, "round 3"):
                d = r.int()
                Dj = r.point()
                r.end()
                if not 0 <= d < Q:
                    raise DecodeError("delta out of range")
                proof = log_star.Proof.from_bytes(p2p[j], self.level)
                log_star.verify(self._ctx(j, 3),
                                log_star.Statement(self._pk[j], self._Kj[j], Dj, my_rp,
                                                   self._Gamma), proof)
            self._deltas[j], Deltas[j] = d, Dj
        echo = echo_digests(self.session_id, 3, self._r3)
        delta = sum(self._deltas.values()) % Q
        if delta == 0 or G * delta != point_sum(Deltas[j] for j in self.participants):
            self._mode = self._BLAME_DELTA
            return self._blame_messages(echo, hat=False)
        dinv = pow(delta, -1, Q)
        self._R = self._Gamma * dinv
        self._Rbar = {j: Deltas[j] * dinv for j in self.participants}
        self._S_i = self._R * self._chi_i
        payload = Writer().raw(bytes([self._NORMAL])).raw(echo).point(self._S_i).getvalue()
        self._r4 = {self.index: payload}
        return [self.broadcast(payload)]

    def _blame_messages(self, echo: bytes, *, hat: bool) -> list[Message]:
        """Prove that our delta_i (or chi_i with ``hat``) is the plaintext of C_delta_i."""
        sk = self.share.paillier
        me = self.index
        rng = self._rng
        x, X = (self._w, self._W[me]) if hat else (self._gamma, self._Gamma_i)
        own = _Own(sk, self._K, x, rng, self.level.ell_prime)
        self._owns = {me: (own.H, own.Y)}
        c = self._combined(me, hat=hat)
        plain, rho = _randomness(sk, c)
        ctx = self._ctx(me, 5 if hat else 4)
        mode = self._BLAME_CHI if hat else self._BLAME_DELTA
        out = [self.broadcast(Writer().raw(bytes([mode])).raw(echo).int(own.H).int(own.Y)
                              .getvalue())]
        if hat:
            base, point = self._R, self._S_i
        else:
            base, point = G, G * self._delta_i
        for j in self.peers:
            rp = self._rp[j]
            p1 = aff_g.prove(ctx, aff_g.Statement(sk.public, sk.public, self._K, own.H, own.Y,
                                                  X, rp),
                             aff_g.Witness(x, own.y, own.rho, own.rho_y, sk), rng)
            p2 = log_star.prove(ctx, log_star.Statement(sk.public, c, point, rp, base,
                                                        self._xbits),
                                log_star.Witness(plain, rho, sk), rng)
            out.append(self.send(j, Writer().blob(p1.to_bytes()).blob(p2.to_bytes())
                                 .getvalue()))
        return out

    def _combined(self, i: int, *, hat: bool) -> int:
        """C_delta_i (C_chi_i with ``hat``) from broadcast values: an encryption under N_i."""
        H, Y = self._owns[i]
        off = 2 if hat else 0
        incoming = [self._mta[(i, j)][off] for j in self.participants if j != i]
        outgoing = [self._mta[(j, i)][off + 1] for j in self.participants if j != i]
        return _combine(self._pk[i], H, Y, incoming, outgoing)

    def _read_mode(self, j: int, data: bytes, round: int, echo: bytes) -> Reader:
        """Check the mode byte and the echo of party j's message; return the rest."""
        with self._blame(j, f"round {round}"):
            r = Reader(data)
            mode = r.raw(1)[0]
            their_echo = r.raw(len(echo))
        self._check_echo(j, their_echo, self._r3 if round == 4 else self._r4, round - 1)
        if mode != self._mode:
            self._abort([j], round, "did not follow the protocol's branch (blame or not)")
        return r

    def _verify_blame(self, bcast: dict[int, bytes], p2p: dict[int, bytes], round: int,
                      echo: bytes, *, hat: bool) -> None:
        my_rp = self._rp[self.index]
        culprits = []
        for j in self.peers:
            r = self._read_mode(j, bcast[j], round, echo)
            ctx = self._ctx(j, round)
            pkj = self._pk[j]
            try:
                H, Y = r.int(), r.int()
                r.end()
                if not (pkj.is_ciphertext(H) and pkj.is_ciphertext(Y)):
                    raise DecodeError("ciphertext out of range")
                self._owns[j] = (H, Y)
                pr = Reader(p2p[j])
                p1 = aff_g.Proof.from_bytes(pr.blob(), self.level)
                p2 = log_star.Proof.from_bytes(pr.blob(), self.level)
                pr.end()
                X = self._W[j] if hat else self._Gammas[j]
                aff_g.verify(ctx, aff_g.Statement(pkj, pkj, self._Kj[j], H, Y, X, my_rp), p1)
                point = self._S[j] if hat else G * self._deltas[j]
                base = self._R if hat else G
                log_star.verify(ctx, log_star.Statement(pkj, self._combined(j, hat=hat), point,
                                                        my_rp, base, self._xbits), p2)
            except (DecodeError, InvalidProof):
                culprits.append(j)
        what = "chi" if hat else "delta"
        if culprits:
            self._abort(culprits, round, f"sent a wrong {what} share (proven in the blame round)")
        # our own value is right and every other was proven: only an unseen fault remains
        self._abort([], round, f"the {what} shares do not combine, but every proof "
                               "verified")  # pragma: no cover

    # ---------------------------------------------------------------- finish, or blame chi
    def _round_4(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        echo = echo_digests(self.session_id, 3, self._r3)
        if self._mode == self._BLAME_DELTA:
            self._verify_blame(bcast, p2p, 4, echo, hat=False)
        S = {self.index: self._S_i}
        for j in self.peers:
            self._r4[j] = bcast[j]
            r = self._read_mode(j, bcast[j], 4, echo)
            with self._blame(j, "round 4"):
                S[j] = r.point(allow_identity=True)
                r.end()
        self._S = S
        if point_sum(S[j] for j in self.participants) != self.share.public_key_point:
            self._mode = self._BLAME_CHI
            return self._blame_messages(echo_digests(self.session_id, 4, self._r4), hat=True)
        self._finish(Presignature(
            session_id=self.session_id, index=self.index, signers=self.participants, R=self._R,
            k=self._k, chi=self._chi_i, Rbar=self._Rbar, S=S,
            public_key_point=self.share.public_key_point, chain_code=self.share.chain_code,
            epoch=self.share.epoch))
        return []

    def _round_5(self, bcast: dict[int, bytes], p2p: dict[int, bytes]) -> list[Message]:
        self._verify_blame(bcast, p2p, 5, echo_digests(self.session_id, 4, self._r4), hat=True)
        return []  # pragma: no cover - _verify_blame always aborts
