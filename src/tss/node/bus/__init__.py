"""The message bus behind one interface, with three backends.

* ``memory://``            asyncio, one process (tests, the all-in-one server when asked);
* ``sqlite:///path.db``    a WAL table of messages plus a key-value table: durable, shared by
  several processes on one host (the embedded default);
* ``nats://host:port``     NATS JetStream through ``nats-py``: more than one machine.

The interface is small (reference/node-systems.md §4.3):

* ``publish(subject, data, msg_id=None) -> seq``: append to the stream. A ``msg_id`` that was
  already published is not stored twice; the first message's sequence number is returned.
* ``fetch(filter, after=0, limit=100, timeout=0) -> [BusMessage]``: the messages with sequence
  numbers above ``after`` whose subject matches ``filter`` (NATS syntax: ``*`` one token, ``>``
  the rest), oldest first; waits up to ``timeout`` seconds for the first one.
* ``subscribe(filter, durable=None, deliver_new=False)``: an async iterator built on ``fetch``;
  ``ack(msg)`` stores a durable consumer's position in the key-value table, so a restarted
  process resumes after the last acknowledged message (at-least-once delivery).
* ``kv_get / kv_put / kv_create / kv_update``: a key-value table with revisions; ``kv_create``
  succeeds once per key and ``kv_update`` is compare-and-set on the revision.

Subjects are dot-separated tokens of ``[A-Za-z0-9_-]``. The bus never sees plaintext protocol
messages: parties seal them before publishing (see ``tss.node.envelope``).
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["Bus", "BusMessage", "KvEntry", "Subscription", "BusError", "open_bus",
           "subject_matches", "check_subject", "check_filter"]

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_KEY = re.compile(r"^[A-Za-z0-9_=/-][A-Za-z0-9_=/.-]{0,254}$")
MAX_DATA = 8 << 20


class BusError(Exception):
    """A bus operation failed or was given a bad subject, filter or key."""


@dataclass(frozen=True, slots=True)
class BusMessage:
    seq: int
    subject: str
    data: bytes
    msg_id: str | None = None
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class KvEntry:
    key: str
    value: bytes
    revision: int


def check_subject(subject: str) -> str:
    if not isinstance(subject, str) or len(subject) > 512:
        raise BusError("bad subject")
    parts = subject.split(".")
    if not all(_TOKEN.match(p) for p in parts):
        raise BusError(f"bad subject {subject!r}")
    return subject


def check_filter(filt: str) -> str:
    if not isinstance(filt, str) or len(filt) > 512:
        raise BusError("bad filter")
    parts = filt.split(".")
    for i, p in enumerate(parts):
        if p == ">" and i == len(parts) - 1:
            continue
        if p == "*" or _TOKEN.match(p):
            continue
        raise BusError(f"bad filter {filt!r}")
    return filt


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key) or ".." in key or key.endswith("."):
        raise BusError(f"bad key {key!r}")
    return key


def subject_matches(filt: str, subject: str) -> bool:
    """NATS matching: ``*`` is one token, a final ``>`` one or more tokens."""
    fp = filt.split(".")
    sp = subject.split(".")
    for i, f in enumerate(fp):
        if f == ">":
            return len(sp) > i
        if i >= len(sp):
            return False
        if f != "*" and f != sp[i]:
            return False
    return len(sp) == len(fp)


class _Waiters:
    """Wake local fetchers when this process publishes (any event loop, any thread)."""

    def __init__(self) -> None:
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []

    async def wait(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        entry = (loop, fut)
        self._waiters.append(entry)
        try:
            # asyncio.wait, not wait_for: on Python 3.11 wait_for drops a cancellation that
            # arrives as the future completes, and a cancelled poller would then run on
            await asyncio.wait({fut}, timeout=timeout)
        finally:
            try:
                self._waiters.remove(entry)
            except ValueError:
                pass

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            def _set(f: asyncio.Future = fut) -> None:
                if not f.done():
                    f.set_result(None)
            try:
                loop.call_soon_threadsafe(_set)
            except RuntimeError:  # loop closed
                pass


class Bus(ABC):
    """See the module docstring."""

    url: str = ""

    @abstractmethod
    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> int:
        ...

    @abstractmethod
    async def fetch(self, filt: str, *, after: int = 0, limit: int = 100,
                    timeout: float = 0.0) -> list[BusMessage]:
        ...

    @abstractmethod
    async def last_seq(self) -> int:
        """The sequence number of the newest message (0 when empty)."""

    @abstractmethod
    async def kv_get(self, key: str) -> KvEntry | None:
        ...

    @abstractmethod
    async def kv_put(self, key: str, value: bytes) -> int:
        ...

    @abstractmethod
    async def kv_create(self, key: str, value: bytes) -> int | None:
        """Create ``key``; None if it exists already."""

    @abstractmethod
    async def kv_update(self, key: str, value: bytes, revision: int) -> int | None:
        """Replace ``key`` if its revision is still ``revision``; None otherwise."""

    @abstractmethod
    async def kv_delete(self, key: str) -> None:
        ...

    async def close(self) -> None:
        return None

    def subscribe(self, filt: str, *, durable: str | None = None,
                  deliver_new: bool = False, batch: int = 64) -> Subscription:
        check_filter(filt)
        if durable is not None:
            check_key("cursor." + durable)
        return Subscription(self, filt, durable=durable, deliver_new=deliver_new, batch=batch)

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Subscription:
    """Messages matching a filter, in order. With ``durable``, the position survives restarts:
    it is the last message passed to ``ack``."""

    def __init__(self, bus: Bus, filt: str, *, durable: str | None, deliver_new: bool,
                 batch: int) -> None:
        self.bus = bus
        self.filter = filt
        self.durable = durable
        self.deliver_new = deliver_new
        self.batch = batch
        self._cursor: int | None = None
        self._buffer: list[BusMessage] = []
        self._closed = False

    async def _init_cursor(self) -> None:
        if self._cursor is not None:
            return
        if self.durable is not None:
            entry = await self.bus.kv_get("cursor." + self.durable)
            if entry is not None:
                self._cursor = int(entry.value.decode())
                return
        self._cursor = await self.bus.last_seq() if self.deliver_new else 0

    def __await__(self):  # type: ignore[no-untyped-def]
        """``sub = await bus.subscribe(...)`` fixes the starting position now (for
        ``deliver_new``: only messages published after this point)."""
        async def ready() -> Subscription:
            await self._init_cursor()
            return self
        return ready().__await__()

    @property
    def position(self) -> int:
        return self._cursor or 0

    async def next(self, timeout: float | None = None) -> BusMessage | None:
        """The next message, or None after ``timeout`` seconds (None: wait for ever)."""
        await self._init_cursor()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._buffer:
            if self._closed:
                return None
            remaining = 5.0 if deadline is None else max(0.0, deadline - time.monotonic())
            got = await self.bus.fetch(self.filter, after=self._cursor or 0, limit=self.batch,
                                       timeout=min(remaining, 5.0))
            if got:
                self._buffer.extend(got)
                self._cursor = got[-1].seq
                break
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return self._buffer.pop(0)

    async def ack(self, msg: BusMessage) -> None:
        if self.durable is not None:
            await self.bus.kv_put("cursor." + self.durable, str(msg.seq).encode())

    def close(self) -> None:
        self._closed = True

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        return self

    async def __anext__(self) -> BusMessage:
        msg = await self.next(None)
        if msg is None:
            raise StopAsyncIteration
        return msg


def open_bus(url: str, **options: object) -> Bus:
    """A bus for ``url``: ``memory://``, ``sqlite:///path`` or ``nats://host:port``."""
    if url.startswith("memory://"):
        from .memory import MemoryBus

        return MemoryBus(url)
    if url.startswith("sqlite://"):
        from .sqlite import SqliteBus

        return SqliteBus.from_url(url, **options)  # type: ignore[arg-type]
    if url.startswith(("nats://", "tls://")):
        from .nats import NatsBus

        return NatsBus(url, **options)  # type: ignore[arg-type]
    raise BusError(f"unknown bus URL scheme in {url.split(':', 1)[0]!r} "
                   "(use memory://, sqlite:///path or nats://host:port)")
