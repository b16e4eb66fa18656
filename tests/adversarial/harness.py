"""The malicious-party harness of attacks.md section 3.1, for the tests of this folder.

Deliberately not a ``conftest.py``: the test folders have no ``__init__.py``, and a second module
named ``conftest`` would shadow ``tests/conftest.py`` for ``from conftest import paillier_key``
elsewhere. Test modules import this file as ``harness``.

The pieces:

* :func:`malicious` makes a subclass of an honest state machine that overrides exactly one message
  builder (``_start`` or ``_round_<r>``). The replacement receives the honest builder and may call
  it and change its output, or build the messages itself.
* :class:`Run` drives parties (honest machines, malicious subclasses, :class:`SplitView`
  adversaries) through the real wire encoding. ``rewrite={party: fn}`` rewrites a party's
  outgoing messages: ``fn(Message)`` returns a Message, raw ``bytes`` (which may not even
  decode), a :class:`Targeted` message (delivered to some parties only: equivocation), a list of
  these, or None (dropped). The transport is modelled as the node system provides it: the
  sender of a message is the party that emitted it (a message claiming another sender is
  dropped, as ``tss.node.channel`` refuses it) and a point-to-point message reaches only its
  recipient. Every message is recorded (:class:`Record`: sender, round, recipients, bytes).
  After a party raises, its error is stored and delivery to everyone goes on; messages still
  addressed to the failed party are handed to it too, and what it does with them is recorded
  (it must raise the same error again). The number of deliveries is bounded. In synchronous
  (batched) delivery the adversary is rushing: it receives each batch after the honest
  parties, so its round-r messages may depend on the honest round-r messages.
* :func:`assert_clean_abort` checks the universal assertions of attacks.md 3.1.
* :func:`remembered_verification`: each distinct (context, statement, proof) of Πmod and Πprm
  that *passed* is verified once per test session. Verification is a deterministic function of
  its inputs, so this changes no outcome: a changed proof, statement or context is a new input
  and is verified for real. It is what keeps whole-run fuzzing fast.
* Cached material: :func:`keygen` (one seeded keygen per shape for the session),
  :func:`fresh_presignatures` (new, unconsumed objects from cached bytes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import random
import re
from collections.abc import Callable, Iterable
from math import gcd, prod
from typing import Any

import gmpy2
import pytest

from conftest import paillier_key
from tss import Keygen, KeyShare, Message, Presign, Presignature, ProtocolAborted, Sign, TssError
from tss.commitments import commit
from tss.errors import DecodeError
from tss.paillier import PaillierPublicKey
from tss.params import STANDARD
from tss.protocol.keygen import echo_digests
from tss.randomness import SeededRng
from tss.zk import mod, prm
from tss.zk._codec import Reader, Writer

#: the order of secp256k1, written out (not taken from the library under test)
Q_SECP256K1 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


# ================================================================== what an adversary sends
@dataclasses.dataclass(frozen=True)
class Targeted:
    """``message`` delivered only to the parties in ``to`` (a broadcast shown to some parties
    and not to others is equivocation). ``message`` may be raw bytes."""

    message: Message | bytes
    to: frozenset[int]


@dataclasses.dataclass(frozen=True)
class Record:
    """One message as it went on the wire. ``round`` is None for bytes that do not decode."""

    seq: int
    sender: int
    round: int | None
    recipients: tuple[int, ...]
    raw: bytes
    rewritten: bool

    @property
    def message(self) -> Message | None:
        try:
            return Message.from_bytes(self.raw)
        except DecodeError:
            return None

    @property
    def is_broadcast(self) -> bool:
        m = self.message
        return m is not None and m.is_broadcast


# ================================================================== malicious machines
def malicious(base: type, builder: str, replacement: Callable[..., list]) -> type:
    """A subclass of ``base`` whose message builder ``builder`` (``_start`` or ``_round_<r>``)
    is ``replacement(self, honest, *args)``; ``honest`` is the bound honest builder."""
    if builder != "_start" and not re.fullmatch(r"_round_\d+", builder):
        raise ValueError(f"{builder} is not a message builder")
    honest = getattr(base, builder)

    if builder == "_start":
        def method(self):
            return replacement(self, functools.partial(honest, self))
    else:
        def method(self, bcast, p2p):
            return replacement(self, functools.partial(honest, self), bcast, p2p)

    method.__name__ = builder
    return type(f"Malicious{base.__name__}", (base,), {builder: method, "cheats_in": builder})


class SplitView:
    """One party shown differently to different honest parties: each group of parties sees
    only its own persona (a full, internally consistent machine of the same index). Every
    message addressed to the party is handed to every persona; each persona's broadcasts reach
    its group only, and its point-to-point messages only recipients in its group."""

    def __init__(self, personas: dict[Iterable[int], Any]) -> None:
        self.personas = {frozenset(g): m for g, m in personas.items()}
        indices = {m.index for m in self.personas.values()}
        assert len(indices) == 1, "personas of one party share its index"
        self.index = indices.pop()
        self.errors: list[TssError] = []
        self.done = False
        self.error = None

    def start(self) -> list:
        return self._route(lambda m: m.start())

    def handle(self, message: Message) -> list:
        return self._route(lambda m: m.handle(message))

    def _route(self, call) -> list:
        out: list = []
        for group, machine in self.personas.items():
            try:
                produced = call(machine)
            except TssError as exc:
                self.errors.append(exc)
                continue
            for m in produced:
                if m.recipient is None:
                    out.append(Targeted(m, group))
                elif m.recipient in group:
                    out.append(m)
        return out


# ================================================================== state snapshots
def _presig_fields(p: Presignature) -> tuple:
    return (p.session_id, p.index, p.signers, p.R, p.k, p.chi, dict(p.Rbar), dict(p.S),
            p.public_key_point, p.chain_code, p.epoch)


def snapshot(obj: object) -> tuple:
    if isinstance(obj, KeyShare):
        return ("keyshare", obj.to_bytes())
    if isinstance(obj, Presignature):
        return ("presignature", obj.consumed, _presig_fields(obj))
    raise TypeError(f"no snapshot for {type(obj).__name__}")


def check_unchanged(obj: object, before: tuple, *, burns: bool) -> None:
    """The stored input of an honest party after an abort: unchanged, except that a
    presignature handed to a Sign is burnt (consumed) when ``burns``."""
    if before[0] == "keyshare":
        assert obj.to_bytes() == before[1], "the key share changed"
    else:
        assert _presig_fields(obj) == before[2], "the presignature changed"
        if burns:
            assert obj.consumed, "an aborted signing must burn its presignature"
        else:
            assert obj.consumed == before[1], "the presignature's consumed flag changed"


# ================================================================== the runner
class Run:
    """Drive ``parties`` (index -> machine or adversary) to the end; see the module doc."""

    def __init__(self, parties: dict[int, Any], *, rewrite: dict[int, Callable] | None = None,
                 cheaters: Iterable[int] = (), inputs: dict[int, object] | None = None,
                 seed: int | str = 0, batched: bool = True,
                 hold: Callable[[Record], bool] | None = None, duplicate: bool = False,
                 rushing: bool = True, max_deliveries: int = 20_000,
                 remember: bool = True) -> None:
        self.parties = dict(parties)
        self.rewrite = dict(rewrite or {})
        auto = {i for i, p in self.parties.items()
                if isinstance(p, SplitView) or hasattr(type(p), "cheats_in")}
        self.cheaters = frozenset(cheaters) | frozenset(self.rewrite) | frozenset(auto)
        self.honest = tuple(i for i in sorted(self.parties) if i not in self.cheaters)
        self.inputs = dict(inputs or {})
        self.snapshots = {i: snapshot(o) for i, o in self.inputs.items()}
        self.rnd = random.Random(seed)
        self.batched = batched
        self.hold = hold
        self.duplicate = duplicate
        self.rushing = rushing
        self.max_deliveries = max_deliveries
        self.remember = remember
        self.log: list[Record] = []
        self.errors: dict[int, TssError] = {}
        self.error_seq: dict[int, int] = {}
        self.refused: list[tuple[int, Record, TssError]] = []
        self.dropped: list[tuple[Record, str]] = []
        self.after_error: list[tuple[int, Record | None, object]] = []
        self.deliveries = 0
        self._pending: list[Record] = []
        self._held: list[Record] = []

    # ------------------------------------------------------------------ driving
    def go(self) -> Run:
        ctx = remembered_verification() if self.remember else contextlib.nullcontext()
        with ctx:
            # honest parties first: a rushing adversary may look at their first messages
            for i in [*self.honest, *sorted(self.cheaters & set(self.parties))]:
                self._call(i, self.parties[i].start, None)
            while self._pending or self._held:
                if not self._pending:
                    self._pending, self._held = self._held, []
                if self.batched:
                    batch, self._pending = self._pending, []
                    self.rnd.shuffle(batch)
                    if self.rushing:  # the adversary hears a round before it speaks
                        for rec in batch:
                            self._deliver(rec, lambda j: j not in self.cheaters)
                        for rec in batch:
                            self._deliver(rec, lambda j: j in self.cheaters)
                    else:
                        for rec in batch:
                            self._deliver(rec)
                else:
                    self._deliver(self._pending.pop(self.rnd.randrange(len(self._pending))))
        return self

    def _call(self, i: int, fn: Callable[[], list], rec: Record | None) -> None:
        party = self.parties[i]
        failed = i in self.errors
        try:
            out = fn()
        except TssError as exc:
            if failed:
                self.after_error.append((i, rec, exc))
            elif getattr(party, "error", None) is exc:
                self.errors[i] = exc
                self.error_seq[i] = len(self.log)
            else:  # refused without changing the machine: not a message for this run
                self.refused.append((i, rec, exc))
            return
        if failed:
            self.after_error.append((i, rec, out))  # a failed party must not answer
        self._post(i, out)

    def _post(self, sender: int, out: list) -> None:
        items: list = []
        for m in out:
            if sender in self.rewrite:
                new = self.rewrite[sender](m)
                new = [] if new is None else new if isinstance(new, list) else [new]
                items.extend((x, not (isinstance(x, Message) and x == m)) for x in new)
            else:
                items.append((m, False))
        for item, rewritten in items:
            to = None
            if isinstance(item, Targeted):
                item, to = item.message, item.to
            raw = item.to_bytes() if isinstance(item, Message) else bytes(item)
            try:
                msg = Message.from_bytes(raw)
            except DecodeError:
                rec = Record(len(self.log), sender, None, (), raw, rewritten)
                self.log.append(rec)
                self.dropped.append((rec, "undecodable"))
                continue
            if msg.sender != sender:
                rec = Record(len(self.log), sender, msg.round, (), raw, rewritten)
                self.log.append(rec)
                self.dropped.append((rec, "sender is not the authenticated sender"))
                continue
            targets = [msg.recipient] if msg.recipient is not None else sorted(self.parties)
            targets = [t for t in targets if t != sender and t in self.parties
                       and (to is None or t in to)]
            rec = Record(len(self.log), sender, msg.round, tuple(targets), raw, rewritten)
            self.log.append(rec)
            if not targets:
                self.dropped.append((rec, "no such recipient"))
                continue
            queue = self._held if self.hold is not None and self.hold(rec) else self._pending
            queue.append(rec)
            if self.duplicate:
                queue.append(rec)

    def _deliver(self, rec: Record, which: Callable[[int], bool] | None = None) -> None:
        msg = Message.from_bytes(rec.raw)
        for j in rec.recipients:
            if which is not None and not which(j):
                continue
            self.deliveries += 1
            if self.deliveries > self.max_deliveries:
                raise AssertionError("delivery bound exceeded: the run does not terminate")
            self._call(j, functools.partial(self.parties[j].handle, msg), rec)

    # ------------------------------------------------------------------ outcome
    def done(self, i: int) -> bool:
        return bool(getattr(self.parties[i], "done", False))

    @property
    def results(self) -> dict[int, Any]:
        return {i: self.parties[i].result for i in self.parties if self.done(i)}

    def sent_by(self, i: int) -> list[Record]:
        return [r for r in self.log if r.sender == i]

    def messages(self, sender: int, round: int, *, broadcast: bool | None = None
                 ) -> list[Record]:
        return [r for r in self.log if r.sender == sender and r.round == round
                and (broadcast is None or r.is_broadcast == broadcast)]


def go(parties: dict[int, Any], **kw) -> Run:
    return Run(parties, **kw).go()


# ================================================================== the universal assertions
def _round_number(where: int | str) -> int:
    return int(str(where).rsplit("/", 1)[-1])


def assert_clean_abort(run: Run, culprits: Iterable[int] | None = None, *,
                       round: str | None = None, reason: str | None = None,
                       witnesses: Iterable[int] | None = None,
                       suspects: Iterable[int] = (), burns: bool = False) -> None:
    """attacks.md 3.1 for every honest party in ``witnesses`` (default: all honest parties):

    1. it raised ProtocolAborted whose culprits are exactly ``culprits`` (default: the run's
       cheaters) — or, with ``suspects``, contain them and at most the suspects besides (an
       echo mismatch shows that one of two parties lied, not which) — with ``round`` and a
       reason matching the regular expression ``reason`` when given;
    2. nothing it sent was emitted after its error, and nothing of a later round than the one
       named in the error: no secret-dependent answer to the cheater's message left it;
    3. its stored input (``Run(inputs=...)``) is unchanged — a presignature is burnt when
       ``burns`` — and the machine has no result;
    4. the abort is terminal: start(), handle() and result raise the same error object, and
       every message delivered after the error was answered with it.

    Honest parties outside ``witnesses`` must not have finished either.
    """
    culprits = run.cheaters if culprits is None else frozenset(culprits)
    suspects = frozenset(suspects)
    witnesses = run.honest if witnesses is None else tuple(witnesses)
    assert witnesses, "no honest party to check"
    for h in witnesses:
        party = run.parties[h]
        err = run.errors.get(h)
        assert isinstance(err, ProtocolAborted), (
            f"honest party {h} did not abort: error={err!r}, done={run.done(h)}")
        if suspects:
            assert culprits <= err.culprits <= culprits | suspects, f"party {h}: {err}"
        else:
            assert err.culprits == culprits, f"party {h} blamed {set(err.culprits)}: {err}"
        if round is not None:
            assert err.round == round, f"party {h}: {err}"
        if reason is not None:
            assert re.search(reason, err.reason), f"party {h}: {err.reason!r} !~ {reason!r}"
        # 2. nothing after detection
        mine = run.sent_by(h)
        late = [r for r in mine if r.seq >= run.error_seq[h]]
        assert not late, f"party {h} sent {late} after its abort"
        last = _round_number(err.round)
        assert all(r.round is not None and r.round <= last for r in mine), (
            f"party {h} sent a message of a round after {err.round}")
        # 3. state
        assert not run.done(h)
        with pytest.raises(ProtocolAborted) as info:
            _ = party.result
        assert info.value is err
        if h in run.inputs:
            check_unchanged(run.inputs[h], run.snapshots[h], burns=burns)
        # 4. terminal
        for j, _rec, outcome in run.after_error:
            if j == h:
                assert outcome is err, f"party {h} answered {outcome!r} after its abort"
        with pytest.raises(ProtocolAborted) as info:
            party.start()
        assert info.value is err
        for rec in run.log:
            if h in rec.recipients:
                with pytest.raises(ProtocolAborted) as info:
                    party.handle(rec.message)
                assert info.value is err
                break
    for h in run.honest:
        if h not in witnesses:
            assert not run.done(h), f"honest party {h} finished while others aborted"


def assert_no_honest_blamed(run: Run) -> None:
    """Whatever happened, no honest party named an honest party."""
    honest = set(run.honest)
    for h in run.honest:
        err = run.errors.get(h)
        if isinstance(err, ProtocolAborted):
            assert not err.culprits & honest, f"party {h} blamed honest {set(err.culprits)}: {err}"


# ================================================================== verification cache
_PASSED: set = set()


@contextlib.contextmanager
def remembered_verification():
    """Within the block, a (context, statement, proof) of Πmod or Πprm that passed before in this
    test session is not verified again. Anything else is verified for real, every time."""
    originals = {module: module.verify for module in (mod, prm)}
    if any(getattr(v, "_remembering", False) for v in originals.values()):
        yield  # already inside such a block
        return

    def remembering(module, verify):
        def wrapper(ctx, stmt, proof):
            key = (module.__name__, ctx, stmt, proof)
            try:
                hash(key)
            except TypeError:
                return verify(ctx, stmt, proof)
            if key not in _PASSED:
                verify(ctx, stmt, proof)
                _PASSED.add(key)
            return None

        wrapper._remembering = True
        return wrapper

    try:
        for module, verify in originals.items():
            module.verify = remembering(module, verify)
        yield
    finally:
        for module, verify in originals.items():
            module.verify = verify


# ================================================================== cached protocol material
def paillier_keys(n: int, level=STANDARD) -> list:
    """The cached Paillier keys 0..n-1 of tests/conftest.py (n <= 4; distinct moduli)."""
    assert n <= 4, "tests/conftest.py caches four keys per level"
    return [paillier_key(level, i) for i in range(n)]


def keygen_machines(t: int, n: int, sid: bytes, *, level=STANDARD,
                    classes: dict[int, type] | None = None, seed: str | None = None) -> dict:
    keys = paillier_keys(n, level)
    classes = classes or {}
    seed = seed or sid.hex()
    return {i: classes.get(i, Keygen)(i, t, n, sid, level=level, paillier_key=keys[i],
                                      rng=SeededRng(f"{seed}/keygen/{i}"))
            for i in range(n)}


KEYGEN_SID = "tests/adversarial keygen {t}-of-{n} {level}"


@functools.cache
def keygen_run(t: int, n: int, level=STANDARD) -> Run:
    """One seeded, honest t-of-n keygen (session id ``KEYGEN_SID``), once per test session."""
    sid = KEYGEN_SID.format(t=t, n=n, level=level.name).encode()
    run = go(keygen_machines(t, n, sid, level=level))
    assert not run.errors, run.errors
    return run


def keygen(t: int, n: int, level=STANDARD) -> tuple[KeyShare, ...]:
    """The shares of :func:`keygen_run`."""
    run = keygen_run(t, n, level)
    return tuple(run.results[i] for i in range(n))


def presign_machines(shares, signers, sid: bytes, *, classes: dict[int, type] | None = None,
                     seed: str | None = None) -> dict:
    classes = classes or {}
    seed = seed or sid.hex()
    return {j: classes.get(j, Presign)(shares[j], list(signers), sid,
                                       rng=SeededRng(f"{seed}/presign/{j}"))
            for j in signers}


@functools.cache
def _presignature_bytes(t: int, n: int, signers: tuple[int, ...], tag: str) -> dict[int, bytes]:
    shares = keygen(t, n)
    run = go(presign_machines(shares, signers, f"tests/adversarial presign {tag}".encode()))
    assert not run.errors, run.errors
    return {j: p.to_bytes() for j, p in run.results.items()}


def fresh_presignatures(t: int, n: int, signers: tuple[int, ...], tag: str = "default"
                        ) -> dict[int, Presignature]:
    """New, unconsumed Presignature objects of one cached presigning (same R each call)."""
    return {j: Presignature.from_bytes(b)
            for j, b in _presignature_bytes(t, n, tuple(signers), tag).items()}


def sign_machines(presigs: dict[int, Presignature], message_hash: bytes, *,
                  classes: dict[int, type] | None = None) -> dict:
    classes = classes or {}
    return {j: classes.get(j, Sign)(p, message_hash) for j, p in presigs.items()}


# ================================================================== wire layouts
# (each as the library writes it; a harness self-test checks that a rebuilt message is
# accepted exactly as the original)
def keygen_r2_fields(payload: bytes, n: int, t: int) -> dict:
    """Split a keygen/refresh round-2 broadcast into its fields."""
    r = Reader(payload)
    f = {"echo": r.raw(32 * n), "A": r.points(t, allow_identity=True), "chain": r.raw(32),
         "rho": r.raw(32), "N": r.int(), "s": r.int(), "t": r.int(), "constant": r.blob(),
         "mod": r.blob(), "prm": r.blob()}
    r.end()
    return f


def keygen_r2_payload(f: dict) -> bytes:
    w = Writer().raw(f["echo"]).points(list(f["A"])).raw(f["chain"]).raw(f["rho"])
    w.int(f["N"]).int(f["s"]).int(f["t"])
    return w.blob(f["constant"]).blob(f["mod"]).blob(f["prm"]).getvalue()


def presign_r2_fields(payload: bytes, peers_of_sender: list[int]) -> dict:
    """Split a presign round-2 broadcast: the echo of round 1, Gamma and the MtA answers
    (D, F, D^, F^) per peer."""
    r = Reader(payload)
    echo = r.raw(32 * (len(peers_of_sender) + 1))
    Gamma = r.point()
    answers = {j: [r.int(), r.int(), r.int(), r.int()] for j in peers_of_sender}
    r.end()
    return {"echo": echo, "Gamma": Gamma, "answers": answers}


def presign_r3_fields(payload: bytes, signers: int) -> dict:
    """Split a presign round-3 broadcast: the echo of round 2, delta and Delta."""
    r = Reader(payload)
    f = {"echo": r.raw(32 * signers), "delta": r.int(), "Delta": r.point()}
    r.end()
    return f


def presign_r3_payload(f: dict) -> bytes:
    return Writer().raw(f["echo"]).int(f["delta"]).point(f["Delta"]).getvalue()


def presign_r2_payload(f: dict) -> bytes:
    w = Writer().raw(f["echo"]).point(f["Gamma"])
    for j in sorted(f["answers"]):
        for c in f["answers"][j]:
            w.int(c)
    return w.getvalue()


def blobs(payload: bytes, count: int) -> list[bytes]:
    r = Reader(payload)
    out = [r.blob() for _ in range(count)]
    r.end()
    return out


def join_blobs(parts: list[bytes]) -> bytes:
    w = Writer()
    for p in parts:
        w.blob(p)
    return w.getvalue()


def with_payload(msg: Message, payload: bytes) -> Message:
    return dataclasses.replace(msg, payload=payload)


# ================================================================== attacker-made moduli
class AttackerKey:
    """A modulus its maker fully factored (any shape: small factors, squares, three primes).

    Duck-types what honest code needs of a Paillier secret key to derive ring-Pedersen
    parameters (``n``, ``phi``, ``powmod_n``) — so the attacker's (s, t) and Πprm are as good as
    an honest party's — and ``p``, ``q`` (the first prime power and the rest of N).
    """

    def __init__(self, factors: list[tuple[int, int]]) -> None:
        self.factors = list(factors)
        self.n = prod(p ** k for p, k in factors)
        self.phi = prod(p ** (k - 1) * (p - 1) for p, k in factors)
        self.public = PaillierPublicKey(self.n)
        p0, k0 = factors[0]
        self.p = p0 ** k0
        self.q = self.n // self.p

    def powmod_n(self, b: int, e: int) -> int:
        return pow(b, e, self.n)

    def powmod_n2(self, b: int, e: int) -> int:
        return pow(b, e, self.n * self.n)

    def __repr__(self) -> str:
        return f"AttackerKey({self.n.bit_length()} bits, {len(self.factors)} prime factors)"


def prime_with(bits: int, rng: SeededRng, *, mod4: int = 3) -> int:
    """A random prime of exactly ``bits`` bits that is ``mod4`` modulo 4."""
    while True:
        p = int(gmpy2.next_prime(rng.bits(bits) | (3 << (bits - 2))))
        if p % 4 == mod4 and p.bit_length() == bits:
            return p


def completing_prime(cofactor: int, bits: int = 2048, *, mod4: int = 3) -> int:
    """The least prime r = mod4 (mod 4) with cofactor * r of exactly ``bits`` bits and (for an
    odd cofactor) gcd(cofactor, r - 1) = 1."""
    r = int(gmpy2.next_prime((1 << (bits - 1)) // cofactor + 1))
    while r % 4 != mod4 or (cofactor % 2 and gcd(cofactor, r - 1) != 1):
        r = int(gmpy2.next_prime(r))
    assert (cofactor * r).bit_length() == bits
    return r


def _crt(residues: list[tuple[int, int]]) -> int:
    x, m = 0, 1
    for r, mi in residues:
        x += m * ((r - x) * pow(m, -1, mi) % mi)
        m *= mi
    return x % m


def forge_mod(ctx, key: AttackerKey, rng: SeededRng) -> mod.Proof:
    """The best Πmod a prover who knows the whole factorization can make for a modulus that is
    not Paillier-Blum: an N-th root modulo every prime power where one exists (all of them when
    gcd(N, phi(N)) = 1) and, of the four candidates (-1)^a w^b y, the one that is a square
    modulo the most prime factors, with its fourth root where one exists."""
    n = key.n
    if n % 2 == 0:  # no Jacobi symbol: send a proof of the right shape
        return mod.Proof(3, (1,) * 128, (0,) * 128, (0,) * 128, (1,) * 128)
    while True:
        w = rng.below(n)
        if w > 1 and gmpy2.jacobi(w, n) == -1:
            break
    ys = mod._challenges(ctx, n, w)  # the honest verifier's challenges for (N, w)
    xs, a_s, b_s, zs = [], [], [], []
    for y in ys:
        cands = [(a, b, (n - y if a else y) * (w if b else 1) % n) for a in (0, 1)
                 for b in (0, 1)]
        a, b, yy = max(cands, key=lambda c: sum(gmpy2.legendre(c[2] % p, p) == 1
                                                 for p, _ in key.factors))
        xr, zr = [], []
        for p, k in key.factors:
            pk, phi = p ** k, p ** (k - 1) * (p - 1)
            try:
                xr.append((int(gmpy2.powmod(yy, pow(4, -1, phi // 2), pk)), pk))
            except ValueError:  # p = 1 mod 4: no such exponent
                xr.append((yy % pk, pk))
            if gcd(n, phi) == 1:
                zr.append((int(gmpy2.powmod(y, pow(n, -1, phi), pk)), pk))
            else:
                zr.append((y % pk, pk))
        xs.append(_crt(xr) or 1)
        zs.append(_crt(zr) or 1)
        a_s.append(a)
        b_s.append(b)
    return mod.Proof(w, tuple(xs), tuple(a_s), tuple(b_s), tuple(zs))


def prove_prm_plain(ctx, secret, rng) -> prm.Proof:
    """Πprm exactly as ``prm.prove`` makes it (same randomness, same bytes), with plain
    modular exponentiation, so that it works for any modulus (even an even one)."""
    params, lam, phi = secret.params, secret.lam, secret.phi
    a = [rng.below(phi) for _ in range(ctx.level.iterations)]
    A = [int(gmpy2.powmod(params.t, ai, params.n)) for ai in a]
    e = prm._challenge(ctx, params, A)
    return prm.Proof(tuple(A), tuple((ai + ei * lam) % phi for ai, ei in zip(a, e)))


def aux_start(tweak: Callable[[Any], None]) -> Callable:
    """A replacement for the ``_start`` builder of Keygen/Refresh (round 1: the commitment)
    that lets ``tweak(machine)`` change what is committed to — ``_A`` (the Feldman
    commitments), ``_my_shares``, ``_chain``, ``_rp`` (the ring-Pedersen parameters, a
    RingPedersenSecret) — after the honest choices and before the commitment."""

    def replacement(self, honest):
        honest()  # the honest choices (and an honest commitment, replaced below)
        tweak(self)
        rp = self._rp.params
        self._V, self._rho = commit(self.PROTOCOL, self._context_id(), self.index,
                                    [list(self._A), self._chain, rp.n, rp.s, rp.t], self._rng)
        payload = Writer().raw(self._V).getvalue()
        self._r1_payloads[self.index] = payload
        return [self.broadcast(payload)]

    return replacement


def aux_round_2(mod_proof: Callable[[Any, Any], bytes] | None = None,
                prm_proof: Callable[[Any, Any], bytes] | None = None) -> Callable:
    """A replacement for the ``_round_1`` builder of Keygen/Refresh (it makes the round-2
    messages: the opening, Πsch, Πmod, Πprm and the Feldman shares) that writes the message
    itself, with ``mod_proof(machine, ctx)`` / ``prm_proof(machine, ctx)`` in place of the
    honest proofs (each returns the proof's bytes). The honest prover code is used for Πprm
    when no replacement is given (it works for any modulus whose factorization is known)."""

    def replacement(self, honest, bcast, p2p):
        for j, payload in bcast.items():
            assert len(payload) == 32
            self._commitments[j] = payload
            self._r1_payloads[j] = payload
        ctx = self._ctx(self.index, 2)
        rp = self._rp.params
        # in the honest order, so that the same seed gives the same bytes
        constant_blob = self._prove_constant(ctx)
        if mod_proof is not None:
            mod_blob = mod_proof(self, ctx)
        else:
            mod_blob = mod.prove(ctx, mod.Statement(rp.n), mod.Witness(self._sk),
                                 self._rng).to_bytes()
        if prm_proof is not None:
            prm_blob = prm_proof(self, ctx)
        else:
            prm_blob = prove_prm_plain(ctx, self._rp, self._rng).to_bytes()
        payload = keygen_r2_payload({
            "echo": echo_digests(self.session_id, 1, self._r1_payloads), "A": list(self._A),
            "chain": self._chain, "rho": self._rho, "N": rp.n, "s": rp.s, "t": rp.t,
            "constant": constant_blob, "mod": mod_blob, "prm": prm_blob})
        self._r2_payloads[self.index] = payload
        out = [self.broadcast(payload)]
        for j in self.peers:
            out.append(self.send(j, self._my_shares[j].to_bytes(32, "big")))
        return out

    return replacement


def flip(data: bytes, pos: int | None = None, mask: int = 0x01) -> bytes:
    pos = len(data) // 2 if pos is None else pos
    out = bytearray(data)
    out[pos] ^= mask
    return bytes(out)


# ================================================================== the moduli of attacks.md T-1
@functools.cache
def bitforge_factors() -> tuple[tuple[int, int], ...]:
    """CVE-2023-33241 ("6ix1een"): sixteen distinct primes just above 2^16 (all 3 mod 4) and
    one large prime completing N to exactly 2048 bits, with gcd(N, phi(N)) = 1 so that N-th
    roots exist: the strongest form of the modulus for a cheating Πmod prover."""
    small: list[int] = []
    p = 1 << 16
    while len(small) < 16:
        p = int(gmpy2.next_prime(p))
        if p % 4 == 3:
            small.append(p)
    big = completing_prime(prod(small))
    return tuple((q, 1) for q in [*small, big])


@functools.cache
def bad_modulus(kind: str) -> tuple[tuple[int, int], ...]:
    """The factorization of one malformed modulus of the T-1 table (seeded, cached)."""
    rng = SeededRng(f"tests/adversarial bad modulus {kind}")
    if kind == "16 small primes":
        return bitforge_factors()
    if kind == "p^2 q":
        p = prime_with(683, rng)
        return ((p, 2), (completing_prime(p * p), 1))
    if kind == "p q r":
        p, q = prime_with(683, rng), prime_with(683, rng)
        return ((p, 1), (q, 1), (completing_prime(p * q), 1))
    if kind == "p = 1 mod 4":
        p = prime_with(1024, rng, mod4=1)
        return ((p, 1), (completing_prime(p), 1))
    if kind == "prime":
        return ((prime_with(2048, rng), 1),)
    if kind == "even":
        return ((2, 1), (completing_prime(2), 1))
    if kind == "2046 bits":
        p = prime_with(1023, rng)
        return ((p, 1), (completing_prime(p, 2046), 1))
    if kind == "unbalanced":  # a 256-bit factor: a Blum integer, so only Πfac can refuse it
        p = prime_with(256, rng)
        return ((p, 1), (completing_prime(p), 1))
    raise ValueError(kind)
