"""The round engine shared by every protocol: a sans-IO state machine.

No sockets, threads, clocks or hidden randomness: a machine is driven by ``start()`` and
``handle(message)``, both of which return the messages to send. The engine

* validates every incoming message against this run (protocol, session id, sender among the
  peers, recipient is us or everyone, round within the protocol, broadcast or point-to-point as
  the round expects) — a message that is not for this run raises ``UsageError`` and changes
  nothing;
* buffers messages of future rounds, ignores exact duplicates, and treats two different messages
  from one sender for the same slot as equivocation (``ProtocolAborted`` naming the sender);
* runs a round only once every expected message has arrived, so nothing of the next round is
  sent before every check of this one has passed;
* keeps the first error for good: after a raise, every call raises that error again. When one
  call completes a round and then fails a later, already buffered round, it returns the
  messages of the round that passed (send them: peers need them to see the fault too) and
  keeps the error in ``error``; the next call raises it.

Outgoing messages go through the same validator (``_check_outgoing``) as incoming ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import DecodeError, InvalidProof, ProtocolAborted, TssError, UsageError
from .message import Message

__all__ = ["RoundMachine", "echo_digests"]


def echo_digests(session_id: bytes, round: int, payloads: dict[int, bytes]) -> bytes:
    """One 32-byte digest per party, in id order, of the ``round`` broadcasts as received: sent
    in the next round so that every party can tell whether all saw the same (reliable
    broadcast, attack A-13)."""
    out = []
    for j in sorted(payloads):
        h = hashlib.sha256(b"tss/echo" + session_id + bytes([round]) + j.to_bytes(2, "big"))
        h.update(payloads[j])
        out.append(h.digest())
    return b"".join(out)


class RoundMachine:
    """Base class. Subclasses set ``PROTOCOL`` and ``ROUNDS`` and implement ``_start`` and
    ``_round_<n>`` for each message round n."""

    PROTOCOL: str = ""
    # class-level defaults so that repr() works even if a subclass failed before __init__ ran
    _error: TssError | None = None
    _done: bool = False
    _round: int = 0
    #: round -> (expects a broadcast from each peer, expects a p2p message from each peer)
    ROUNDS: dict[int, tuple[bool, bool]] = {}

    def __init__(self, index: int, participants: Sequence[int], session_id: bytes) -> None:
        if not isinstance(session_id, (bytes, bytearray)) or not 1 <= len(session_id) <= 64:
            raise UsageError("session_id must be 1..64 bytes (fresh and agreed by all parties)")
        parts = list(participants)
        if index not in parts:
            raise UsageError("this party is not among the participants")
        if len(set(parts)) != len(parts):
            raise UsageError("duplicate participant")
        self.index = index
        self.participants = tuple(sorted(parts))
        self.peers = tuple(p for p in self.participants if p != index)
        self.session_id = bytes(session_id)
        self._round = 0  # 0: not started; n: waiting for round n messages
        self._inbox: dict[tuple[int, int, bool], Message] = {}
        self._error: TssError | None = None
        self._result: Any = None
        self._done = False

    # ---------------------------------------------------------------------- public surface
    @property
    def done(self) -> bool:
        return self._done

    @property
    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        if not self._done:
            raise UsageError("the protocol has not finished")
        return self._result

    @property
    def error(self) -> TssError | None:
        return self._error

    @property
    def round(self) -> int:
        return self._round

    def start(self) -> list[Message]:
        self._raise_if_failed()
        if self._round != 0:
            raise UsageError("start() was already called")
        return self._guard(self._begin)

    def handle(self, message: Message) -> list[Message]:
        self._raise_if_failed()
        if not isinstance(message, Message):
            raise UsageError("handle() takes a tss.Message (use Message.from_bytes for bytes)")
        self._check_incoming(message)
        if not self._wants(message):
            return []  # a broadcast this party's role has no use for (e.g. in resharing)
        key = (message.round, message.sender, message.is_broadcast)
        held = self._inbox.get(key)
        if held is not None:
            if held == message:
                return []  # a duplicate delivery changes nothing
            return self._guard(lambda: self._abort([message.sender], message.round,
                                                   "sent two different messages for one slot"))
        if self._done or message.round < self._round:
            raise UsageError("message for a round that is already finished")
        self._inbox[key] = message
        if self._round == 0:
            return []  # buffered until start()
        return self._guard(self._advance)

    # ---------------------------------------------------------------------- engine
    def _begin(self) -> list[Message]:
        out = self._start()
        self._round = 1
        return self._emit(out) + self._advance()

    def _advance(self) -> list[Message]:
        out: list[Message] = []
        while not self._done and self._round_complete(self._round):
            r = self._round
            bcast = {p: self._inbox[(r, p, True)].payload for p in self.peers
                     if (r, p, True) in self._inbox}
            p2p = {p: self._inbox[(r, p, False)].payload for p in self.peers
                   if (r, p, False) in self._inbox}
            handler: Callable[[dict[int, bytes], dict[int, bytes]], list[Message]]
            handler = getattr(self, f"_round_{r}")
            try:
                produced = handler(bcast, p2p)
            except TssError as exc:
                if not out:
                    raise
                # An earlier round passed in this same call and produced messages: they were
                # made before the fault was seen and the peers need them to see the fault
                # themselves. Return them; the error is kept (``error``) and raised next call.
                self._error = exc
                return out
            if not self._done:
                self._round = r + 1
            out.extend(self._emit(produced))
        return out

    def _expected(self, r: int) -> list[tuple[int, bool]]:
        """The (sender, is_broadcast) slots that must be filled before round r runs."""
        want_b, want_p = self.ROUNDS[r]
        slots = []
        for p in self.peers:
            if want_b:
                slots.append((p, True))
            if want_p:
                slots.append((p, False))
        return slots

    def _wants(self, message: Message) -> bool:
        """Whether this party's role takes ``message`` (all of them, unless overridden)."""
        return True

    def _round_complete(self, r: int) -> bool:
        return all((r, p, b) in self._inbox for p, b in self._expected(r))

    def _guard(self, fn: Callable[[], list[Message]]) -> list[Message]:
        try:
            return fn()
        except ProtocolAborted as exc:
            self._error = exc
            raise
        except TssError as exc:
            self._error = exc
            raise

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _finish(self, result: Any) -> None:
        self._result = result
        self._done = True

    def _abort(self, culprits: Sequence[int], round: int, reason: str):
        raise ProtocolAborted(culprits, f"{self.PROTOCOL}/{round}", reason)

    @contextmanager
    def _blame(self, sender: int, what: str = "") -> Iterator[None]:
        """Turn a peer's undecodable value or failed proof into ProtocolAborted naming it."""
        try:
            yield
        except InvalidProof as exc:
            self._abort([sender], self._round, f"{what + ': ' if what else ''}invalid proof "
                        f"({exc.proof}: {exc.reason})")
        except DecodeError as exc:
            self._abort([sender], self._round, f"{what + ': ' if what else ''}malformed ({exc})")

    def _check_echo(self, j: int, echo: bytes, mine: dict[int, bytes], round: int) -> None:
        """Compare party j's echo of the ``round`` broadcasts with what this party received.
        On a difference one of two parties equivocated: j, or the party whose broadcast differs
        (just j when that party is j or this party)."""
        expected = echo_digests(self.session_id, round, mine)
        if echo == expected:
            return
        order = sorted(mine)
        if len(echo) != len(expected):  # pragma: no cover - callers read a fixed length
            self._abort([j], round + 1, "malformed echo")
        differs = [k for pos, k in enumerate(order)
                   if echo[32 * pos:32 * pos + 32] != expected[32 * pos:32 * pos + 32]]
        # j's own broadcast, or ours, seen differently: j lies (senders are authenticated)
        for k in differs:
            if k in (j, self.index):
                self._abort([j], round + 1, f"echo mismatch: party {j} misreports the "
                                            f"round-{round} broadcast of party {k}")
        k = differs[0]
        self._abort([j, k], round + 1, f"echo mismatch: party {j} saw a different round-{round} "
                                       f"broadcast from party {k} (one of the two equivocated)")

    # ---------------------------------------------------------------------- messages
    def broadcast(self, payload: bytes) -> Message:
        """A broadcast for the round this party is about to send (the current round)."""
        return Message(self.PROTOCOL, self.session_id, self._sending_round(), self.index, None,
                       payload)

    def send(self, to: int, payload: bytes) -> Message:
        return Message(self.PROTOCOL, self.session_id, self._sending_round(), self.index, to,
                       payload)

    def _sending_round(self) -> int:
        # while processing round r (or starting, r = 0) we send messages of round r + 1
        return self._round + 1

    def _emit(self, msgs: list[Message]) -> list[Message]:
        for m in msgs:
            self._check_outgoing(m)
        return msgs

    def _check_message(self, m: Message, *, incoming: bool) -> None:
        if m.protocol != self.PROTOCOL:
            raise UsageError(f"message of protocol {m.protocol!r}, expected {self.PROTOCOL!r}")
        if m.session_id != self.session_id:
            raise UsageError("message of another session")
        if m.round not in self.ROUNDS:
            raise UsageError(f"{self.PROTOCOL} has no round {m.round}")
        want_b, want_p = self.ROUNDS[m.round]
        if m.is_broadcast and not want_b or not m.is_broadcast and not want_p:
            raise UsageError(f"round {m.round} does not take "
                             f"{'broadcast' if m.is_broadcast else 'point-to-point'} messages")
        if incoming:
            if m.sender not in self.peers:
                raise UsageError(f"message from {m.sender}, who is not a peer of this run")
            if m.recipient is not None and m.recipient != self.index:
                raise UsageError("message addressed to another party")
        else:
            if m.sender != self.index:
                raise UsageError("outgoing message with a foreign sender")  # pragma: no cover
            if m.recipient is not None and m.recipient not in self.peers:
                raise UsageError("outgoing message to a non-peer")  # pragma: no cover

    def _check_incoming(self, m: Message) -> None:
        self._check_message(m, incoming=True)

    def _check_outgoing(self, m: Message) -> None:
        self._check_message(m, incoming=False)

    # ---------------------------------------------------------------------- to implement
    def _start(self) -> list[Message]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "failed" if self._error else "done" if self._done else f"round {self._round}"
        return f"{type(self).__name__}(index={self.index}, {state})"
