"""Attacks on key generation and its auxiliary information (attacks.md section 3.2: T-1, T-4,
T-5, T-8, T-10, T-11, T-12, T-17), one malicious party among three, 2-of-3, STANDARD level.

Every honest party runs the real ``Keygen`` from a fixed seed, so its proofs are the same in
every test (and verified once per session, see ``harness.remembered_verification``). The
cheater is party 0 unless the attack needs another position; honest parties check their peers in
index order, so a cheater at 0 is seen first and the tests stay fast.
"""

from __future__ import annotations

import dataclasses
import functools
from math import gcd, prod

import gmpy2
import pytest
from harness import (
    AttackerKey,
    Run,
    Targeted,
    assert_clean_abort,
    aux_round_2,
    aux_start,
    bad_modulus,
    bitforge_factors,
    completing_prime,
    flip,
    forge_mod,
    go,
    keygen,
    keygen_machines,
    keygen_r2_fields,
    keygen_r2_payload,
    keygen_run,
    malicious,
    paillier_keys,
    with_payload,
)

from tss import DecodeError, InvalidProof, Keygen, Refresh
from tss.curve import P_FIELD, G, Point
from tss.paillier import PaillierSecretKey, RingPedersen, RingPedersenSecret
from tss.params import STANDARD
from tss.randomness import SeededRng
from tss.zk import mod, prm, sch
from tss.zk._codec import Writer
from tss.zk._common import ProofContext

SID = b"tests/adversarial keygen attacks"
SEED = "tests/adversarial keygen attacks"
T, N = 2, 3
Q_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def machines(cheater_cls=None, *, cheater=0, key=None, sid=SID):
    ms = keygen_machines(T, N, sid, classes={cheater: cheater_cls} if cheater_cls else None,
                         seed=SEED)
    if key is not None:
        ms[cheater]._sk = key  # the cheater's own modulus, whatever its shape
    return ms


# ============================================================== T-1 BitForge
def _mod_proof(variant):
    """What the cheater sends as Πmod for its malformed modulus."""

    def make(machine, ctx):
        key = machine._sk
        if variant == "prover code":
            # the honest prover code run on the attacker's factorization; it refuses (or makes
            # nonsense) for a modulus that is not p q with Blum primes, and then the attacker
            # sends the best forgery instead
            small = prod(p for p, _ in key.factors[:-1])
            try:
                fake = PaillierSecretKey(small, key.factors[-1][0])
                return mod.prove(ctx, mod.Statement(key.n), mod.Witness(fake),
                                 machine._rng).to_bytes()
            except Exception:  # the attacker's own code failing is fine
                return forge_mod(ctx, key, machine._rng).to_bytes()
        if variant == "forged":
            return forge_mod(ctx, key, machine._rng).to_bytes()
        if variant == "copied":  # a valid proof, for the modulus of an honest key
            honest = paillier_keys(4)[3]
            return mod.prove(ctx, mod.Statement(honest.n), mod.Witness(honest),
                             machine._rng).to_bytes()
        if variant == "random":
            return machine._rng.bytes(128 * 4 * 260)
        if variant == "missing":
            return b""
        raise ValueError(variant)

    return make


@pytest.mark.parametrize("variant", ["prover code", "forged", "copied", "random", "missing"])
def test_a01_bitforge_small_factors(variant):
    """A-1: N = 16 primes of 17 bits x one big prime. Every honest party aborts at keygen
    round 2 naming the cheater, before any signing, whatever Πmod it sends."""
    key = AttackerKey(list(bitforge_factors()))
    assert key.n.bit_length() == STANDARD.paillier_bits and gcd(key.n, key.phi) == 1
    cls = malicious(Keygen, "_round_1", aux_round_2(mod_proof=_mod_proof(variant)))
    run = go(machines(cls, key=key))
    assert_clean_abort(run, {0}, round="keygen/2",
                       reason=r"mod:|malformed" if variant in ("random", "missing") else r"mod:")
    # the cheater's round-2 opening did reach everyone (the abort is on the proof, not on
    # missing data), and no honest party sent anything of round 3
    assert [r.recipients for r in run.messages(0, 2, broadcast=True)] == [(1, 2)]


@pytest.mark.parametrize("kind, where, reason", [
    ("16 small primes", "keygen/2", r"mod: .*fails"),
    ("p^2 q", "keygen/2", r"mod: N-th root check fails"),
    ("p q r", "keygen/2", r"mod: fourth root check fails"),
    ("p = 1 mod 4", "keygen/2", r"mod: fourth root check fails"),
    ("prime", "keygen/2", r"must not be prime"),
    ("even", "keygen/2", r"must be odd"),
    ("2046 bits", "keygen/2", r"exactly 2048 bits"),
    ("unbalanced", "keygen/3", r"Πfac response out of range|fac: z[12] out of range"),
])
def test_a01_malformed_moduli(kind, where, reason):
    """The table of T-1: each malformed Paillier modulus is refused, with the check that names
    it. The unbalanced modulus (a 256-bit factor) is a genuine Blum integer: Πmod and Πprm pass
    and only Πfac refuses it, in round 3 (before any key exists)."""
    factors = bad_modulus(kind)
    if kind == "unbalanced":
        (p, _), (q, _) = factors
        run = go(machines(key=PaillierSecretKey(p, q)), cheaters={0})  # honest code throughout
    else:
        cls = malicious(Keygen, "_round_1", aux_round_2(mod_proof=_mod_proof("forged")))
        run = go(machines(cls, key=AttackerKey(list(factors))))
    assert_clean_abort(run, {0}, round=where, reason=reason)


def test_a01_no_configuration_skips_the_proofs(monkeypatch):
    """tss-lib's SetNoProofMod/SetNoProofFac re-open A-1. Nothing like them exists here: with
    every plausible switch set in the environment, the BitForge modulus is still refused."""
    for var in ("TSS_SKIP_PROOFS", "TSS_NO_PROOF_MOD", "TSS_NO_PROOF_FAC", "TSS_NO_PROOF_PRM",
                "TSS_INSECURE", "TSS_ITERATIONS", "TSS_PAILLIER_BITS", "TSS_LEVEL"):
        monkeypatch.setenv(var, "1")
    cls = malicious(Keygen, "_round_1", aux_round_2(mod_proof=_mod_proof("forged")))
    run = go(machines(cls, key=AttackerKey(list(bitforge_factors()))))
    assert_clean_abort(run, {0}, round="keygen/2", reason=r"mod:")


def test_a01_bitforge_modulus_at_refresh():
    """T-1 variant (and A-17): a valid key at keygen, the 16-small-primes modulus at refresh.
    The refresh aborts in its round 2 naming the cheater; the old shares are untouched."""
    shares = keygen(T, N)
    keys = paillier_keys(N)
    sid = b"tests/adversarial refresh bitforge"
    cls = malicious(Refresh, "_round_1", aux_round_2(mod_proof=_mod_proof("forged")))
    ms = {s.index: (cls if s.index == 0 else Refresh)(
        s, sid, rng=SeededRng(f"{SEED}/refresh/{s.index}"), paillier_key=keys[s.index])
        for s in shares}
    ms[0]._sk = AttackerKey(list(bitforge_factors()))
    run = go(ms, inputs={1: shares[1], 2: shares[2]})
    assert_clean_abort(run, {0}, round="refresh/2", reason=r"mod:")


def test_a20_thorchain_unproven_paillier_key():
    """A-20 (THORChain 2026): a legacy gate admitted a modulus with attacker-known factors
    because the MOD/FAC proof family was absent. Here a modulus sent with no proofs at all is a
    protocol violation naming its sender."""
    cls = malicious(Keygen, "_round_1", aux_round_2(mod_proof=lambda m, c: b"",
                                                    prm_proof=lambda m, c: b""))
    run = go(machines(cls, key=AttackerKey(list(bitforge_factors()))))
    assert_clean_abort(run, {0}, round="keygen/2", reason=r"malformed")


# ============================================================== T-4 c-split, T-19
@functools.cache
def smooth_key():
    """A Blum modulus p q (Πmod and Πfac accept it) whose p - 1 has the factor 3^5 exactly,
    so that the group of units has a subgroup of index 243 the attacker knows."""
    rng = SeededRng("tests/adversarial c-split modulus")
    e = 3 ** 5
    while True:
        k = rng.bits(1016) | (1 << 1015) | 1
        p = 2 * e * k + 1
        if p.bit_length() == 1024 and (p - 1) % (3 * e) and gmpy2.is_prime(p):
            break
    return PaillierSecretKey(p, completing_prime(p)), e


def ring_pedersen_outside():
    """(N, s, t) with t = s^243: s is not in <t>, so no Πprm for it can be honest."""
    key, e = smooth_key()
    rng = SeededRng("tests/adversarial c-split s")
    while True:
        s = rng.unit(key.n)
        if pow(s, (key.p - 1) // 3, key.p) != 1:
            break
    rp = RingPedersen(key.n, s, pow(s, e, key.n))
    rp.validate()
    return key, rp


def grind_prm(ctx, rp, rng, tries):
    """The best Πprm without log_t(s): guess every challenge bit, answer t^z = A s^guess, and
    re-randomise one commitment (A_0 t, z_0 + 1) per try. Returns the proof whose challenge
    agrees with the guesses on the longest prefix, and that prefix length."""
    m = ctx.level.iterations
    n, s, t = rp.n, rp.s, rp.t
    s_inv = pow(s, -1, n)
    guess = [rng.bits(1) for _ in range(m)]
    z = [rng.below(n - tries - 1) for _ in range(m)]
    A = [pow(t, zi, n) * (s_inv if g else 1) % n for zi, g in zip(z, guess)]
    best = (-1, None)
    for _ in range(tries):
        e = prm._challenge(ctx, rp, A)
        prefix = next((i for i in range(m) if e[i] != guess[i]), m)
        if prefix > best[0]:
            best = (prefix, prm.Proof(tuple(A), tuple(z)))
        if prefix == m:
            break
        A[0] = A[0] * t % n
        z[0] += 1
    return best[1], best[0]


def test_a04_c_split_single_challenge():
    """A-4: t = s^243 in a group whose order the attacker knows. A single-challenge proof
    (tau = rho + c/e, one commitment) has no encoding here: Πprm is exactly 128 binary
    challenges. The best the cheater can do — guess the bits and grind one commitment 256
    times — fails, and every honest party aborts naming it in keygen round 2."""
    key, rp = ring_pedersen_outside()
    ctx = ProofContext(SID, 0, STANDARD, 2)
    # the one-challenge shape of c-split: refused by the decoder before any arithmetic
    single = Writer().ints([pow(rp.t, 5, rp.n)]).ints([5]).getvalue()
    with pytest.raises(DecodeError, match="expected 128 items"):
        prm.Proof.from_bytes(single, STANDARD)

    def tweak(m):
        m._rp = RingPedersenSecret(rp, 1, key.phi)

    ground = {}

    def rewrite(msg):
        if msg.round == 2 and msg.is_broadcast:
            f = keygen_r2_fields(msg.payload, N, T)
            proof, prefix = grind_prm(ctx, rp, SeededRng("grind c-split"), 256)
            ground["prefix"] = prefix
            f["prm"] = proof.to_bytes()
            return with_payload(msg, keygen_r2_payload(f))
        return msg

    cls = malicious(Keygen, "_start", aux_start(tweak))
    run = go(machines(cls, key=key), rewrite={0: rewrite})
    assert_clean_abort(run, {0}, round="keygen/2", reason=r"prm: verification equation fails")
    assert ground["prefix"] < 128


def test_a19_all_128_challenge_bits_count():
    """A-19 (the cggmp21 bug: challenge bits 32..127 always zero). A forgery that relies on
    it — grind the first bits, answer every later iteration as if its bit were 0 — fails:
    the challenges of this very transcript have set bits beyond position 32."""
    key, rp = ring_pedersen_outside()
    ctx = ProofContext(SID, 0, STANDARD, 2)
    rng = SeededRng("a19")
    n, s, t = rp.n, rp.s, rp.t
    z = [rng.below(n) for _ in range(128)]
    A = [pow(t, zi, n) for zi in z]  # every iteration answered for a zero bit
    # grind until the first 8 challenge bits are zero (expected 2^8 tries)
    for _ in range(1 << 12):
        e = prm._challenge(ctx, rp, A)
        if not any(e[:8]):
            break
        A[0] = A[0] * t % n
        z[0] += 1
    assert not any(e[:8])
    assert any(e[32:]), "challenge bits beyond 32 must be live"
    with pytest.raises(InvalidProof, match="verification equation fails"):
        prm.verify(ctx, prm.Statement(rp), prm.Proof(tuple(A), tuple(z)))
    assert s != t


# ============================================================== T-5 c-guess
@pytest.mark.parametrize("iterations", [0, 1, 16, 127, 129])
def test_a05_c_guess_iteration_count_is_not_a_message_field(iterations):
    """A-5: the number of iterations is the level's constant (128), never read from the
    message: Πmod and Πprm proofs of any other length do not decode (an empty one neither)."""
    key = paillier_keys(1)[0]
    w = Writer().int(3)
    for _ in range(4):
        w.ints([1] * iterations)
    with pytest.raises(DecodeError):
        mod.Proof.from_bytes(w.getvalue(), STANDARD)
    p = Writer().ints([2] * iterations).ints([1] * iterations).getvalue()
    with pytest.raises(DecodeError):
        prm.Proof.from_bytes(p, STANDARD)
    # nor does a proof object of the wrong length verify (no loop runs zero times)
    rp = RingPedersen(key.n, 4, 9)
    with pytest.raises(InvalidProof, match="wrong number of iterations"):
        prm.verify(ProofContext(SID, 0, STANDARD, 2), prm.Statement(rp),
                   prm.Proof((2,) * iterations, (1,) * iterations))


def test_a05_c_guess_ground_proof_passes_12_iterations_not_128():
    """A-5 end to end: a Πprm for s outside <t>, ground until its 12 challenge bits match the
    guesses (expected 2^12 tries), passes a verifier configured with 12 iterations — the
    Multichain situation — and fails ours, whether sent as is (12 iterations do not decode)
    or padded to 128 with guessed iterations. Sent in keygen, it aborts naming the cheater."""
    key, rp = ring_pedersen_outside()
    weak = dataclasses.replace(STANDARD, iterations=12)
    weak_ctx = ProofContext(SID, 0, weak, 2)
    proof12, prefix = grind_prm(weak_ctx, rp, SeededRng("grind c-guess"), 1 << 16)
    assert prefix == 12
    prm.verify(weak_ctx, prm.Statement(rp), proof12)  # the weak verifier is fooled
    with pytest.raises(DecodeError):
        prm.Proof.from_bytes(proof12.to_bytes(), STANDARD)
    rng = SeededRng("pad")
    extra = [rng.below(rp.n) for _ in range(116)]
    padded = prm.Proof(proof12.A + tuple(pow(rp.t, z, rp.n) for z in extra), proof12.z
                       + tuple(extra))
    with pytest.raises(InvalidProof):
        prm.verify(ProofContext(SID, 0, STANDARD, 2), prm.Statement(rp), padded)

    def tweak(m):
        m._rp = RingPedersenSecret(rp, 1, key.phi)

    def rewrite(msg):
        if msg.round == 2 and msg.is_broadcast:
            f = keygen_r2_fields(msg.payload, N, T)
            f["prm"] = proof12.to_bytes()
            return with_payload(msg, keygen_r2_payload(f))
        return msg

    run = go(machines(malicious(Keygen, "_start", aux_start(tweak)), key=key),
             rewrite={0: rewrite})
    assert_clean_abort(run, {0}, round="keygen/2", reason=r"expected 128 items")


# ============================================================== T-8 ring-Pedersen values
def _rp_variant(kind, n, s, t, p):
    return {
        "s = 0": (0, t), "s = 1": (1, t), "s = N-1": (n - 1, t), "s = N": (n, t),
        "s = N+1": (n + 1, t), "s = t": (t, t), "t = 1": (s, 1), "t = N-1": (s, n - 1),
        "gcd(s, N) > 1": (p, t), "s not the proven one": (n - s, t),
    }[kind]


@pytest.mark.parametrize("kind, reason", [
    ("s = 0", "s out of range"), ("s = 1", "s out of range"), ("s = N-1", "s out of range"),
    ("s = N", "s out of range"), ("s = N+1", "s out of range"), ("s = t", "s equals t"),
    ("t = 1", "t out of range"), ("t = N-1", "t out of range"),
    ("gcd(s, N) > 1", "s is not a unit"),
    ("s not the proven one", "prm: verification equation fails"),
])
def test_a09_ring_pedersen_values(kind, reason):
    """A-9: malformed (N, s, t) are refused in keygen round 2, before any proof is used
    against them; the statement is always rebuilt from the opened values (a proof for the
    honest s does not cover the broadcast -s)."""

    def tweak(m):
        rp, sk = m._rp, m._sk
        s, t = _rp_variant(kind, rp.params.n, rp.params.s, rp.params.t, sk.p)
        m._rp = RingPedersenSecret(RingPedersen(rp.params.n, s, t), rp.lam, rp.phi)

    run = go(machines(malicious(Keygen, "_start", aux_start(tweak))))
    assert_clean_abort(run, {0}, round="keygen/2", reason=reason)


# ============================================================== T-10 replay
def _session_a_round_2(party):
    """Party ``party``'s round-2 broadcast in the cached keygen (session A) and its seed."""
    run = keygen_run(T, N)
    (rec,) = run.messages(party, 2, broadcast=True)
    sid_a = rec.message.session_id
    return rec.message.payload, f"{sid_a.hex()}/keygen/{party}"


@pytest.mark.parametrize("proof", ["constant", "mod", "prm"])
def test_a11_proofs_replayed_from_another_session(proof):
    """A-11 (CVE-2022-47930): the cheater runs session B with exactly the polynomial, chain
    code and ring-Pedersen parameters it had in session A, so each of its session-A proofs is
    for the very same statement; only the session binding can refuse the replayed proof."""
    old_payload, seed = _session_a_round_2(0)
    ms = machines()
    ms[0] = Keygen(0, T, N, SID, paillier_key=paillier_keys(N)[0], rng=SeededRng(seed))
    same = {}

    def replay(msg):
        if msg.round == 2 and msg.is_broadcast:
            f, old = keygen_r2_fields(msg.payload, N, T), keygen_r2_fields(old_payload, N, T)
            same["statement"] = all(f[k] == old[k] for k in ("A", "chain", "N", "s", "t"))
            assert f[proof] != old[proof]
            f[proof] = old[proof]
            return with_payload(msg, keygen_r2_payload(f))
        return msg

    run = go(ms, rewrite={0: replay})
    assert same["statement"]
    name = {"constant": "sch", "mod": "mod", "prm": "prm"}[proof]
    assert_clean_abort(run, {0}, round="keygen/2", reason=rf"{name}: ")


def test_a11_round_2_contents_replayed_as_round_3():
    """A-11 (c): the cheater's round-3 broadcast carries its round-2 contents."""
    r2 = {}

    def replay(msg):
        if msg.round == 2 and msg.is_broadcast:
            r2["payload"] = msg.payload
        if msg.round == 3 and msg.is_broadcast:
            return with_payload(msg, r2["payload"])
        return msg

    run = go(machines(), rewrite={0: replay})
    assert_clean_abort(run, {0}, round="keygen/3")


def test_a11_replayed_round_2_message_names_only_its_sender():
    """A whole round-2 broadcast replayed from session A (echo, opening and proofs). Its echo
    disagrees in every slot, including the sender's own: only the sender can be wrong."""
    old_payload, seed = _session_a_round_2(2)
    ms = machines()
    ms[2] = Keygen(2, T, N, SID, paillier_key=paillier_keys(N)[2], rng=SeededRng(seed))

    def replay(msg):
        if msg.round == 2 and msg.is_broadcast:
            return with_payload(msg, old_payload)
        return msg

    run = go(ms, rewrite={2: replay})
    assert_clean_abort(run, {2}, round="keygen/2")


# ============================================================== T-11 commitment copying
def test_a12_commitment_copying():
    """A-12: a rushing cheater (party 2) copies party 0's round-1 commitment, then party 0's
    whole round-2 opening and proofs. The commitment binds the committer's index, so the
    opening fails for party 2, and both honest parties name party 2 only."""
    holder = {}

    def copy(msg):
        run = holder["run"]
        if msg.is_broadcast and msg.round in (1, 2):
            (rec,) = run.messages(0, msg.round, broadcast=True)
            return with_payload(msg, rec.message.payload)
        return msg

    run = Run(machines(cheater=2), rewrite={2: copy})
    holder["run"] = run
    run.go()
    assert_clean_abort(run, {2}, round="keygen/2",
                       reason="opening does not match the round-1 commitment")


def test_a12_schnorr_proof_is_bound_to_its_prover():
    """A-12, second half: a Schnorr proof of party 0 for X, presented by party 2 for the same
    X in the same session and round, does not verify (the prover index is in the challenge),
    and a proof for X does not verify for another X."""
    rng = SeededRng("a12 sch")
    x = rng.scalar(Q_ORDER)
    X = G * x
    proof = sch.prove(ProofContext(SID, 0, STANDARD, 2), sch.Statement(X), sch.Witness(x), rng)
    sch.verify(ProofContext(SID, 0, STANDARD, 2), sch.Statement(X), proof)
    with pytest.raises(InvalidProof):
        sch.verify(ProofContext(SID, 2, STANDARD, 2), sch.Statement(X), proof)
    with pytest.raises(InvalidProof):
        sch.verify(ProofContext(SID, 0, STANDARD, 2), sch.Statement(X + G), proof)


# ============================================================== T-12 equivocation
def _other_valid_round_2(payload: bytes) -> bytes:
    """The same round-2 broadcast with x_0 of Πmod replaced by N - x_0: a different message
    that verifies just as well ((-x)^4 = x^4)."""
    f = keygen_r2_fields(payload, N, T)
    p = mod.Proof.from_bytes(f["mod"], STANDARD)
    f["mod"] = dataclasses.replace(p, x=(f["N"] - p.x[0], *p.x[1:])).to_bytes()
    return keygen_r2_payload(f)


@pytest.mark.parametrize("round", [1, 2])
def test_a13_keygen_broadcast_equivocation(round):
    """A-13: the cheater (party 2) sends one broadcast of round 1 (or 2) to party 0 and a
    different one to party 1 (in round 2, two versions that both verify). The echo in the next
    round catches it before anything of a later round is sent. Without transferable
    signatures an honest party cannot tell which of the two others lied, so each names the
    cheater and at most the other honest party."""

    def equivocate(msg):
        if msg.round == round and msg.is_broadcast:
            other = flip(msg.payload, 0) if round == 1 else _other_valid_round_2(msg.payload)
            return [Targeted(msg, frozenset({0})),
                    Targeted(with_payload(msg, other), frozenset({1}))]
        return msg

    run = go(machines(cheater=2), rewrite={2: equivocate})
    assert_clean_abort(run, {2}, round=f"keygen/{round + 1}", suspects={0, 1})
    for h in (0, 1):
        assert h not in run.errors[h].culprits


# ============================================================== T-17 VSS and indices
def _point_bytes_off_curve():
    x = 5
    while pow((x ** 3 + 7) % P_FIELD, (P_FIELD - 1) // 2, P_FIELD) == 1:
        x += 1
    return b"\x02" + x.to_bytes(32, "big")


def _raw_r2_with_second_commitment(f, second: bytes) -> bytes:
    w = Writer().raw(f["echo"]).raw((2).to_bytes(2, "big")).point(f["A"][0]).raw(second)
    w.raw(f["chain"]).raw(f["rho"]).int(f["N"]).int(f["s"]).int(f["t"])
    return w.blob(f["constant"]).blob(f["mod"]).blob(f["prm"]).getvalue()


@pytest.mark.parametrize("kind, reason", [
    ("t+1 commitments", "expected 2 points"),
    ("t-1 commitments", "expected 2 points"),
    ("non-canonical point", "not reduced"),
    ("point off the curve", "not a point on secp256k1"),
    ("identity commitment", "a Feldman commitment is the identity"),
    ("share >= q", "Feldman share does not match"),
    ("share + q", "Feldman share does not match"),
])
def test_a18_vss_commitments_and_shares(kind, reason):
    """A-18: a VSS vector of the wrong length (which would silently change the threshold),
    points off the curve, non-canonical or at infinity, and shares that are not reduced mod q
    are all refused in round 2, naming the dealer."""
    cls = None
    if kind == "identity commitment":
        def tweak(m):
            m._A = [m._A[0], Point.identity()]

        cls = malicious(Keygen, "_start", aux_start(tweak))

    def rewrite(msg):
        if msg.round != 2:
            return msg
        if not msg.is_broadcast:
            share = int.from_bytes(msg.payload, "big")
            if kind == "share >= q":
                return with_payload(msg, Q_ORDER.to_bytes(32, "big"))
            if kind == "share + q":
                return with_payload(msg, ((share + Q_ORDER) % 2 ** 256).to_bytes(32, "big"))
            return msg
        f = keygen_r2_fields(msg.payload, N, T)
        if kind == "t+1 commitments":
            f["A"] = [*f["A"], G]
        elif kind == "t-1 commitments":
            f["A"] = f["A"][:1]
        elif kind == "non-canonical point":
            bad = b"\x02" + (P_FIELD + 1).to_bytes(32, "big")
            return with_payload(msg, _raw_r2_with_second_commitment(f, bad))
        elif kind == "point off the curve":
            return with_payload(msg, _raw_r2_with_second_commitment(f, _point_bytes_off_curve()))
        return with_payload(msg, keygen_r2_payload(f))

    run = go(machines(cls), rewrite={0: rewrite})
    assert_clean_abort(run, {0}, round="keygen/2", reason=reason)


@pytest.mark.parametrize("points", [(0, 2, 3), (1, 2, Q_ORDER + 1), (1, 2, 2), (Q_ORDER, 2, 3),
                                    (2 * Q_ORDER, 2, 3)])
def test_a18_evaluation_points_of_a_share(points):
    """A-18: a key share whose evaluation points include 0 mod q or a duplicate mod q (which
    would hand out f(0) or break interpolation) is refused."""
    share = keygen(T, N)[0]
    with pytest.raises(DecodeError):
        dataclasses.replace(share, points=points)
