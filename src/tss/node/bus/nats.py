"""``nats://host:port``: NATS JetStream through ``nats-py``, for more than one machine.

One stream (default ``TSS``, subjects ``tss.>``) carries every subject of the bus under a
prefix; ``Nats-Msg-Id`` gives server-side deduplication. ``fetch`` reads by sequence number with
``STREAM.MSG.GET`` (``next_by_subj``), so a reader needs no server-side consumer and late joiners
replay from the start; a plain NATS subscription on the same subjects wakes waiting readers.
The key-value table is a JetStream KV bucket (default ``tss``).

Options in the URL query: ``stream``, ``prefix``, ``bucket``, ``replicas`` (for a cluster).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from . import (
    MAX_DATA,
    Bus,
    BusError,
    BusMessage,
    KvEntry,
    check_filter,
    check_key,
    check_subject,
)

__all__ = ["NatsBus"]


class NatsBus(Bus):
    def __init__(self, url: str, *, stream: str | None = None, prefix: str | None = None,
                 bucket: str | None = None, replicas: int | None = None,
                 poll_interval: float = 0.5, connect_timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.url = url
        self._server = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        self.stream = stream or q.get("stream", "TSS")
        self.prefix = prefix or q.get("prefix", "tss")
        self.bucket = bucket or q.get("bucket", "tss")
        self.replicas = int(replicas or q.get("replicas", 1))
        self.poll_interval = poll_interval
        self.connect_timeout = connect_timeout
        self._nc: Any = None
        self._js: Any = None
        self._kv: Any = None
        self._lock: asyncio.Lock | None = None
        self._notify: OrderedDict[str, tuple[Any, asyncio.Event]] = OrderedDict()

    async def _ensure(self) -> None:
        if self._js is not None:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._js is not None:
                return
            import nats
            from nats.js.api import StorageType, StreamConfig
            from nats.js.errors import BucketNotFoundError, NotFoundError

            try:
                nc = await nats.connect(self._server, connect_timeout=self.connect_timeout,
                                        max_reconnect_attempts=-1, allow_reconnect=True)
            except Exception as exc:  # noqa: BLE001 - nats-py raises several kinds
                raise BusError(f"cannot connect to NATS at {self._server}: "
                               f"{type(exc).__name__}") from None
            js = nc.jetstream()
            config = StreamConfig(name=self.stream, subjects=[f"{self.prefix}.>"],
                                  storage=StorageType.FILE, num_replicas=self.replicas,
                                  duplicate_window=600.0, max_age=7 * 86400.0)
            try:
                await js.stream_info(self.stream)
            except NotFoundError:
                try:
                    await js.add_stream(config)
                except Exception:  # noqa: BLE001 - created concurrently by another process
                    await js.stream_info(self.stream)
            try:
                kv = await js.key_value(self.bucket)
            except BucketNotFoundError:
                try:
                    kv = await js.create_key_value(bucket=self.bucket, history=1,
                                                   replicas=self.replicas)
                except Exception:  # noqa: BLE001 - created concurrently
                    kv = await js.key_value(self.bucket)
            self._nc, self._js, self._kv = nc, js, kv

    def _full(self, subject: str) -> str:
        return f"{self.prefix}.{subject}"

    def _short(self, subject: str) -> str:
        return subject[len(self.prefix) + 1:]

    # ------------------------------------------------------------------ stream
    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> int:
        check_subject(subject)
        if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_DATA:
            raise BusError("data must be bytes of at most 8 MiB")
        await self._ensure()
        headers = {"Nats-Msg-Id": msg_id} if msg_id is not None else None
        try:
            ack = await self._js.publish(self._full(subject), bytes(data), headers=headers,
                                         stream=self.stream)
        except Exception as exc:  # noqa: BLE001
            raise BusError(f"publish failed: {type(exc).__name__}") from None
        return int(ack.seq)

    async def _waker(self, filt: str) -> asyncio.Event:
        hit = self._notify.get(filt)
        if hit is not None:
            self._notify.move_to_end(filt)
            return hit[1]
        event = asyncio.Event()

        async def cb(_msg: Any) -> None:
            event.set()
        sub = await self._nc.subscribe(self._full(filt), cb=cb)
        self._notify[filt] = (sub, event)
        while len(self._notify) > 256:
            _, (old, _e) = self._notify.popitem(last=False)
            try:
                await old.unsubscribe()
            except Exception:  # noqa: BLE001
                pass
        return event

    async def _scan(self, filt: str, after: int, limit: int) -> list[BusMessage]:
        from nats.js.errors import NotFoundError

        out: list[BusMessage] = []
        seq = after + 1
        while len(out) < limit:
            try:
                raw = await self._js.get_msg(self.stream, seq=seq, subject=self._full(filt),
                                             next=True)
            except NotFoundError:
                break
            except Exception as exc:  # noqa: BLE001
                raise BusError(f"fetch failed: {type(exc).__name__}") from None
            headers = raw.headers or {}
            ts = raw.time.timestamp() if raw.time is not None else 0.0
            out.append(BusMessage(int(raw.seq), self._short(raw.subject), raw.data or b"",
                                  headers.get("Nats-Msg-Id"), ts))
            seq = int(raw.seq) + 1
        return out

    async def fetch(self, filt: str, *, after: int = 0, limit: int = 100,
                    timeout: float = 0.0) -> list[BusMessage]:
        check_filter(filt)
        await self._ensure()
        limit = max(1, min(int(limit), 1000))
        deadline = time.monotonic() + max(0.0, float(timeout))
        event = await self._waker(filt) if timeout > 0 else None
        while True:
            if event is not None:
                event.clear()
            got = await self._scan(filt, int(after), limit)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0 or event is None:
                return got
            waiter = asyncio.ensure_future(event.wait())
            try:  # asyncio.wait keeps a cancellation (3.11's wait_for may drop it)
                await asyncio.wait({waiter}, timeout=min(remaining, self.poll_interval))
            finally:
                waiter.cancel()

    async def last_seq(self) -> int:
        await self._ensure()
        info = await self._js.stream_info(self.stream)
        return int(info.state.last_seq or 0)

    # ------------------------------------------------------------------ key-value
    async def kv_get(self, key: str) -> KvEntry | None:
        check_key(key)
        await self._ensure()
        from nats.js.errors import KeyNotFoundError

        try:
            e = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        return KvEntry(key, e.value or b"", int(e.revision))

    async def kv_put(self, key: str, value: bytes) -> int:
        check_key(key)
        await self._ensure()
        return int(await self._kv.put(key, bytes(value)))

    async def kv_create(self, key: str, value: bytes) -> int | None:
        check_key(key)
        await self._ensure()
        from nats.js.errors import KeyWrongLastSequenceError

        try:
            return int(await self._kv.create(key, bytes(value)))
        except KeyWrongLastSequenceError:
            return None

    async def kv_update(self, key: str, value: bytes, revision: int) -> int | None:
        check_key(key)
        await self._ensure()
        from nats.js.errors import KeyWrongLastSequenceError

        try:
            return int(await self._kv.update(key, bytes(value), last=int(revision)))
        except KeyWrongLastSequenceError:
            return None

    async def kv_delete(self, key: str) -> None:
        check_key(key)
        await self._ensure()
        await self._kv.delete(key)

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc, self._js, self._kv = self._nc, None, None, None
            self._notify.clear()
            try:
                await nc.drain()
            except Exception:  # noqa: BLE001
                await nc.close()
