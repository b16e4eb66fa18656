"""Attacks on presigning (attacks.md section 3.2: T-2 Alpha-Rays, T-12 equivocation, T-13
identifiable abort), three signers of the cached 2-of-3 key, one of them malicious."""

from __future__ import annotations

import dataclasses
import uuid

import gmpy2
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from harness import (
    Q_SECP256K1,
    SplitView,
    Targeted,
    assert_clean_abort,
    blobs,
    go,
    join_blobs,
    keygen,
    malicious,
    presign_machines,
    presign_r2_fields,
    presign_r2_payload,
    presign_r3_fields,
    presign_r3_payload,
    with_payload,
)

import tss
from tss import Presign
from tss.curve import G
from tss.randomness import SeededRng
from tss.zk import aff_g, enc
from tss.zk._codec import Writer

SIGNERS = (0, 1, 2)
SEED = "tests/adversarial presign attacks"
Q = Q_SECP256K1


def machines(classes=None, sid=b"tests/adversarial presign attacks"):
    return presign_machines(keygen(2, 3), SIGNERS, sid, classes=classes, seed=SEED)


def inputs(*honest):
    shares = keygen(2, 3)
    return {h: shares[h] for h in honest}


def _signed_below(rng, bound):
    return rng.below(2 * bound + 1) - bound


def _pow(b, e, m):
    return int(gmpy2.powmod(b, e, m))


# ------------------------------------------------------------------ provers without range checks
def enc_prove_unchecked(ctx, pk, K, rp, k, rho, rng):
    """Πenc computed for any k (the library's prover refuses |k| > 2^ell)."""
    ell, eps = ctx.level.ell, ctx.level.epsilon
    n0, n0sq, nh, s, t = pk.n, pk.n2, rp.n, rp.s, rp.t
    alpha = rng.signed(ell + eps)
    mu = _signed_below(rng, (1 << ell) * nh)
    r = rng.unit(n0)
    gamma = _signed_below(rng, (1 << (ell + eps)) * nh)
    S = _pow(s, k, nh) * _pow(t, mu, nh) % nh
    A = (1 + (alpha % n0) * n0) * _pow(r, n0, n0sq) % n0sq
    C = _pow(s, alpha, nh) * _pow(t, gamma, nh) % nh
    e = enc._challenge(ctx, enc.Statement(pk, K, rp), S, A, C)
    return enc.Proof(S, A, C, alpha + e * k, r * _pow(rho, e, n0) % n0, gamma + e * mu)


def aff_g_unchecked(ctx, alice_pk, bob_sk, C, x, y, X, rp, rng):
    """Bob's MtA answer D = C^x Enc_A(y), Y = Enc_B(y) with a Πaff-g computed for any x, y."""
    ell, lp, eps = ctx.level.ell, ctx.level.ell_prime, ctx.level.epsilon
    n0, n0sq = alice_pk.n, alice_pk.n2
    n1, n1sq = bob_sk.n, bob_sk.n * bob_sk.n
    nh, s, t = rp.n, rp.s, rp.t
    rho, rho_y = rng.unit(n0), rng.unit(n1)
    D = _pow(C, x, n0sq) * (1 + (y % n0) * n0) * _pow(rho, n0, n0sq) % n0sq
    Y = (1 + (y % n1) * n1) * _pow(rho_y, n1, n1sq) % n1sq
    alpha, beta = rng.signed(ell + eps), rng.signed(lp + eps)
    r, r_y = rng.unit(n0), rng.unit(n1)
    gamma = _signed_below(rng, (1 << (ell + eps)) * nh)
    m = _signed_below(rng, (1 << ell) * nh)
    delta = _signed_below(rng, (1 << (ell + eps)) * nh)
    mu = _signed_below(rng, (1 << ell) * nh)
    A = _pow(C, alpha, n0sq) * _pow(r, n0, n0sq) * (1 + (beta % n0) * n0) % n0sq
    Bx = G * (alpha % Q)
    By = (1 + (beta % n1) * n1) * _pow(r_y, n1, n1sq) % n1sq
    E = _pow(s, alpha, nh) * _pow(t, gamma, nh) % nh
    S = _pow(s, x, nh) * _pow(t, m, nh) % nh
    F = _pow(s, beta, nh) * _pow(t, delta, nh) % nh
    T = _pow(s, y, nh) * _pow(t, mu, nh) % nh
    stmt = aff_g.Statement(alice_pk, bob_sk.public, C, D, Y, X, rp)
    e = aff_g._challenge(ctx, stmt, A, Bx, By, E, S, F, T)
    proof = aff_g.Proof(A, Bx, By, E, S, F, T, alpha + e * x, beta + e * y, gamma + e * m,
                        delta + e * mu, r * _pow(rho, e, n0) % n0, r_y * _pow(rho_y, e, n1) % n1)
    return D, Y, proof


# ================================================================== T-2 Alpha-Rays
ALICE = {
    # kind: (what is sent as K and as the range proof, the abort's reason)
    "Enc(N/2), proof made for k = 1": r"enc: Paillier equation fails",
    "Enc(q^4), proof computed for it": r"enc: z1 out of range",
    "range proof empty": r"malformed",
    "range proof truncated": r"malformed",
    "K = 0": r"ciphertext out of range",
    "K = N": r"ciphertext out of range",
    "K = N^2 + 1": r"ciphertext out of range",
    "gcd(K, N) > 1": r"ciphertext out of range",
}


def _alice(kind):
    def start(self, honest):
        out = honest()
        proofs = {m.recipient: m.payload for m in out if m.recipient is not None}
        sk, rng = self.share.paillier, self._rng
        pk, n = sk.public, sk.n
        ctx = self._ctx(self.index, 1)
        K = self._K
        if kind == "Enc(N/2), proof made for k = 1":
            K, _ = sk.encrypt(n // 2, rng)
            K1, rho1 = sk.encrypt(1, rng)
            proofs = {j: enc.prove(ctx, enc.Statement(pk, K1, self._rp[j]),
                                   enc.Witness(1, rho1, sk), rng).to_bytes() for j in self.peers}
        elif kind == "Enc(q^4), proof computed for it":
            K, rho = sk.encrypt(Q ** 4, rng)
            proofs = {j: enc_prove_unchecked(ctx, pk, K, self._rp[j], Q ** 4, rho, rng).to_bytes()
                      for j in self.peers}
        elif kind == "range proof empty":
            proofs = dict.fromkeys(self.peers, b"")
        elif kind == "range proof truncated":
            proofs = {j: p[:-7] for j, p in proofs.items()}
        else:
            K = {"K = 0": 0, "K = N": n, "K = N^2 + 1": n * n + 1, "gcd(K, N) > 1": sk.p}[kind]
        return ([self.broadcast(Writer().int(K).int(self._Gc).getvalue())]
                + [self.send(j, proofs[j]) for j in self.peers])

    return malicious(Presign, "_start", start)


@pytest.mark.parametrize("kind", list(ALICE))
def test_a02_alpha_rays_alice_out_of_range(kind):
    """A-2: the malicious Alice (party 0) sends an out-of-range or malformed K_0 with a range
    proof that cannot cover it. Every honest Bob aborts in round 1 naming her, before it
    computes anything from its gamma or w: there is no MtA answer from it on the wire."""
    run = go(machines({0: _alice(kind)}), inputs=inputs(1, 2))
    assert_clean_abort(run, {0}, round="presign/1", reason=ALICE[kind])
    for h in (1, 2):
        assert not run.messages(h, 2)


def _bob(kind):
    def round_1(self, honest, bcast, p2p):
        out = honest(bcast, p2p)
        me, sk, rng = self.index, self.share.paillier, self._rng
        ctx = self._ctx(me, 2)
        (b,) = [m for m in out if m.recipient is None]
        f = presign_r2_fields(b.payload, list(self.peers))
        new = {}
        for j in self.peers:
            x = self._gamma + (Q ** 4 if kind == "b = gamma + q^4" else 0)
            y = Q ** 8 if kind == "y = q^8" else rng.signed(self.level.ell_prime)
            D, F, proof = aff_g_unchecked(ctx, self._pk[j], sk, self._Kj[j], x, y,
                                          self._Gamma_i, self._rp[j], rng)
            f["answers"][j][0:2] = [D, F]
            (m,) = [m for m in out if m.recipient == j]
            parts = blobs(m.payload, 3)
            parts[0] = proof.to_bytes()
            new[j] = join_blobs(parts)
        return ([self.broadcast(presign_r2_payload(f))]
                + [self.send(j, new[j]) for j in self.peers])

    return malicious(Presign, "_round_1", round_1)


@pytest.mark.parametrize("kind, reason", [("b = gamma + q^4", r"aff_g: z1 out of range"),
                                          ("y = q^8", r"aff_g: z2 out of range")])
def test_a02_alpha_rays_mirror_bob_out_of_range(kind, reason):
    """A-2, the mirror: a malicious Bob (party 0) answers with a multiplier b = gamma (mod q)
    but of size q^4, or with a mask y = q^8, each under a Πaff-g computed for those values.
    Every honest Alice aborts in round 2 naming him, before using alpha: no delta from her."""
    run = go(machines({0: _bob(kind)}), inputs=inputs(1, 2))
    assert_clean_abort(run, {0}, round="presign/2", reason=reason)
    for h in (1, 2):
        assert not run.messages(h, 3)


# ================================================================== T-12 equivocation
def _same_k_other_gamma(first):
    """A persona of the cheater with the K of persona ``first`` but its own gamma."""

    def start(self, honest):
        honest()
        self._k, self._rho, self._K = first._k, first._rho, first._K
        sk = self.share.paillier
        ctx = self._ctx(self.index, 1)
        out = [self.broadcast(Writer().int(self._K).int(self._Gc).getvalue())]
        for j in self.peers:
            proof = enc.prove(ctx, enc.Statement(sk.public, self._K, self._rp[j]),
                              enc.Witness(self._k, self._rho, sk), self._rng)
            out.append(self.send(j, proof.to_bytes()))
        return out

    return malicious(Presign, "_start", start)


def test_a13_presign_split_view_equivocation():
    """A-13: party 2 presents one persona (gamma_a) to party 0 and another (gamma_b, same K) to
    party 1. Each honest party sees a fully valid party 2, but they compute different Gamma.
    The honest parties must name party 2 (with at most the other honest party as a co-suspect,
    as an echo mismatch allows), never only each other."""
    shares = keygen(2, 3)
    sid = b"tests/adversarial presign split view"
    ms = presign_machines(shares, SIGNERS, sid, seed=SEED)
    a = Presign(shares[2], list(SIGNERS), sid, rng=SeededRng(f"{SEED}/persona-a"))
    b = _same_k_other_gamma(a)(shares[2], list(SIGNERS), sid, rng=SeededRng(f"{SEED}/persona-b"))
    ms[2] = SplitView({(0,): a, (1,): b})
    run = go(ms, inputs=inputs(0, 1))
    assert_clean_abort(run, {2}, suspects={0, 1})


# ================================================================== T-13 identifiable abort
def _frame_round_2(delta=1):
    """Party 2 as Bob to party 0 answers honestly to party 0, but shows party 1 a broadcast in
    which its answer to party 0 is shifted by ``delta`` (D_02 Enc(delta), F_02 Enc(delta)), and
    computes its own delta_2 with the shifted mask, so that its blame proof holds for party 1's
    view. Party 1 then recomputes a wrong C_delta_0 for honest party 0."""

    def round_1(self, honest, bcast, p2p):
        out = honest(bcast, p2p)
        me, sk = self.index, self.share.paillier
        D, F, Dh, Fh = self._mta[(0, me)]
        pk0 = self._pk[0]
        D2 = D * (1 + delta * pk0.n) % pk0.n2
        F2 = F * (1 + delta * sk.n) % sk.public.n2
        self._beta[0] -= delta
        self._mta[(0, me)] = (D2, F2, Dh, Fh)
        (b,) = [m for m in out if m.recipient is None]
        f = presign_r2_fields(b.payload, list(self.peers))
        f["answers"][0][0:2] = [D2, F2]
        self.payload_for_1 = presign_r2_payload(f)
        return out

    return malicious(Presign, "_round_1", round_1)


def test_a14_blame_round_cannot_frame_an_honest_party():
    """A-14 (a): the blame phase must blame the party whose revealed values do not match, never
    a party framed through values the cheater controls."""
    cls = _frame_round_2()
    ms = machines({2: cls})
    cheater = ms[2]

    def split(msg):
        if msg.round == 2 and msg.is_broadcast:
            return [Targeted(msg, frozenset({0})),
                    Targeted(with_payload(msg, cheater.payload_for_1), frozenset({1}))]
        return msg

    run = go(ms, rewrite={2: split}, inputs=inputs(0, 1))
    # the round-3 echo of the round-2 broadcasts shows the split: party 2 is named, with at
    # most the other honest party as co-suspect (no signatures to tell them apart)
    assert_clean_abort(run, {2}, suspects={0, 1})


def _lying_in_blame():
    """A wrong delta in round 3, then blame proofs built from a gamma it does not have."""

    def round_2(self, honest, bcast, p2p):
        out = honest(bcast, p2p)
        self._delta_i = (self._delta_i + 1) % Q
        self._gamma = self._rng.scalar(Q)  # "reveals" a gamma that is not its Gamma's
        (b,) = [m for m in out if m.recipient is None]
        f = presign_r3_fields(b.payload, len(self.participants))
        f["delta"] = self._delta_i
        payload = presign_r3_payload(f)
        self._r3[self.index] = payload
        return [self.broadcast(payload)] + [m for m in out if m.recipient is not None]

    return malicious(Presign, "_round_2", round_2)


def test_a14_blame_reveals_are_checked_against_the_first_round():
    """A-14 (a), the ZenGo 373422e case: a cheater whose delta is wrong and whose blame-phase
    values do not match its round-1 ciphertexts is blamed alone, by every honest party; the
    honest blame messages are zero-knowledge proofs and nothing of round 5 is sent."""
    run = go(machines({0: _lying_in_blame()}), inputs=inputs(1, 2))
    assert_clean_abort(run, {0}, round="presign/4", reason="wrong delta share")


@pytest.mark.parametrize("damage", ["proofs missing", "one proof missing", "echo short",
                                    "mode wrong"])
def test_a14_malformed_blame_messages_name_their_sender(damage):
    """A-14 (c): blame-phase messages of the wrong shape (missing or short vectors) are not
    skipped or vacuously accepted: they name their sender."""

    def rewrite(msg):
        if msg.round != 4:
            return msg
        if msg.is_broadcast:
            if damage == "echo short":
                return with_payload(msg, msg.payload[:40])
            if damage == "mode wrong":
                return with_payload(msg, b"\x00" + msg.payload[1:])
            return msg
        if damage == "proofs missing":
            return with_payload(msg, b"")
        if damage == "one proof missing":
            return with_payload(msg, join_blobs(blobs(msg.payload, 2)[:1]))
        return msg

    run = go(machines({0: _lying_in_blame()}), rewrite={0: rewrite}, inputs=inputs(1, 2))
    assert_clean_abort(run, {0}, round="presign/4")


def test_a14_spoofed_sender_is_refused_by_the_transport():
    """A-14 (b), the THORChain inner-``From`` bug: the library blames the authenticated sender
    of a message, so the transport must refuse a message whose declared sender is not the
    party that sent it. The harness transport drops it (nobody is blamed, nobody proceeds on
    it), and the node system's channel refuses it outright."""

    def spoof(msg):
        return dataclasses.replace(msg, sender=1) if msg.round == 1 else msg

    run = go(machines(), rewrite={2: spoof})
    assert {why for _, why in run.dropped} == {"sender is not the authenticated sender"}
    assert not run.errors and not any(run.done(i) for i in SIGNERS)

    from tss.node.channel import Channel, EnvelopeError, Header, Peer
    from tss.node.crypto import IdentityKey, x25519_public_bytes

    sid = str(uuid.UUID(int=7))
    ids = [IdentityKey() for _ in range(3)]
    xs = [X25519PrivateKey.generate() for _ in range(3)]
    peers = [Peer(i, x25519_public_bytes(xs[i]), ids[i].public_hex) for i in range(3)]
    ch = [Channel(sid, i, xs[i], ids[i], peers) for i in range(3)]
    forged = tss.Message("presign", b"sid", 1, 1, 0, b"claims to come from party 1")
    with pytest.raises(EnvelopeError):
        ch[2].seal(forged)
    # party 2 builds the envelope by hand with its own key: the inner sender gives it away
    head = Header(sid, "presign", 1, 2, 0, 0, False).to_bytes()
    env = head + ch[2]._send[0].encrypt(ch[2]._nonce(0), forged.to_bytes(), head)
    with pytest.raises(EnvelopeError, match="does not match its envelope"):
        ch[0].open(env)
