"""Shared, cached helpers for the refresh and reshare tests of this folder.

Deliberately *not* a ``conftest.py``: this folder has no ``__init__.py``, so a second
``conftest.py`` would replace the module ``conftest`` in ``sys.modules`` for every test module
collected after it (``tests/test_*.py``, ``tests/zk``), and their ``from conftest import
paillier_key`` would then import the wrong file.

What lives here:

* ``pkey(i)`` / ``pkeys(*i)``: distinct STANDARD Paillier keys: the 4 cached ones of
  ``tests/conftest.py``, then keys generated once per session from fixed seeds (a run refuses a
  reused modulus, and a refresh should get keys the old shares do not have);
* ``base_key()``: the session-cached, seeded 2-of-3 keygen every test here starts from;
* ``shared_verification()``: each distinct passing Πmod/Πprm verification is done once;
* ``Net``: a network for hand-driven machines that can drop or rewrite any message per
  recipient and keeps each machine's error instead of stopping at the first one;
* ``assert_named``, ``sign_and_verify``, ``interpolate_secret`` and the independent checks.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import random

import coincurve
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

import tss
from conftest import paillier_key
from tss import Message, ProtocolAborted, Reshare, TssError, UsageError
from tss.paillier import generate_keypair
from tss.params import STANDARD
from tss.protocol.reshare import NEW_MEMBER_BASE
from tss.randomness import SeededRng
from tss.simulation import simulate_keygen, simulate_refresh, simulate_sign
from tss.zk import mod, prm
from tss.zk._codec import Reader, Writer

#: the order of secp256k1, written out (not taken from the library under test)
Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
CACHED_PAILLIER_KEYS = 4  # tests/conftest.py has 4 keys per level


# ------------------------------------------------------------------------------ Paillier keys
@functools.cache
def _extra_paillier_key(i):
    return generate_keypair(STANDARD, SeededRng(f"tests/refresh/paillier/{i}"))


def pkey(i):
    """The i-th distinct STANDARD Paillier key of this folder (0..3 are the cached ones)."""
    return paillier_key(STANDARD, i) if i < CACHED_PAILLIER_KEYS else _extra_paillier_key(i)


def pkeys(*indices):
    return [pkey(i) for i in indices]


#: the keys of the base key's three parties; everything fresh starts at FRESH
BASE_KEYS = (0, 1, 2)
FRESH = 4


# ------------------------------------------------------------------------------ speed
_PASSED = set()  # (module, context, statement, proof) that verified, for the whole session


@contextlib.contextmanager
def shared_verification():
    """Inside this block each distinct (context, statement, proof) of Πmod and Πprm that
    already *passed* (in this session) is not verified again.

    In a refresh or reshare every Πmod/Πprm broadcast is verified by every peer on exactly the
    same inputs, and the attack tests replay the same honest parties (same session id, same
    seeded randomness, so the same proofs) around each cheater; those repeats are most of the
    run time. Verification is a deterministic function of its inputs, so remembering the inputs
    that passed changes no outcome: every other input — every tampered, replayed or foreign
    proof — is verified for real, every time. Only the two module attributes are swapped, and
    only for the block.
    """
    originals = {module: module.verify for module in (mod, prm)}
    passed = _PASSED

    def remembering(module, verify):
        def wrapper(ctx, stmt, proof):
            key = (module.__name__, ctx, stmt, proof)
            try:
                hash(key)
            except TypeError:  # something unhashable: just verify
                return verify(ctx, stmt, proof)
            if key not in passed:
                verify(ctx, stmt, proof)
                passed.add(key)
            return None

        return wrapper

    try:
        for module, verify in originals.items():
            module.verify = remembering(module, verify)
        yield
    finally:
        for module, verify in originals.items():
            module.verify = verify


# ------------------------------------------------------------------------------ the base key
@functools.cache
def base_key():
    """A seeded 2-of-3 key (epoch 0), made once per session, with the keys BASE_KEYS."""
    with shared_verification():
        shares = simulate_keygen(2, 3, paillier_keys=pkeys(*BASE_KEYS),
                                 session_id=b"tests/refresh base key",
                                 rng=SeededRng("tests/refresh/base-key"))
    return tuple(shares)


@functools.cache
def base_key_bytes():
    """The encodings of the base key's shares when they were made."""
    return tuple(s.to_bytes() for s in base_key())


def old_shares_still_good(label, signers=(0, 2)):
    """The base key's shares are byte-for-byte what keygen made, and ``signers`` of them sign."""
    old = base_key()
    assert tuple(s.to_bytes() for s in old) == base_key_bytes()
    sign_and_verify([old[i] for i in signers], label)


#: the Paillier keys of the honest refresh
REFRESH_KEYS = (FRESH, FRESH + 1, FRESH + 2)


@functools.cache
def honest_refresh():
    """The new shares of one seeded, honest refresh of the base key."""
    base_key_bytes()
    with shared_verification():
        new = simulate_refresh(base_key(), paillier_keys=pkeys(*REFRESH_KEYS),
                               session_id=b"tests/refresh honest",
                               rng=SeededRng("tests/refresh/honest"))
    return tuple(new)


# ------------------------------------------------------------------------------ network
class Net:
    """Delivers the messages of ``machines`` (party id -> RoundMachine) as bytes.

    ``rewrite(message, recipient, net)`` is called for every delivery of every message (a
    broadcast once per recipient) and returns the message that recipient gets, or None to drop
    it: that is enough to withhold, equivocate, replay or tamper. ``hold(message, recipient)``
    marks deliveries that wait until nothing else is pending.

    Deliveries go one at a time in a seeded random order; with ``in_order`` (the default) every
    delivery of round r comes before any of round r + 1 (synchronous rounds), without it a
    message may overtake messages of earlier rounds. The attack tests use synchronous rounds:
    when a machine completes a round and fails the next, buffered one in a single ``handle``
    call, it returns the messages of the round that passed and keeps the error in ``error``
    (see test_an_abort_does_not_swallow_the_messages_of_the_round_that_passed).

    A machine that raises keeps its error in ``errors`` and gets nothing more; the others go on
    until nothing is pending.
    """

    def __init__(self, machines, *, rewrite=None, hold=None, in_order=True, seed=0):
        self.machines = machines
        self.rewrite = rewrite
        self.hold = hold
        self.in_order = in_order
        self.rnd = random.Random(seed)
        self.pending = []  # (raw message, recipient)
        self.held = []
        self.sent = []  # every message any machine produced, in order
        self.delivered = []  # (recipient, message) as delivered
        self.dropped = []  # (recipient, message)
        self.errors = {}

    def _call(self, i, fn):
        try:
            out = fn()
        except TssError as exc:
            self.errors[i] = exc
            return []
        if self.machines[i].error is not None:  # a later round failed in the same call
            self.errors[i] = self.machines[i].error
        return out

    def post(self, messages):
        for m in messages:
            raw = m.to_bytes()
            msg = Message.from_bytes(raw)
            self.sent.append(msg)
            targets = [msg.recipient] if msg.recipient is not None else [
                j for j in self.machines if j != msg.sender]
            for j in targets:
                held = self.hold is not None and self.hold(msg, j)
                (self.held if held else self.pending).append((raw, j))

    def find(self, *, sender, round, recipient="any"):
        """The messages ``sender`` produced for ``round`` (optionally to one recipient; None
        for its broadcast)."""
        return [m for m in self.sent if m.sender == sender and m.round == round
                and (recipient == "any" or m.recipient == recipient)]

    def _next(self):
        if not self.pending:
            self.pending, self.held = self.held, []
        candidates = range(len(self.pending))
        if self.in_order:
            low = min(raw[2] for raw, _ in self.pending)  # byte 2 of a message is its round
            candidates = [k for k in candidates if self.pending[k][0][2] == low]
        return self.pending.pop(self.rnd.choice(list(candidates)))

    def run(self):
        with shared_verification():
            for i, machine in self.machines.items():
                self.post(self._call(i, machine.start))
            while self.pending or self.held:
                raw, j = self._next()
                if j in self.errors:
                    continue
                msg = Message.from_bytes(raw)
                m = msg if self.rewrite is None else self.rewrite(msg, j, self)
                if m is None:
                    self.dropped.append((j, msg))
                    continue
                m = Message.from_bytes(m.to_bytes())
                self.delivered.append((j, m))
                machine = self.machines[j]
                self.post(self._call(j, lambda: machine.handle(m)))  # noqa: B023 - called now
        return self

    def done(self, ids):
        return {i for i in ids if self.machines[i].done}


def replace_payload(message, payload):
    return Message(message.protocol, message.session_id, message.round, message.sender,
                   message.recipient, payload)


def tweak_share(message):
    """A p2p Feldman share message with the share moved by one: it no longer matches the
    dealer's commitments."""
    s = int.from_bytes(message.payload, "big")
    return replace_payload(message, ((s + 1) % Q).to_bytes(32, "big"))


def assert_named(net, honest, culprits, *, exact=True):
    """Every party in ``honest`` aborted with ProtocolAborted naming ``culprits`` (exactly, or
    at least them with exact=False), never finished, and keeps raising that same error."""
    culprits = frozenset(culprits)
    for i in honest:
        exc = net.errors.get(i)
        assert isinstance(exc, ProtocolAborted), f"party {i}: {exc!r}"
        if exact:
            assert exc.culprits == culprits, f"party {i} named {set(exc.culprits)}: {exc}"
        else:
            assert culprits <= exc.culprits, f"party {i} named {set(exc.culprits)}: {exc}"
        machine = net.machines[i]
        assert not machine.done
        assert machine.error is exc
        try:
            _ = machine.result
        except ProtocolAborted as again:
            assert again is exc
        else:  # pragma: no cover
            raise AssertionError("a failed machine returned a result")


def assert_no_honest_message_after(net, honest, round):
    """No party of ``honest`` sent anything of a round later than ``round``."""
    late = [m for m in net.sent if m.sender in honest and m.round > round]
    assert not late, late


def assert_stuck(net, ids):
    """Parties that are waiting for messages: no error, not done, and no result to use."""
    for i in ids:
        machine = net.machines[i]
        assert i not in net.errors and machine.error is None
        assert not machine.done
        try:
            _ = machine.result
        except UsageError:
            pass
        else:  # pragma: no cover
            raise AssertionError("an unfinished machine returned a result")


# ------------------------------------------------------------------------------ checks
def digest(label):
    return hashlib.sha256(label.encode()).digest()


def verify_signature(sig, public_key, message_hash):
    """``sig`` verifies under ``public_key`` (33 bytes) with `cryptography` (Prehashed SHA-256)
    and with coincurve (libsecp256k1); both raise or return False otherwise."""
    assert isinstance(sig, tss.Signature)
    assert 0 < sig.r < Q and 0 < sig.s <= Q // 2
    der = sig.to_der()
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), public_key)
    key.verify(der, message_hash, ec.ECDSA(Prehashed(hashes.SHA256())))
    assert coincurve.PublicKey(public_key).verify(der, message_hash, hasher=None)


def sign_and_verify(shares, label):
    """Sign sha256(label) with ``shares`` (seeded) and verify the signature independently."""
    h = digest(label)
    sig = simulate_sign(list(shares), h, rng=SeededRng("tests/refresh/sign/" + label))
    verify_signature(sig, shares[0].public_key, h)
    return sig


def lagrange_at_zero(xs, x):
    num, den = 1, 1
    for m in xs:
        if m != x:
            num = num * m % Q
            den = den * (m - x) % Q
    return num * pow(den, -1, Q) % Q


def interpolate_secret(shares):
    """The value at 0 of the polynomial through these shares' (point, secret share)."""
    xs = [s.points[s.index] for s in shares]
    return sum(s.secret_share * lagrange_at_zero(xs, x) for s, x in zip(shares, xs)) % Q


def public_key_of(secret):
    """The compressed public key of ``secret`` by coincurve (None for 0)."""
    if secret % Q == 0:
        return None
    return coincurve.PrivateKey(secret.to_bytes(32, "big")).public_key.format(compressed=True)


# ------------------------------------------------------------------------------ encodings
def parse_refresh_round2(payload, parties, threshold):
    """The fields of a keygen/refresh round-2 broadcast (see AuxDealing._round_1)."""
    r = Reader(payload)
    fields = {
        "echo": r.raw(32 * parties),
        "A": r.points(threshold, allow_identity=True),
        "chain": r.raw(32), "rho": r.raw(32),
        "N": r.int(), "s": r.int(), "t": r.int(),
        "constant": r.blob(), "mod": r.blob(), "prm": r.blob(),
    }
    r.end()
    return fields


def build_refresh_round2(f):
    return (Writer().raw(f["echo"]).points(list(f["A"])).raw(f["chain"]).raw(f["rho"])
            .int(f["N"]).int(f["s"]).int(f["t"])
            .blob(f["constant"]).blob(f["mod"]).blob(f["prm"]).getvalue())


def flip_byte(data, pos=-1):
    b = bytearray(data)
    b[pos] ^= 0x01
    return bytes(b)


# ------------------------------------------------------------------------------ reshare
def reshare_machines(old_shares, new_threshold, new_parties, new_keys, *, sid, seed,
                     cheaters=None):
    """Reshare machines: one per old member (id = old index) and one per new member (id =
    NEW_MEMBER_BASE + j). ``cheaters`` maps an id to (machine class, extra keyword arguments)
    that replaces the honest Reshare for that party.

    The randomness is forked from SeededRng(seed) exactly as ``simulate_reshare`` forks it, so
    ``simulate_reshare(..., rng=SeededRng(seed))`` on the same inputs makes the same shares.
    """
    cheaters = cheaters or {}
    parent = SeededRng(seed)
    info = old_shares[0].public_info()
    old = [s.index for s in old_shares]
    common = dict(old_parties=old, new_threshold=new_threshold, new_parties=new_parties)
    out = {}
    for s in old_shares:
        cls, kw = cheaters.get(s.index, (Reshare, {}))
        out[s.index] = cls(sid, old_share=s, rng=parent.fork(f"reshare-old-{s.index}"),
                           **common, **kw)
    for j in range(new_parties):
        pid = NEW_MEMBER_BASE + j
        cls, kw = cheaters.get(pid, (Reshare, {}))
        out[pid] = cls(sid, new_index=j, key_info=info, paillier_key=new_keys[j],
                       rng=parent.fork(f"reshare-new-{j}"), **common, **kw)
    return out
