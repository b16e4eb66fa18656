"""Key generation for every threshold and party count up to 5, each followed by one signature;
signing with every subset; HIGH level; Keygen's argument checks."""

from __future__ import annotations

import itertools
import random

import coincurve
import pytest
from protocol_support import (
    N_SECP256K1,
    check_signature,
    digest,
    keygen,
    paillier_key,
    paillier_keys,
    shared_verification,
)

import tss
from tss import HIGH, STANDARD, Keygen, KeyShare, UsageError
from tss.randomness import SeededRng
from tss.simulation import simulate_sign

Q = N_SECP256K1
ALL_T_N = [(t, n) for n in range(1, 6) for t in range(1, n + 1)]  # 15 cases
SIGNED_ELSEWHERE = {(2, 3), (3, 5)}  # every signer set of these signs in the tests below


def lagrange_at_zero(xs, x):
    num, den = 1, 1
    for m in xs:
        if m != x:
            num = num * m % Q
            den = den * (m - x) % Q
    return num * pow(den, -1, Q) % Q


def combine(points_and_scalars):
    """sum c_j P_j with coincurve (independent of the library's own point arithmetic)."""
    keys = [coincurve.PublicKey(p).multiply(c.to_bytes(32, "big"))
            for p, c in points_and_scalars]
    return coincurve.PublicKey.combine_keys(keys).format(compressed=True)


def check_shares(shares, t, n, level=STANDARD):
    assert len(shares) == n
    first = shares[0]
    pk = first.public_key
    assert len(pk) == 33 and pk[0] in (2, 3)
    public_shares = [p.to_bytes() for p in first.public_shares]
    for i, s in enumerate(shares):
        assert isinstance(s, KeyShare)
        assert (s.index, s.threshold, s.parties, s.level, s.epoch) == (i, t, n, level, 0)
        assert s.public_key == pk
        assert s.key_id == first.key_id
        assert s.points == tuple(range(1, n + 1))
        assert [p.to_bytes() for p in s.public_shares] == public_shares
        assert s.chain_code == first.chain_code and len(s.chain_code) == 32
        assert s.paillier_moduli == first.paillier_moduli
        assert s.ring_pedersen == first.ring_pedersen
        assert s.paillier.n == s.paillier_moduli[i]
        assert s.can_sign and not s.imported
        # the secret share matches its public image
        assert coincurve.PrivateKey(s.secret_share.to_bytes(32, "big")).public_key.format() \
            == public_shares[i]
    assert len(set(first.paillier_moduli)) == n
    # every t-subset of public shares interpolates to the key, and the secret shares of every
    # t-subset reconstruct a secret whose public key is the key
    for subset in itertools.combinations(range(n), t):
        xs = [i + 1 for i in subset]
        lams = [lagrange_at_zero(xs, i + 1) for i in subset]
        assert combine([(public_shares[i], c) for i, c in zip(subset, lams)]) == pk
        secret = sum(shares[i].secret_share * c for i, c in zip(subset, lams)) % Q
        assert coincurve.PrivateKey(secret.to_bytes(32, "big")).public_key.format() == pk
    # public shares lie on one polynomial of degree t - 1: any t of them predict the others
    if t < n:
        base = list(range(t))
        for j in range(t, n):
            xs = [i + 1 for i in base]
            lams = []
            for a in base:
                num, den = 1, 1
                for b in base:
                    if b != a:
                        num = num * (j + 1 - (b + 1)) % Q
                        den = den * (a + 1 - (b + 1)) % Q
                lams.append(num * pow(den, -1, Q) % Q)
            assert combine([(public_shares[a], c) for a, c in zip(base, lams)]) \
                == public_shares[j]
    # the encoding round-trips
    for s in shares:
        raw = s.to_bytes()
        back = KeyShare.from_bytes(raw)
        assert back.to_bytes() == raw
        assert (back.index, back.threshold, back.parties, back.secret_share, back.public_key,
                back.chain_code, back.paillier_moduli, back.ring_pedersen, back.epoch,
                back.level) == (s.index, s.threshold, s.parties, s.secret_share, s.public_key,
                                s.chain_code, s.paillier_moduli, s.ring_pedersen, s.epoch,
                                s.level)
        assert back.paillier.n == s.paillier.n
        assert KeyShare.from_bytes(bytearray(raw)).to_bytes() == raw


@pytest.mark.parametrize(("t", "n"), ALL_T_N, ids=[f"{t}-of-{n}" for t, n in ALL_T_N])
def test_keygen_then_sign(t, n):
    shares = keygen(t, n)
    check_shares(shares, t, n)
    if (t, n) in SIGNED_ELSEWHERE:
        return
    signers = sorted(random.Random(f"{t}/{n}").sample(range(n), t))
    message = f"keygen {t}-of-{n}, signed by {signers}"
    sig = simulate_sign([shares[i] for i in signers], digest(message),
                        rng=SeededRng(f"sign/{t}/{n}"))
    check_signature(sig, shares[0].public_key, message)


@pytest.mark.parametrize("signers", [*itertools.combinations(range(3), 2), (0, 1, 2)],
                         ids=lambda s: "+".join(map(str, s)))
def test_every_signer_set_of_2_of_3(signers):
    shares = keygen(2, 3)
    message = f"2-of-3 signed by {signers}"
    sig = simulate_sign([shares[i] for i in signers], digest(message))
    check_signature(sig, shares[0].public_key, message)


@pytest.mark.parametrize("signers", list(itertools.combinations(range(5), 3)),
                         ids=lambda s: "+".join(map(str, s)))
def test_every_signer_set_of_3_of_5(signers):
    shares = keygen(3, 5)
    message = f"3-of-5 signed by {signers}"
    sig = simulate_sign([shares[i] for i in reversed(signers)], digest(message))
    check_signature(sig, shares[0].public_key, message)


def test_different_keygens_give_different_keys():
    keys = {keygen(t, n)[0].public_key for t, n in [(2, 3), (3, 5), (2, 2)]}
    assert len(keys) == 3


@pytest.mark.slow
def test_high_level_2_of_2():
    shares = keygen(2, 2, HIGH)
    check_shares(shares, 2, 2, HIGH)
    assert all(s.paillier.n.bit_length() == HIGH.paillier_bits for s in shares)
    message = "HIGH level 2-of-2"
    sig = simulate_sign(shares, digest(message))
    check_signature(sig, shares[0].public_key, message)


# ----------------------------------------------------------------------------- argument checks
SID = b"keygen argument checks"


@pytest.mark.parametrize(("index", "t", "n"), [
    (0, 0, 3), (0, 4, 3), (3, 2, 3), (-1, 2, 3), (0, 1, 0), (0, 1, 256), (0, 2.0, 3),
    (0, 2, "3"),
])
def test_keygen_rejects_bad_parameters(index, t, n):
    with pytest.raises(UsageError):
        Keygen(index, t, n, SID)


@pytest.mark.parametrize("sid", [b"", bytes(65), "text", None])
def test_keygen_rejects_bad_session_ids(sid):
    with pytest.raises(UsageError):
        Keygen(0, 2, 3, sid)


def test_keygen_rejects_a_paillier_key_of_another_level():
    with pytest.raises(UsageError):
        Keygen(0, 2, 3, SID, level=STANDARD, paillier_key=paillier_key(HIGH, 0))
    with pytest.raises(UsageError):
        Keygen(0, 2, 2, SID, level=HIGH, paillier_key=paillier_key(STANDARD, 0))


def test_keygen_refuses_a_reused_paillier_modulus():
    keys = paillier_keys(3)
    keys[2] = keys[0]
    with shared_verification(), pytest.raises(tss.ProtocolAborted) as info:
        tss.simulate_keygen(2, 3, paillier_keys=keys, session_id=b"reused modulus",
                            rng=SeededRng("reused modulus"))
    assert "modulus" in info.value.reason
    assert info.value.culprits and info.value.culprits <= {0, 2}


def test_simulate_keygen_wants_one_paillier_key_per_party():
    with pytest.raises(UsageError):
        tss.simulate_keygen(2, 3, paillier_keys=paillier_keys(2))
