"""Shared, cached helpers for the protocol tests of this folder (imported by its test modules).

Deliberately *not* a ``conftest.py``: this folder has no ``__init__.py``, so a second
``conftest.py`` would replace the module ``conftest`` in ``sys.modules`` for every test module
collected after it, and ``from conftest import paillier_key`` in ``tests/zk`` would then import
this folder's file instead of ``tests/conftest.py``.

What lives here:

* ``paillier_keys(n, level)``: the 4 cached keys of ``tests/conftest.py`` plus, for n > 4, keys
  generated once per session from fixed seeds (a keygen refuses a reused Paillier modulus);
* ``keygen(t, n, level)``: a session-cached, seeded simulated key generation (KeyShare is
  immutable, so tests may share the tuples; presignatures are mutable and are never cached);
* ``shared_verification()``: see its docstring — how the cached keygens stay fast;
* ``Net``: a message network for hand-driven machines (random order, duplicates, late delivery,
  tampering, per-party errors), everything passing through ``to_bytes``/``from_bytes``;
* ``check_signature``: verification of a signature by two independent libraries.
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
from tss import Message, Presign, Sign, TssError
from tss.paillier import generate_keypair
from tss.params import STANDARD
from tss.randomness import SeededRng
from tss.simulation import simulate_keygen
from tss.zk import mod, prm

try:
    from conftest import paillier_key  # tests/conftest.py, as the other test folders do
except ImportError:  # another folder's conftest.py took the name: load ours by path
    import importlib.util
    from pathlib import Path

    _spec = importlib.util.spec_from_file_location(
        "tests_root_conftest", Path(__file__).resolve().parent.parent / "conftest.py")
    _root = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_root)
    paillier_key = _root.paillier_key

#: the order of secp256k1, written out (not taken from the library under test)
N_SECP256K1 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
CACHED_PAILLIER_KEYS = 4  # tests/conftest.py has 4 keys per level


@functools.cache
def _extra_paillier_key(level, i):
    return generate_keypair(level, SeededRng(f"tests/protocol/paillier/{level.name}/{i}"))


def paillier_keys(n, level=STANDARD):
    """n distinct Paillier keys of ``level``: the cached ones first, then seeded extra ones."""
    return [paillier_key(level, i) if i < CACHED_PAILLIER_KEYS else _extra_paillier_key(level, i)
            for i in range(n)]


@contextlib.contextmanager
def shared_verification():
    """Inside this block each distinct (context, statement, proof) of Πmod and Πprm is verified
    once, however many parties verify it.

    In a keygen of n parties every Πmod and Πprm proof is broadcast and verified by all n - 1
    peers on exactly the same inputs; those n(n - 1) verifications are most of a keygen's time
    (a 5-party keygen drops from ~18 s to ~4 s). Verification is a deterministic function of
    (context, statement, proof), so remembering the inputs that *passed* cannot change any
    outcome: every other input, and every input that fails, is verified for real, every time.
    Only the two module attributes are swapped, and only for the block.
    """
    originals = {module: module.verify for module in (mod, prm)}
    passed = set()

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


@functools.cache
def keygen(t, n, level=STANDARD):
    """The shares of a seeded t-of-n simulated keygen (cached for the session)."""
    with shared_verification():
        shares = simulate_keygen(
            t, n, level=level, paillier_keys=paillier_keys(n, level),
            session_id=f"tests/protocol keygen {t}-of-{n} {level.name}".encode(),
            rng=SeededRng(f"tests/protocol/keygen/{t}/{n}/{level.name}"))
    return tuple(shares)


def digest(message):
    if isinstance(message, str):
        message = message.encode()
    return hashlib.sha256(message).digest()


def check_signature(sig, public_key, message):
    """``sig`` (a tss.Signature over sha256(message)) verifies under ``public_key`` (33 bytes)
    with `cryptography` and with coincurve, recovers ``public_key``, and has a low s."""
    if isinstance(message, str):
        message = message.encode()
    h = hashlib.sha256(message).digest()
    assert isinstance(sig, tss.Signature)
    assert 0 < sig.r < N_SECP256K1
    assert 0 < sig.s <= N_SECP256K1 // 2, "s is not low"
    assert sig.recovery_id in (0, 1, 2, 3)
    der = sig.to_der()
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), public_key)
    key.verify(der, h, ec.ECDSA(Prehashed(hashes.SHA256())))  # raises InvalidSignature
    key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    assert coincurve.PublicKey(public_key).verify(der, h, hasher=None)
    recovered = coincurve.PublicKey.from_signature_and_message(
        sig.to_bytes() + bytes([sig.recovery_id]), h, hasher=None)
    assert recovered.format(compressed=True) == public_key
    assert sig.to_recoverable() == sig.to_bytes() + bytes([sig.recovery_id])
    assert tss.Signature.from_bytes(sig.to_recoverable()) == sig
    assert sig.verify(public_key, h)


class Net:
    """Delivers the messages of ``machines`` (index -> RoundMachine), as bytes, one at a time.

    * ``seed``: pending messages are delivered in a random order (one message, any round, at a
      time), reproducibly;
    * ``tamper(message) -> Message``: applied once to every outgoing message;
    * ``hold(message) -> bool``: such messages wait until nothing else is pending;
    * ``duplicate``: every message is delivered twice;
    * ``batched``: deliver in synchronous rounds instead: everything pending (shuffled), and only
      then what that produced — no party then sees a later round's message before its own
      round is complete (like ``tss.simulation.run``).

    A machine that fails (raises, or returns its last messages and keeps an error) has its error
    in ``errors`` and receives nothing more; the others go on. ``early`` counts deliveries of a
    message for a later round than the recipient's.
    """

    def __init__(self, machines, *, seed=0, tamper=None, hold=None, duplicate=False,
                 batched=False):
        self.machines = machines
        self.batched = batched
        self.rnd = random.Random(seed)
        self.tamper = tamper
        self.hold = hold
        self.duplicate = duplicate
        self.pending = []
        self.held = []
        self.delivered = []  # (recipient, raw bytes)
        self.errors = {}
        self.early = 0

    def post(self, messages):
        for m in messages:
            if self.tamper is not None:
                m = self.tamper(m)
            raw = m.to_bytes()
            target = self.held if self.hold is not None and self.hold(m) else self.pending
            target.append(raw)
            if self.duplicate:
                target.append(raw)

    def start(self):
        for machine in self.machines.values():
            self.post(machine.start())
        return self

    def targets(self, msg):
        if msg.recipient is not None:
            return [msg.recipient]
        return [j for j in self.machines if j != msg.sender]

    def deliver(self, raw):
        msg = Message.from_bytes(raw)
        assert msg.to_bytes() == raw
        for j in self.targets(msg):
            if j in self.errors or j not in self.machines:
                continue
            machine = self.machines[j]
            if msg.round > machine.round:
                self.early += 1
            self.delivered.append((j, raw))
            try:
                self.post(machine.handle(msg))
            except TssError as exc:
                self.errors[j] = exc
            else:
                # a call may return the messages of a round that passed and keep the error of
                # a later, buffered round for the next call: it has failed all the same
                if machine.error is not None:
                    self.errors[j] = machine.error

    def run(self):
        while self.pending or self.held:
            if not self.pending:
                self.pending, self.held = self.held, []
            if self.batched:
                batch, self.pending = self.pending, []
                self.rnd.shuffle(batch)
                for raw in batch:
                    self.deliver(raw)
            else:
                self.deliver(self.pending.pop(self.rnd.randrange(len(self.pending))))
        return self

    def results(self):
        """index -> result; every machine must have finished."""
        assert not self.errors, self.errors
        unfinished = [i for i, m in self.machines.items() if not m.done]
        assert not unfinished, f"parties {unfinished} did not finish"
        return {i: m.result for i, m in self.machines.items()}


def drive(machines, **kw):
    """Start ``machines`` and deliver everything (see Net); return the Net."""
    return Net(machines, **kw).start().run()


def presign_machines(shares, session_id, seed="presign"):
    signers = [s.index for s in shares]
    rng = SeededRng(seed)
    return {s.index: Presign(s, signers, session_id, rng=rng.fork(f"party-{s.index}"))
            for s in shares}


def sign_machines(presigs, message_hash, derivation_path=None):
    return {p.index: Sign(p, message_hash, derivation_path=derivation_path) for p in presigs}
