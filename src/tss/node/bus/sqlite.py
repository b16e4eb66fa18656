"""``sqlite:///path.db``: a durable bus in one SQLite file (WAL), shared by every process on
the host that opens the same file. Readers poll with a short, adaptive interval; a publish in
the same process wakes its readers at once.

Tables: ``msgs(seq INTEGER PRIMARY KEY, subject, msg_id UNIQUE, body, ts)`` and
``kv(key PRIMARY KEY, value, revision)``. Messages older than ``retention`` seconds are deleted
from time to time.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

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

__all__ = ["SqliteBus"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS msgs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    msg_id TEXT UNIQUE,
    body BLOB NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS msgs_subject ON msgs(subject, seq);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    revision INTEGER NOT NULL
);
"""

_WAITERS: dict[str, _Waiters] = {}


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqliteBus(Bus):
    def __init__(self, path: str | os.PathLike[str], *, poll_interval: float = 0.05,
                 retention: float = 7 * 86400.0) -> None:
        self.path = str(path)
        self.url = "sqlite://" + self.path
        self.poll_interval = max(0.002, float(poll_interval))
        self.retention = float(retention)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tss-bus-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._published = 0
        key = os.path.realpath(self.path) if self.path != ":memory:" else f"mem-{id(self)}"
        self._waiters = _WAITERS.setdefault(key, _Waiters())
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqliteBus:
        rest = url[len("sqlite://"):]
        path, _, query = rest.partition("?")
        if not path:
            raise BusError("sqlite bus URL needs a path: sqlite:///path/to/bus.db")
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        if "poll" in q:
            options.setdefault("poll_interval", float(q["poll"]))
        if "retention" in q:
            options.setdefault("retention", float(q["retention"]))
        return cls(path, **options)

    # ------------------------------------------------------------------ plumbing
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise BusError("the bus is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    # ------------------------------------------------------------------ stream
    def _publish(self, subject: str, data: bytes, msg_id: str | None) -> int:
        db = self._db()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            if msg_id is not None:
                row = db.execute("SELECT seq FROM msgs WHERE msg_id = ?", (msg_id,)).fetchone()
                if row is not None:
                    db.execute("COMMIT")
                    return int(row[0])
            cur = db.execute("INSERT INTO msgs(subject, msg_id, body, ts) VALUES (?, ?, ?, ?)",
                             (subject, msg_id, data, now))
            seq = int(cur.lastrowid or 0)
            self._published += 1
            if self._published % 500 == 0:
                db.execute("DELETE FROM msgs WHERE ts < ?", (now - self.retention,))
            db.execute("COMMIT")
            return seq
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> int:
        check_subject(subject)
        if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_DATA:
            raise BusError("data must be bytes of at most 8 MiB")
        if msg_id is not None and (not isinstance(msg_id, str) or len(msg_id) > 256):
            raise BusError("bad msg_id")
        seq = await self._run(self._publish, subject, bytes(data), msg_id)
        self._waiters.notify()
        return int(seq)

    def _scan(self, filt: str, after: int, limit: int) -> list[BusMessage]:
        db = self._db()
        parts = filt.split(".")
        if "*" not in parts and ">" not in parts:
            rows = db.execute("SELECT seq, subject, body, msg_id, ts FROM msgs "
                              "WHERE subject = ? AND seq > ? ORDER BY seq LIMIT ?",
                              (filt, after, limit)).fetchall()
            return [BusMessage(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]
        # prefix up to the first wildcard narrows the scan; exact matching in Python
        fixed = []
        for p in parts:
            if p in ("*", ">"):
                break
            fixed.append(p)
        prefix = ".".join(fixed) + ("." if fixed else "")
        out: list[BusMessage] = []
        cursor = after
        while len(out) < limit:
            rows = db.execute("SELECT seq, subject, body, msg_id, ts FROM msgs "
                              "WHERE subject LIKE ? ESCAPE '\\' AND seq > ? ORDER BY seq "
                              "LIMIT ?", (_like_escape(prefix) + "%", cursor, 4 * limit)
                              ).fetchall()
            if not rows:
                break
            for r in rows:
                if subject_matches(filt, r[1]):
                    out.append(BusMessage(r[0], r[1], bytes(r[2]), r[3], r[4]))
                    if len(out) >= limit:
                        break
            cursor = rows[-1][0]
        return out

    async def fetch(self, filt: str, *, after: int = 0, limit: int = 100,
                    timeout: float = 0.0) -> list[BusMessage]:
        check_filter(filt)
        limit = max(1, min(int(limit), 1000))
        deadline = time.monotonic() + max(0.0, float(timeout))
        interval = min(0.005, self.poll_interval)
        while True:
            got = await self._run(self._scan, filt, int(after), limit)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            await self._waiters.wait(min(remaining, interval))
            interval = min(self.poll_interval, interval * 2)

    async def last_seq(self) -> int:
        def q() -> int:
            row = self._db().execute("SELECT MAX(seq) FROM msgs").fetchone()
            return int(row[0] or 0)
        return int(await self._run(q))

    # ------------------------------------------------------------------ key-value
    async def kv_get(self, key: str) -> KvEntry | None:
        check_key(key)

        def q() -> KvEntry | None:
            row = self._db().execute("SELECT value, revision FROM kv WHERE key = ?",
                                     (key,)).fetchone()
            return None if row is None else KvEntry(key, bytes(row[0]), int(row[1]))
        return await self._run(q)

    async def kv_put(self, key: str, value: bytes) -> int:
        check_key(key)

        def q() -> int:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT revision FROM kv WHERE key = ?", (key,)).fetchone()
                rev = (int(row[0]) if row else 0) + 1
                db.execute("INSERT INTO kv(key, value, revision) VALUES (?, ?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                           "revision = excluded.revision", (key, bytes(value), rev))
                db.execute("COMMIT")
                return rev
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return int(await self._run(q))

    async def kv_create(self, key: str, value: bytes) -> int | None:
        check_key(key)

        def q() -> int | None:
            cur = self._db().execute("INSERT INTO kv(key, value, revision) VALUES (?, ?, 1) "
                                     "ON CONFLICT(key) DO NOTHING", (key, bytes(value)))
            return 1 if cur.rowcount == 1 else None
        return await self._run(q)

    async def kv_update(self, key: str, value: bytes, revision: int) -> int | None:
        check_key(key)

        def q() -> int | None:
            cur = self._db().execute("UPDATE kv SET value = ?, revision = revision + 1 "
                                     "WHERE key = ? AND revision = ?",
                                     (bytes(value), key, int(revision)))
            return int(revision) + 1 if cur.rowcount == 1 else None
        return await self._run(q)

    async def kv_delete(self, key: str) -> None:
        check_key(key)
        await self._run(lambda: self._db().execute("DELETE FROM kv WHERE key = ?", (key,)))

    async def close(self) -> None:
        if self._closed:
            return

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        try:
            await self._run(shut)
        finally:
            self._closed = True
            self._pool.shutdown(wait=False)
