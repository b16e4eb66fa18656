"""``memory://[name]``: an in-process bus. Buses opened with the same name share one stream."""

from __future__ import annotations

import asyncio
import threading
import time

from . import (
    MAX_DATA,
    Bus,
    BusError,
    BusMessage,
    KvEntry,
    _Waiters,
    check_filter,
    check_key,
    check_subject,
    subject_matches,
)

__all__ = ["MemoryBus"]


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.msgs: list[BusMessage] = []
        self.ids: dict[str, int] = {}
        self.kv: dict[str, KvEntry] = {}
        self.waiters = _Waiters()


_NAMED: dict[str, _State] = {}
_NAMED_LOCK = threading.Lock()


class MemoryBus(Bus):
    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        name = url[len("memory://"):]
        if name:
            with _NAMED_LOCK:
                self._s = _NAMED.setdefault(name, _State())
        else:
            self._s = _State()

    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> int:
        check_subject(subject)
        if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_DATA:
            raise BusError("data must be bytes of at most 8 MiB")
        s = self._s
        with s.lock:
            if msg_id is not None and msg_id in s.ids:
                return s.ids[msg_id]
            seq = len(s.msgs) + 1
            s.msgs.append(BusMessage(seq, subject, bytes(data), msg_id, time.time()))
            if msg_id is not None:
                s.ids[msg_id] = seq
        s.waiters.notify()
        return seq

    def _scan(self, filt: str, after: int, limit: int) -> list[BusMessage]:
        with self._s.lock:
            msgs = self._s.msgs[max(0, after):]
        out = []
        for m in msgs:
            if subject_matches(filt, m.subject):
                out.append(m)
                if len(out) >= limit:
                    break
        return out

    async def fetch(self, filt: str, *, after: int = 0, limit: int = 100,
                    timeout: float = 0.0) -> list[BusMessage]:
        check_filter(filt)
        limit = max(1, min(int(limit), 1000))
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            got = self._scan(filt, after, limit)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            await self._s.waiters.wait(min(remaining, 0.5))

    async def last_seq(self) -> int:
        with self._s.lock:
            return len(self._s.msgs)

    async def kv_get(self, key: str) -> KvEntry | None:
        check_key(key)
        with self._s.lock:
            return self._s.kv.get(key)

    def _set(self, key: str, value: bytes, old: KvEntry | None) -> int:
        rev = (old.revision if old else 0) + 1
        self._s.kv[key] = KvEntry(key, bytes(value), rev)
        return rev

    async def kv_put(self, key: str, value: bytes) -> int:
        check_key(key)
        with self._s.lock:
            return self._set(key, value, self._s.kv.get(key))

    async def kv_create(self, key: str, value: bytes) -> int | None:
        check_key(key)
        with self._s.lock:
            if key in self._s.kv:
                return None
            return self._set(key, value, None)

    async def kv_update(self, key: str, value: bytes, revision: int) -> int | None:
        check_key(key)
        with self._s.lock:
            old = self._s.kv.get(key)
            if old is None or old.revision != revision:
                return None
            return self._set(key, value, old)

    async def kv_delete(self, key: str) -> None:
        check_key(key)
        with self._s.lock:
            self._s.kv.pop(key, None)

    async def close(self) -> None:
        await asyncio.sleep(0)
