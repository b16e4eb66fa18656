"""Attacks on the online signing round (attacks.md section 3.2: T-7 abort oracle, T-14
presignature reuse), with presignatures of the cached 2-of-3 key (all three signers)."""

from __future__ import annotations

import hashlib

import pytest
from harness import (
    Q_SECP256K1,
    assert_clean_abort,
    fresh_presignatures,
    go,
    keygen,
    sign_machines,
    with_payload,
)

from tss import Presignature, Sign, UsageError
from tss.curve import G

Q = Q_SECP256K1
SIGNERS = (0, 1, 2)


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


# ================================================================== T-7 abort oracle
@pytest.mark.parametrize("secret_bit", [0, 1])
def test_a08_abort_oracle_is_identified_and_terminal(secret_bit):
    """A-8: a cheater (party 2) makes the signature fail exactly when a bit of an honest
    party's secret is 0 (the fixture plays the oracle: Lindell17's crafted ciphertext has no
    counterpart here, the cheater's own partial signature is its only lever). A failure is
    never anonymous: every honest party checks each partial signature on its own against the
    presignature's public values and names the cheater; the abort is terminal and burns the
    presignature, so one presignature yields at most one such observation, and each one names
    the cheater."""
    presigs = fresh_presignatures(2, 3, SIGNERS)
    message = digest("a08")

    def oracle(msg):
        if secret_bit == 0:
            s = (int.from_bytes(msg.payload, "big") + 1) % Q
            return with_payload(msg, s.to_bytes(32, "big"))
        return msg

    run = go(sign_machines(presigs, message), rewrite={2: oracle},
             inputs={0: presigs[0], 1: presigs[1]})
    if secret_bit == 1:
        (sig,) = set(run.results.values())
        assert sig.verify(keygen(2, 3)[0].public_key, message)
        return
    assert_clean_abort(run, {2}, round="sign/1",
                       reason="partial signature does not match the presignature", burns=True)
    # the honest parties' decision used public values only: a retry needs a new presignature
    for h in (0, 1):
        with pytest.raises(UsageError, match="already used"):
            Sign(presigs[h], message)
        with pytest.raises(UsageError, match="already used"):
            Sign(presigs[h], digest("another message"))


# ================================================================== T-14 presignature reuse
def test_a15_aborted_signing_burns_the_presignature_before_any_retry():
    """A-15: the cheater aborts the signing of m1 to get the honest parties to retry with the
    same presignature on m2. The presignature was consumed before the honest partial signature
    left the machine; the retry is refused before anything is sent, and so is a copy of the
    consumed presignature made from its bytes."""
    presigs = fresh_presignatures(2, 3, SIGNERS)

    def garbage(msg):
        return with_payload(msg, bytes(32))

    run = go(sign_machines(presigs, digest("m1")), rewrite={2: garbage},
             inputs={0: presigs[0], 1: presigs[1]})
    assert_clean_abort(run, {2}, round="sign/1", burns=True)
    for h in (0, 1):
        again = Presignature.from_bytes(presigs[h].to_bytes())
        assert again.consumed
        for p in (presigs[h], again):
            with pytest.raises(UsageError):
                Sign(p, digest("m2"))


def test_a15_one_sign_machine_per_presignature():
    """Two Sign machines made from one presignature object before either starts: the second
    start() is refused, so no second partial signature exists."""
    presig = fresh_presignatures(2, 3, SIGNERS)[0]
    first, second = Sign(presig, digest("m1")), Sign(presig, digest("m2"))
    assert len(first.start()) == 1
    with pytest.raises(UsageError, match="already used"):
        second.start()


def _recover_key(r, s1, s2, m1, m2):
    """k and x from two signatures that share R (low-s normalisation may have negated s)."""
    for a in (1, -1):
        for b in (1, -1):
            ds = (a * s1 - b * s2) % Q
            if ds == 0:
                continue
            k = (m1 - m2) * pow(ds, -1, Q) % Q
            x = (a * s1 * k - m1) * pow(r, -1, Q) % Q
            yield x


def test_a15_why_reuse_is_fatal_and_what_the_library_cannot_see():
    """Restoring a presignature from a backup taken before it was used is the one reuse the
    library cannot see (tss.Presignature says so): two signatures under one R give away the
    key, as this test shows with two restored copies. Hence the rule for storage: persist the
    consumed presignature (its bytes carry the flag) before releasing the partial signature,
    and never keep an unconsumed copy elsewhere."""
    backup = {j: p.to_bytes() for j, p in fresh_presignatures(2, 3, SIGNERS).items()}
    m1, m2 = digest("pay 1 BTC to Alice"), digest("pay 1 BTC to Mallory")
    sigs = []
    for m in (m1, m2):
        copies = {j: Presignature.from_bytes(b) for j, b in backup.items()}
        (sig,) = set(go(sign_machines(copies, m)).results.values())
        sigs.append(sig)
    assert sigs[0].r == sigs[1].r
    Y = keygen(2, 3)[0].public_key_point
    found = [x for x in _recover_key(sigs[0].r, sigs[0].s, sigs[1].s,
                                     int.from_bytes(m1, "big") % Q, int.from_bytes(m2, "big") % Q)
             if G * x == Y]
    assert found, "two signatures with one R reveal the key"


def test_a15_presignatures_have_distinct_nonces():
    """Each presigning draws fresh k_i: the R of independent presignings differ."""
    a = fresh_presignatures(2, 3, SIGNERS)[0]
    b = fresh_presignatures(2, 3, (0, 1), tag="other")[0]
    c = fresh_presignatures(2, 3, (0, 1), tag="yet another")[0]
    assert len({a.R, b.R, c.R}) == 3
