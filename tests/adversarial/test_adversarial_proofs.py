"""The proofs themselves (attacks.md section 3.2: T-3 alpha-shuffle, T-6 zero-proof, T-9 weak
Fiat-Shamir; A-6 hash ambiguity)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import gmpy2
import pytest
from harness import (
    Q_SECP256K1,
    assert_clean_abort,
    blobs,
    go,
    join_blobs,
    keygen,
    keygen_machines,
    keygen_r2_fields,
    keygen_r2_payload,
    malicious,
    paillier_keys,
    presign_machines,
    presign_r3_fields,
    presign_r3_payload,
    with_payload,
)

from conftest import paillier_key, ring_pedersen
from tss import InvalidProof, Presign, Refresh
from tss.curve import G
from tss.hashing import Transcript, encode
from tss.paillier import RingPedersen
from tss.params import STANDARD
from tss.randomness import SeededRng
from tss.zk import aff_g, enc, fac, log_star, mod, prm, sch
from tss.zk._codec import Reader, Writer
from tss.zk._common import ProofContext

Q = Q_SECP256K1


# ================================================================== T-3 alpha-shuffle
@functools.cache
def _smooth_prime():
    """A 64-bit prime P with P - 1 = 2 * (small primes): discrete logs are easy (the attacker
    picks such a modulus in TSSHOCK)."""
    rng = SeededRng("alpha-shuffle prime")
    while True:
        factors, m = [], 2
        while m.bit_length() < 62:
            p = int(gmpy2.next_prime(rng.bits(12) | (1 << 11)))
            factors.append(p)
            m *= p
        if gmpy2.is_prime(m + 1) and len(set(factors)) == len(factors):
            return m + 1, [2, *factors]


def _dlog(P, factors, g, h):
    """log_g h in Z_P^* by Pohlig-Hellman (g a generator of the subgroup containing h)."""
    order = P - 1
    residues = []
    for q in factors:
        e = order // q
        gq, hq = pow(g, e, P), pow(h, e, P)
        x = next(i for i in range(q) if pow(gq, i, P) == hq)
        residues.append((x, q))
    x, m = 0, 1
    for r, q in residues:
        x += m * ((r - x) * pow(m, -1, q) % q)
        m *= q
    return x


def _dollar_hash(values, bits):
    """tss-lib's old SHA512_256i: the parts joined by '$' (no lengths)."""
    data = b"$".join(v.to_bytes((v.bit_length() + 7) // 8, "big") for v in values)
    raw = int.from_bytes(hashlib.sha256(data).digest(), "big")
    return [(raw >> (255 - i)) & 1 for i in range(bits)]


def _library_hash(values, bits):
    t = Transcript("zk/toy-dln", b"tests/adversarial alpha-shuffle", 0, 2)
    t.append("h1", values[0]).append("h2", values[1]).append("N", values[2])
    t.append("alpha", list(values[3:]))
    return t.challenge_bits(bits)


def test_a03_alpha_shuffle_forges_only_against_a_delimiter_hash():
    """A-3 (TSSHOCK, section 3.1) end to end on a toy dlnproof with 16 iterations: h2 is NOT
    in <h1>, yet the attacker forges a proof that log_h1 h2 exists when the challenge hashes
    the alphas joined by '$'. It commits to the byte stream a$a$...$a and decides only after
    the challenge which alpha is int(a) and which int(a$a). Under tss.hashing (every item
    length-prefixed) the same alphas get other challenge bits and the forgery fails."""
    lam = 16
    P, factors = _smooth_prime()
    order = P - 1
    g = next(x for x in range(2, 1000) if all(pow(x, order // q, P) != 1 for q in factors))
    h1 = pow(g, 2, P)                      # generates the squares
    h2 = next(x for x in range(2, 1000) if pow(x, order // 2, P) != 1)  # a non-square
    assert pow(h2, order // 2, P) == P - 1  # so log_h1 h2 does not exist

    def verify(alphas, ts, challenge):
        c = challenge([h1, h2, P, *alphas], lam)
        return all(pow(h1, t, P) == a * pow(h2, ci, P) % P for a, t, ci in zip(alphas, ts, c))

    rng = SeededRng("alpha-shuffle forge")
    for _ in range(10_000):
        a = rng.bytes(2)
        u, v = int.from_bytes(a, "big"), int.from_bytes(a + b"$" + a, "big")
        if not (a[0] and u < P and v < P and b"$" not in a):
            continue
        # u must be a square (alpha for c_i = 0) and v h2 a square (alpha for c_i = 1)
        if pow(u, order // 2, P) != 1 or pow(v * h2 % P, order // 2, P) != 1:
            continue
        k = lam // 2  # the number of doubled items the attacker commits to
        stream = [h1, h2, P] + [u] * (lam + k)  # joined with '$': a$a$...$a
        c = _dollar_hash(stream, lam)
        if sum(c) != k:
            continue  # probability C(16, 8) / 2^16 = 0.2 per attempt
        alphas = [v if ci else u for ci in c]
        log_h1 = functools.partial(_dlog, P, factors, pow(g, 2, P))
        ts = [log_h1(v * h2 % P) if ci else log_h1(u) for ci in c]
        # the ambiguity: both lists join to the same bytes
        assert _dollar_hash([h1, h2, P, *alphas], lam) == c
        break
    else:  # pragma: no cover
        pytest.fail("no forgery found")
    assert verify(alphas, ts, _dollar_hash), "the forgery passes the '$'-joined hash"
    assert not verify(alphas, ts, _library_hash), "and fails the injective transcript"
    # the library's encoding keeps the two parsings apart
    assert encode(alphas) != encode([u] * (lam + k))


def test_a06_tss_lib_hash_ambiguities_do_not_exist_here():
    """A-6: the encodings that collided in tss-lib's SHA512_256i (the '$' delimiter; the sign
    dropped by n.Bytes(); nil hashed as 0; a count prefix that an alpha-shuffle keeps) are
    distinct here, and None has no encoding at all."""
    a, b = b"ab", b"c"
    assert encode([a + b"$" + b]) != encode([a, b])
    assert encode([b"ab", b"c"]) != encode([b"a", b"bc"])
    assert encode(5) != encode(-5)
    assert encode([0]) != encode([]) != encode([b""])
    assert encode([[1, 2], [3]]) != encode([[1], [2, 3]])
    with pytest.raises(TypeError):
        encode(None)
    with pytest.raises(TypeError):
        encode([1, None])

    def challenge(tag, *values):
        t = Transcript(tag, b"sid", 0, 1)
        for i, v in enumerate(values):
            t.append(f"v{i}", v)
        return t.challenge_bits(128)

    assert challenge("zk/prm", 5) != challenge("zk/prm", -5)
    assert challenge("zk/prm", [1, 2], [3]) != challenge("zk/prm", [1], [2, 3])
    assert challenge("zk/prm", 1) != challenge("zk/mod", 1)


# ================================================================== T-9 weak Fiat-Shamir
def _times(v, f, n):
    return v * f % n


@functools.cache
def fs_cases():
    """name -> (module, ctx, statement, proof, challenge(ctx, stmt, proof), statement
    mutations, first-move mutations). Prover key 0, verifier ring-Pedersen on key 1."""
    L = STANDARD
    rng = SeededRng("tests/adversarial fiat-shamir")
    k0, k1, k2 = paillier_key(L, 0), paillier_key(L, 1), paillier_key(L, 2)
    rp0, rp1 = ring_pedersen(L, 0), ring_pedersen(L, 1).params
    rp2 = ring_pedersen(L, 2).params
    ctx = ProofContext(b"tests/adversarial fs", 1, L, 2)

    def rp_mutations(rp):
        return {"Nhat": rp2, "s": RingPedersen(rp.n, rp.s * rp.t % rp.n, rp.t),
                "t": RingPedersen(rp.n, rp.s, rp.t * rp.t % rp.n)}

    cases = {}
    # Πsch
    x = rng.scalar(Q)
    st = sch.Statement(G * x)
    pr = sch.prove(ctx, st, sch.Witness(x), rng)
    cases["sch"] = (sch, ctx, st, pr, lambda c, s, p: sch._challenge(c, s, p.A),
                    {"X": sch.Statement(st.X + G)}, {"A": dataclasses.replace(pr, A=pr.A + G)})
    # Πmod
    st = mod.Statement(k0.n)
    pr = mod.prove(ctx, st, mod.Witness(k0), rng)
    cases["mod"] = (mod, ctx, st, pr, lambda c, s, p: mod._challenges(c, s.n, p.w),
                    {"N": mod.Statement(k2.n)}, {"w": dataclasses.replace(pr, w=pr.w * 4 % k0.n)})
    # Πprm
    st = prm.Statement(rp0.params)
    pr = prm.prove(ctx, st, prm.Witness(rp0, k0), rng)
    n0 = rp0.params.n
    cases["prm"] = (
        prm, ctx, st, pr, lambda c, s, p: prm._challenge(c, s.params, p.A),
        {k: prm.Statement(v) for k, v in rp_mutations(rp0.params).items()},
        {f"A[{i}]": dataclasses.replace(pr, A=tuple(_times(a, rp0.params.t, n0) if j == i else a
                                                     for j, a in enumerate(pr.A)))
         for i in (0, 64, 127)})
    # Πfac
    st = fac.Statement(k0.n, rp1)
    pr = fac.prove(ctx, st, fac.Witness(k0), rng)
    cases["fac"] = (
        fac, ctx, st, pr,
        lambda c, s, p: fac._challenge(c, s, p.P, p.Q, p.A, p.B, p.T, p.sigma),
        {"N0": fac.Statement(k2.n, rp1),
         **{k: fac.Statement(k0.n, v) for k, v in rp_mutations(rp1).items()}},
        {**{f: dataclasses.replace(pr, **{f: _times(getattr(pr, f), 4, rp1.n)})
            for f in ("P", "Q", "A", "B", "T")},
         "sigma": dataclasses.replace(pr, sigma=pr.sigma + 1)})
    # Πenc
    kk = rng.scalar(Q)
    K, rho = k0.encrypt(kk, rng)
    st = enc.Statement(k0.public, K, rp1)
    pr = enc.prove(ctx, st, enc.Witness(kk, rho, k0), rng)
    n2 = k0.public.n2
    cases["enc"] = (
        enc, ctx, st, pr, lambda c, s, p: enc._challenge(c, s, p.S, p.A, p.C),
        {"N0": enc.Statement(k2.public, K, rp1), "K": enc.Statement(k0.public, K * 4 % n2, rp1),
         **{k: enc.Statement(k0.public, K, v) for k, v in rp_mutations(rp1).items()}},
        {"S": dataclasses.replace(pr, S=_times(pr.S, 4, rp1.n)),
         "A": dataclasses.replace(pr, A=_times(pr.A, 4, n2)),
         "C": dataclasses.replace(pr, C=_times(pr.C, 4, rp1.n))})
    # Πaff-g: Bob (key 0) answers Alice (key 1); Alice's ring-Pedersen
    alice, bob = k1, k0
    kk, xx = rng.scalar(Q), rng.scalar(Q)
    K, _ = alice.encrypt(kk, rng)
    D, Y, _, pr = aff_g.mta_response(ctx, alice.public, bob, K, xx, G * xx, rp1, rng)
    st = aff_g.Statement(alice.public, bob.public, K, D, Y, G * xx, rp1)
    a2, b2 = alice.public.n2, bob.public.n2
    cases["aff_g"] = (
        aff_g, ctx, st, pr,
        lambda c, s, p: aff_g._challenge(c, s, p.A, p.Bx, p.By, p.E, p.S, p.F, p.T),
        {"N0": dataclasses.replace(st, pk0=k2.public), "N1": dataclasses.replace(st, pk1=k2.public),
         "C": dataclasses.replace(st, C=K * 4 % a2), "D": dataclasses.replace(st, D=D * 4 % a2),
         "Y": dataclasses.replace(st, Y=Y * 4 % b2), "X": dataclasses.replace(st, X=st.X + G),
         **{k: dataclasses.replace(st, rp=v) for k, v in rp_mutations(rp1).items()}},
        {"A": dataclasses.replace(pr, A=_times(pr.A, 4, a2)),
         "Bx": dataclasses.replace(pr, Bx=pr.Bx + G),
         "By": dataclasses.replace(pr, By=_times(pr.By, 4, b2)),
         **{f: dataclasses.replace(pr, **{f: _times(getattr(pr, f), 4, rp1.n)})
            for f in ("E", "S", "F", "T")}})
    # Πlog* in base R
    base = G * rng.scalar(Q)
    xx = rng.scalar(Q)
    C, rho = k0.encrypt(xx, rng)
    st = log_star.Statement(k0.public, C, base * xx, rp1, base)
    pr = log_star.prove(ctx, st, log_star.Witness(xx, rho, k0), rng)
    cases["log_star"] = (
        log_star, ctx, st, pr, lambda c, s, p: log_star._challenge(c, s, p.S, p.A, p.Y, p.D),
        {"N0": dataclasses.replace(st, pk0=k2.public), "C": dataclasses.replace(st, C=C * 4 % n2),
         "X": dataclasses.replace(st, X=st.X + G), "g": dataclasses.replace(st, g=st.g + G),
         "x_bits": dataclasses.replace(st, x_bits=L.ell + 1),
         **{k: dataclasses.replace(st, rp=v) for k, v in rp_mutations(rp1).items()}},
        {"S": dataclasses.replace(pr, S=_times(pr.S, 4, rp1.n)),
         "A": dataclasses.replace(pr, A=_times(pr.A, 4, n2)),
         "Y": dataclasses.replace(pr, Y=pr.Y + G),
         "D": dataclasses.replace(pr, D=_times(pr.D, 4, rp1.n))})
    return cases


def _fs_params():
    out = []
    for name in ("sch", "mod", "prm", "fac", "enc", "aff_g", "log_star"):
        out.append((name, "context", "session"))
        out.append((name, "context", "prover"))
        out.append((name, "context", "round"))
    return out


_STATEMENT_FIELDS = {"sch": ["X"], "mod": ["N"], "prm": ["Nhat", "s", "t"],
                     "fac": ["N0", "Nhat", "s", "t"], "enc": ["N0", "K", "Nhat", "s", "t"],
                     "aff_g": ["N0", "N1", "C", "D", "Y", "X", "Nhat", "s", "t"],
                     "log_star": ["N0", "C", "X", "g", "x_bits", "Nhat", "s", "t"]}
_FIRST_MOVES = {"sch": ["A"], "mod": ["w"], "prm": ["A[0]", "A[64]", "A[127]"],
                "fac": ["P", "Q", "A", "B", "T", "sigma"], "enc": ["S", "A", "C"],
                "aff_g": ["A", "Bx", "By", "E", "S", "F", "T"], "log_star": ["S", "A", "Y", "D"]}
FS_PARAMS = ([(p, "statement", f) for p, fs in _STATEMENT_FIELDS.items() for f in fs]
             + [(p, "first move", f) for p, fs in _FIRST_MOVES.items() for f in fs]
             + _fs_params())


@pytest.mark.parametrize("proof, part, field", FS_PARAMS)
def test_a10_fiat_shamir_binds_statement_first_move_and_context(proof, part, field):
    """A-10: for each of the seven proofs, changing any one statement element, any one
    first-move commitment or any part of the context (session, prover, round) changes the
    challenge, and the proof no longer verifies. (This is the check that catches `u` left out
    of tss-lib's ProofBobWC hash and `ni` out of ZenGo's composite dlog proof.)"""
    module, ctx, st, pr, challenge, st_mut, fm_mut = fs_cases()[proof]
    module.verify(ctx, st, pr)
    before = challenge(ctx, st, pr)
    if part == "statement":
        ctx2, st2, pr2 = ctx, st_mut[field], pr
    elif part == "first move":
        ctx2, st2, pr2 = ctx, st, fm_mut[field]
    else:
        change = {"session": {"session_id": ctx.session_id + b"'"},
                  "prover": {"prover": ctx.prover + 1}, "round": {"round": ctx.round + 1}}[field]
        ctx2, st2, pr2 = dataclasses.replace(ctx, **change), st, pr
    assert challenge(ctx2, st2, pr2) != before, f"{field} is not in the {proof} challenge"
    with pytest.raises(InvalidProof):
        module.verify(ctx2, st2, pr2)


# ================================================================== T-6 Zero-Proof
KEYGEN_SID = b"tests/adversarial keygen attacks"
KEYGEN_SEED = "tests/adversarial keygen attacks"


def _blob_field(count, index):
    """Change the index-th of ``count`` length-prefixed proofs of a payload."""

    def change(payload, how):
        parts = blobs(payload, count)
        if how == "empty":
            parts[index] = b""
        else:
            del parts[index]
        return join_blobs(parts)

    return change


def _keygen_r2(field):
    def change(payload, how):
        f = keygen_r2_fields(payload, 3, 2)
        if how == "empty":
            f[field] = b""
            return keygen_r2_payload(f)
        raw = keygen_r2_payload(f)
        cut = {"constant": 0, "mod": 1, "prm": 2}[field]
        # the payload without that length-prefixed field at all
        tail = [f["constant"], f["mod"], f["prm"]]
        head = raw[:len(raw) - sum(4 + len(b) for b in tail)]
        del tail[cut]
        return head + join_blobs(tail)

    return change


def _keygen_r3_bcast(payload, how):
    r = Reader(payload)
    echo = r.raw(96)
    r.blob()
    r.end()
    return echo + (Writer().blob(b"").getvalue() if how == "empty" else b"")


def _whole(payload, how):
    return b""


ZERO_PROOF = {
    # name: (protocol, round, broadcast?, change(payload, how), abort round)
    "keygen r2 Πsch": ("keygen", 2, True, _keygen_r2("constant"), "keygen/2"),
    "keygen r2 Πmod": ("keygen", 2, True, _keygen_r2("mod"), "keygen/2"),
    "keygen r2 Πprm": ("keygen", 2, True, _keygen_r2("prm"), "keygen/2"),
    "keygen r3 Πsch": ("keygen", 3, True, _keygen_r3_bcast, "keygen/3"),
    "keygen r3 Πfac": ("keygen", 3, False, _whole, "keygen/3"),
    "refresh r2 Πmod": ("refresh", 2, True, _keygen_r2("mod"), "refresh/2"),
    "refresh r3 Πfac": ("refresh", 3, False, _whole, "refresh/3"),
    "presign r1 Πenc": ("presign", 1, False, _whole, "presign/1"),
    "presign r2 Πaff-g (gamma)": ("presign", 2, False, _blob_field(3, 0), "presign/2"),
    "presign r2 Πaff-g (w)": ("presign", 2, False, _blob_field(3, 1), "presign/2"),
    "presign r2 Πlog* (Gamma)": ("presign", 2, False, _blob_field(3, 2), "presign/2"),
    "presign r3 Πlog* (Delta)": ("presign", 3, False, _whole, "presign/3"),
    "presign r4 blame Πaff-g": ("presign-blame", 4, False, _blob_field(2, 0), "presign/4"),
    "presign r4 blame Πlog*": ("presign-blame", 4, False, _blob_field(2, 1), "presign/4"),
}


def _wrong_delta(self, honest, bcast, p2p):
    out = honest(bcast, p2p)
    (b,) = [m for m in out if m.recipient is None]
    f = presign_r3_fields(b.payload, len(self.participants))
    f["delta"] = d = (f["delta"] + 1) % Q
    payload = presign_r3_payload(f)
    self._delta_i = d
    self._r3[self.index] = payload
    return [self.broadcast(payload)] + [m for m in out if m.recipient is not None]


def _zero_proof_run(name, how):
    protocol, rnd, bcast, change, _ = ZERO_PROOF[name]

    def rewrite(msg):
        if msg.round == rnd and msg.is_broadcast == bcast:
            if change is _whole and how == "absent":
                return None  # the message is not sent at all
            return with_payload(msg, change(msg.payload, how))
        return msg

    if protocol == "keygen":
        ms = keygen_machines(2, 3, KEYGEN_SID, seed=KEYGEN_SEED)
        return go(ms, rewrite={0: rewrite})
    shares = keygen(2, 3)
    if protocol == "refresh":
        keys = paillier_keys(3)
        ms = {s.index: Refresh(s, b"tests/adversarial zero-proof refresh",
                               rng=SeededRng(f"zero-proof refresh {s.index}"),
                               paillier_key=keys[s.index]) for s in shares}
        return go(ms, rewrite={0: rewrite}, inputs={1: shares[1], 2: shares[2]})
    classes = {0: malicious(Presign, "_round_2", _wrong_delta)} if protocol == "presign-blame" \
        else None
    ms = presign_machines(shares, (0, 1), b"tests/adversarial zero-proof presign",
                          classes=classes, seed="zero-proof")
    return go(ms, rewrite={0: rewrite}, cheaters={0}, inputs={1: shares[1]})


@pytest.mark.parametrize("how", ["empty", "absent"])
@pytest.mark.parametrize("name", list(ZERO_PROOF))
def test_a07_zero_proof_every_proof_is_mandatory(name, how):
    """A-7 (BitGo "Zero-Proof"): for every proof-carrying message of keygen, refresh and
    presign, an empty proof or a message without it names its sender; there is no optional
    proof. A point-to-point proof message that is not sent at all leaves its recipient
    waiting (the node's session deadline aborts it): it never proceeds without it."""
    protocol, rnd, bcast, change, where = ZERO_PROOF[name]
    run = _zero_proof_run(name, how)
    if change is _whole and how == "absent":
        for h in run.honest:
            assert not run.done(h) and h not in run.errors
            assert all(r.round <= rnd for r in run.sent_by(h))
        return
    assert_clean_abort(run, {0}, round=where)
