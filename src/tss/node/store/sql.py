"""The SQL store (SQLite and PostgreSQL dialects). See the package docstring."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ..crypto import CryptoError, KdfParams, Kek, SealedRecord, open_record, seal_record

__all__ = ["SqlStore", "StoreError", "StoreConflict", "open_store"]

_NS = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
CURVE = "secp256k1"
PROTOCOL = "gg20-cggmp21"


class StoreError(Exception):
    """The store cannot do this (bad URL, closed, a record that does not decrypt, ...)."""


class StoreConflict(StoreError):
    """A record with this identity exists already."""


def _schema(p: str, blob: str, real: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {p}kek (kek_id TEXT PRIMARY KEY, salt {blob} NOT NULL, "
        f"params TEXT NOT NULL, verifier {blob} NOT NULL, created_at {real} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {p}secrets (name TEXT PRIMARY KEY, nonce {blob} NOT NULL, "
        f"ciphertext {blob} NOT NULL, dek_nonce {blob} NOT NULL, wrapped_dek {blob} NOT NULL, "
        f"kek_id TEXT NOT NULL, created_at {real} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {p}shares (key_id TEXT NOT NULL, party_id TEXT NOT NULL, "
        f"version INTEGER NOT NULL, public_key TEXT NOT NULL, session_id TEXT NOT NULL, "
        f"nonce {blob} NOT NULL, ciphertext {blob} NOT NULL, dek_nonce {blob} NOT NULL, "
        f"wrapped_dek {blob} NOT NULL, kek_id TEXT NOT NULL, created_at {real} NOT NULL, "
        f"state TEXT NOT NULL DEFAULT 'active', PRIMARY KEY (key_id, party_id, version))",
        f"CREATE TABLE IF NOT EXISTS {p}sessions (id TEXT PRIMARY KEY, type TEXT NOT NULL, "
        f"status TEXT NOT NULL, doc TEXT NOT NULL, version INTEGER NOT NULL, "
        f"created_at {real} NOT NULL, updated_at {real} NOT NULL, deadline {real} NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {p}sessions_status ON {p}sessions (status, deadline)",
        f"CREATE TABLE IF NOT EXISTS {p}tokens (token_hash TEXT PRIMARY KEY, "
        f"session_id TEXT NOT NULL, party_id TEXT NOT NULL, expires_at {real} NOT NULL, "
        f"used_at {real})",
        f"CREATE TABLE IF NOT EXISTS {p}keys (key_id TEXT PRIMARY KEY, "
        f"public_key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, created_at {real} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {p}records (kind TEXT NOT NULL, id TEXT NOT NULL, "
        f"doc TEXT NOT NULL, created_at {real} NOT NULL, PRIMARY KEY (kind, id))",
    ]


def share_ad(key_id: str, party_id: str, version: int, public_key: str) -> bytes:
    return "|".join(("tss-node/share/v1", key_id, party_id, str(version), CURVE, PROTOCOL,
                     public_key)).encode()


def secret_ad(name: str) -> bytes:
    return f"tss-node/secret/v1|{name}".encode()


class SqlStore:
    """Open with :func:`open_store`. Every method is a coroutine; the database work runs on
    one thread per store (so one connection, used serially)."""

    def __init__(self, dialect: str, connect: Callable[[], Any], *, namespace: str = "",
                 url: str = "") -> None:
        if namespace and not _NS.match(namespace):
            raise StoreError("a namespace is lower-case letters, digits and _ (max 31)")
        self.dialect = dialect
        self.url = url
        self.namespace = namespace
        self._p = f"{namespace}_" if namespace else ""
        self._connect = connect
        self._conn: Any = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tss-store")
        self._kek: Kek | None = None
        self._closed = False

    # ------------------------------------------------------------------ plumbing
    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def _db(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    def _is_conflict(self, exc: BaseException) -> bool:
        if isinstance(exc, sqlite3.IntegrityError):
            return True
        return type(exc).__name__ in ("UniqueViolation", "IntegrityError")

    def _tx(self, fn: Callable[[Callable[..., Any]], Any]) -> Any:
        """Run ``fn(execute)`` in one transaction; ``execute(sql, params)`` returns a cursor."""
        db = self._db()

        def execute(sql: str, params: Iterable[Any] = ()) -> Any:
            return db.execute(self._q(sql), tuple(params))

        db.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
        try:
            out = fn(execute)
        except BaseException as exc:
            db.execute("ROLLBACK")
            if self._is_conflict(exc):
                raise StoreConflict("a record with this identity exists already") from None
            raise
        db.execute("COMMIT")
        return out

    def _one(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return self._db().execute(self._q(sql), tuple(params)).fetchone()

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return list(self._db().execute(self._q(sql), tuple(params)).fetchall())

    def _init_schema(self) -> None:
        blob, real = ("BLOB", "REAL") if self.dialect == "sqlite" else ("BYTEA",
                                                                        "DOUBLE PRECISION")
        db = self._db()
        if self.dialect == "postgres":
            # concurrent CREATE TABLE IF NOT EXISTS can race in PostgreSQL: serialise them
            db.execute("SELECT pg_advisory_lock(7355608)")
        try:
            for stmt in _schema(self._p, blob, real):
                db.execute(stmt)
            self._migrate(db)
        finally:
            if self.dialect == "postgres":
                db.execute("SELECT pg_advisory_unlock(7355608)")

    def _migrate(self, db: Any) -> None:
        """Columns added after a table was first created (stores made by older versions)."""
        col = "state TEXT NOT NULL DEFAULT 'active'"
        if self.dialect == "postgres":
            db.execute(f"ALTER TABLE {self._p}shares ADD COLUMN IF NOT EXISTS {col}")
            return
        names = {r[1] for r in db.execute(f"PRAGMA table_info({self._p}shares)").fetchall()}
        if "state" not in names:
            db.execute(f"ALTER TABLE {self._p}shares ADD COLUMN {col}")

    async def open(self, passphrase: str | bytes | None,
                   kdf_params: KdfParams | None = None) -> SqlStore:
        """Create the tables and unlock (or create) the key-encryption key. Without a
        passphrase the store keeps only public data and refuses secrets and shares."""
        await self._run(self._init_schema)
        if passphrase is not None:
            def load() -> Any:
                return self._one(f"SELECT kek_id, salt, params, verifier FROM {self._p}kek "
                                 "ORDER BY created_at LIMIT 1")
            row = await self._run(load)
            if row is None:
                kek, rec = await asyncio.to_thread(Kek.create, passphrase, kdf_params)

                def put() -> None:
                    self._tx(lambda ex: ex(
                        f"INSERT INTO {self._p}kek (kek_id, salt, params, verifier, created_at)"
                        " VALUES (?, ?, ?, ?, ?)", (rec["kek_id"], rec["salt"], rec["params"],
                                                    rec["verifier"], time.time())))
                try:
                    await self._run(put)
                except StoreConflict:  # pragma: no cover - two processes created it at once
                    row = await self._run(load)
                if row is None:
                    self._kek = kek
            if row is not None:
                record = {"kek_id": row[0], "salt": bytes(row[1]), "params": row[2],
                          "verifier": bytes(row[3])}
                try:
                    self._kek = await asyncio.to_thread(Kek.open, passphrase, record)
                except CryptoError as exc:
                    raise StoreError(str(exc)) from None
        return self

    def _need_kek(self) -> Kek:
        if self._kek is None:
            raise StoreError("this store was opened without a passphrase: no secrets")
        return self._kek

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

    # ------------------------------------------------------------------ secrets
    async def put_secret(self, name: str, data: bytes) -> None:
        kek = self._need_kek()
        rec = seal_record(kek, bytes(data), secret_ad(name))

        def put() -> None:
            self._tx(lambda ex: ex(
                f"INSERT INTO {self._p}secrets (name, nonce, ciphertext, dek_nonce, wrapped_dek,"
                " kek_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, rec.nonce, rec.ciphertext, rec.dek_nonce, rec.wrapped_dek, rec.kek_id,
                 time.time())))
        await self._run(put)

    async def get_secret(self, name: str) -> bytes | None:
        kek = self._need_kek()
        row = await self._run(self._one, f"SELECT nonce, ciphertext, dek_nonce, wrapped_dek, "
                              f"kek_id FROM {self._p}secrets WHERE name = ?", (name,))
        if row is None:
            return None
        rec = SealedRecord(bytes(row[0]), bytes(row[1]), bytes(row[2]), bytes(row[3]), row[4])
        try:
            return open_record(kek, rec, secret_ad(name))
        except CryptoError as exc:
            raise StoreError(f"secret {name!r}: {exc}") from None

    # ------------------------------------------------------------------ key shares
    async def put_share(self, key_id: str, party_id: str, share: bytes, *, public_key: str,
                        session_id: str, version: int | None = 0, pending: bool = False
                        ) -> int:
        """Store a share; ``version=None`` takes the next free version of (key, party).
        A ``pending`` share (the result of a reshare or refresh whose session has not
        completed yet) is kept beside the active one and is not returned by ``get_share``
        until :meth:`switch_shares` activates it. Returns the version."""
        kek = self._need_kek()

        def put() -> int:
            def body(ex: Callable[..., Any]) -> int:
                v = version
                if v is None:
                    row = ex(f"SELECT MAX(version) FROM {self._p}shares WHERE key_id = ? AND "
                             "party_id = ?", (key_id, party_id)).fetchone()
                    v = 0 if row is None or row[0] is None else int(row[0]) + 1
                rec = seal_record(kek, bytes(share), share_ad(key_id, party_id, v, public_key))
                ex(f"INSERT INTO {self._p}shares (key_id, party_id, version, public_key, "
                   "session_id, nonce, ciphertext, dek_nonce, wrapped_dek, kek_id, created_at, "
                   "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (key_id, party_id, v, public_key, session_id, rec.nonce, rec.ciphertext,
                    rec.dek_nonce, rec.wrapped_dek, rec.kek_id, time.time(),
                    "pending" if pending else "active"))
                return int(v)
            return int(self._tx(body))
        return int(await self._run(put))

    def _open_share(self, kek: Kek, key_id: str, party_id: str, row: Any) -> bytes:
        rec = SealedRecord(bytes(row[2]), bytes(row[3]), bytes(row[4]), bytes(row[5]), row[6])
        try:
            return open_record(kek, rec, share_ad(key_id, party_id, int(row[0]), row[1]))
        except CryptoError as exc:
            raise StoreError(f"share of {key_id} for {party_id}: {exc}") from None

    async def get_share(self, key_id: str, party_id: str) -> bytes | None:
        """The newest active version of this party's share of ``key_id`` (decrypted), or
        None. Pending shares are not returned."""
        kek = self._need_kek()
        row = await self._run(self._one, f"SELECT version, public_key, nonce, ciphertext, "
                              f"dek_nonce, wrapped_dek, kek_id FROM {self._p}shares WHERE "
                              "key_id = ? AND party_id = ? AND state = 'active' "
                              "ORDER BY version DESC LIMIT 1", (key_id, party_id))
        if row is None:
            return None
        return self._open_share(kek, key_id, party_id, row)

    async def get_pending_share(self, key_id: str, party_id: str,
                                session_id: str) -> bytes | None:
        """The pending share that session ``session_id`` made, or None."""
        kek = self._need_kek()
        row = await self._run(self._one, f"SELECT version, public_key, nonce, ciphertext, "
                              f"dek_nonce, wrapped_dek, kek_id FROM {self._p}shares WHERE "
                              "key_id = ? AND party_id = ? AND session_id = ? AND "
                              "state = 'pending' ORDER BY version DESC LIMIT 1",
                              (key_id, party_id, session_id))
        if row is None:
            return None
        return self._open_share(kek, key_id, party_id, row)

    async def switch_shares(self, key_id: str, party_id: str, *, session_id: str,
                            activate: bool, retire: bool) -> dict[str, int]:
        """The end of a completed reshare or refresh, in one transaction: ``activate`` makes
        the pending share of ``session_id`` the active one and deletes every other version of
        (key, party); ``retire`` alone (an old member that is not in the new committee)
        deletes the active versions. Returns ``{"activated": .., "deleted": ..}``."""
        def sw() -> dict[str, int]:
            def body(ex: Callable[..., Any]) -> dict[str, int]:
                out = {"activated": 0, "deleted": 0}
                if activate:
                    row = ex(f"SELECT version FROM {self._p}shares WHERE key_id = ? AND "
                             "party_id = ? AND session_id = ? AND state = 'pending' ORDER BY "
                             "version DESC LIMIT 1", (key_id, party_id, session_id)).fetchone()
                    if row is None:
                        return out
                    v = int(row[0])
                    out["activated"] = int(ex(
                        f"UPDATE {self._p}shares SET state = 'active' WHERE key_id = ? AND "
                        "party_id = ? AND version = ?", (key_id, party_id, v)).rowcount)
                    out["deleted"] = int(ex(
                        f"DELETE FROM {self._p}shares WHERE key_id = ? AND party_id = ? AND "
                        "version <> ?", (key_id, party_id, v)).rowcount)
                elif retire:
                    out["deleted"] = int(ex(
                        f"DELETE FROM {self._p}shares WHERE key_id = ? AND party_id = ? AND "
                        "state = 'active'", (key_id, party_id)).rowcount)
                return out
            return dict(self._tx(body))
        return dict(await self._run(sw))

    async def discard_pending(self, key_id: str, party_id: str, session_id: str) -> int:
        """Delete the pending share of a reshare or refresh that failed."""
        def rm() -> int:
            return int(self._tx(lambda ex: ex(
                f"DELETE FROM {self._p}shares WHERE key_id = ? AND party_id = ? AND "
                "session_id = ? AND state = 'pending'", (key_id, party_id,
                                                         session_id)).rowcount))
        return int(await self._run(rm))

    async def has_share(self, key_id: str, party_id: str) -> bool:
        row = await self._run(self._one, f"SELECT 1 FROM {self._p}shares WHERE key_id = ? AND "
                              "party_id = ? AND state = 'active'", (key_id, party_id))
        return row is not None

    async def delete_share(self, key_id: str, party_id: str, *,
                           session_id: str | None = None) -> int:
        """Delete this party's shares of ``key_id`` (only those made by ``session_id`` if
        given); returns how many."""
        def rm() -> int:
            def body(ex: Callable[..., Any]) -> int:
                if session_id is None:
                    cur = ex(f"DELETE FROM {self._p}shares WHERE key_id = ? AND party_id = ?",
                             (key_id, party_id))
                else:
                    cur = ex(f"DELETE FROM {self._p}shares WHERE key_id = ? AND party_id = ? "
                             "AND session_id = ?", (key_id, party_id, session_id))
                return int(cur.rowcount)
            return int(self._tx(body))
        return int(await self._run(rm))

    async def list_shares(self, party_id: str | None = None) -> list[dict[str, Any]]:
        sql = (f"SELECT key_id, party_id, version, public_key, session_id, created_at, state "
               f"FROM {self._p}shares")
        params: tuple[Any, ...] = ()
        if party_id is not None:
            sql += " WHERE party_id = ?"
            params = (party_id,)
        rows = await self._run(self._all, sql + " ORDER BY created_at", params)
        return [{"key_id": r[0], "party_id": r[1], "version": int(r[2]), "public_key": r[3],
                 "session_id": r[4], "created_at": float(r[5]), "state": r[6]} for r in rows]

    # ------------------------------------------------------------------ sessions and tokens
    async def create_session(self, doc: dict[str, Any],
                             tokens: Iterable[tuple[str, str, float]] = ()) -> None:
        """Store a new session document and its join-token hashes (hash, party_id, expiry)
        in one transaction."""
        sid = doc["session_id"]
        now = time.time()
        toks = list(tokens)
        text = json.dumps(doc, sort_keys=True)

        def put() -> None:
            def body(ex: Callable[..., Any]) -> None:
                ex(f"INSERT INTO {self._p}sessions (id, type, status, doc, version, created_at,"
                   " updated_at, deadline) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                   (sid, doc["session_type"], doc["status"], text, now, now,
                    float(doc.get("deadline", now))))
                for h, party, exp in toks:
                    ex(f"INSERT INTO {self._p}tokens (token_hash, session_id, party_id, "
                       "expires_at) VALUES (?, ?, ?, ?)", (h, sid, party, exp))
            self._tx(body)
        await self._run(put)

    async def get_session(self, sid: str) -> tuple[dict[str, Any], int] | None:
        row = await self._run(self._one, f"SELECT doc, version FROM {self._p}sessions WHERE "
                              "id = ?", (sid,))
        if row is None:
            return None
        return json.loads(row[0]), int(row[1])

    async def update_session(self, doc: dict[str, Any], version: int) -> bool:
        """Replace the document if its version is still ``version`` (compare-and-set)."""
        text = json.dumps(doc, sort_keys=True)

        def upd() -> bool:
            def body(ex: Callable[..., Any]) -> bool:
                cur = ex(f"UPDATE {self._p}sessions SET doc = ?, status = ?, version = "
                         "version + 1, updated_at = ?, deadline = ? WHERE id = ? AND "
                         "version = ?", (text, doc["status"], time.time(),
                                         float(doc.get("deadline", 0.0)), doc["session_id"],
                                         version))
                return cur.rowcount == 1
            return bool(self._tx(body))
        return bool(await self._run(upd))

    async def list_sessions(self, statuses: Iterable[str], *, deadline_before: float | None
                            = None, limit: int = 500) -> list[dict[str, Any]]:
        sts = list(statuses)
        if not sts:
            return []
        sql = (f"SELECT doc FROM {self._p}sessions WHERE status IN "
               f"({', '.join('?' for _ in sts)})")
        params: list[Any] = list(sts)
        if deadline_before is not None:
            sql += " AND deadline < ?"
            params.append(deadline_before)
        sql += " ORDER BY created_at LIMIT ?"
        params.append(int(limit))
        rows = await self._run(self._all, sql, params)
        return [json.loads(r[0]) for r in rows]

    async def count_sessions(self) -> int:
        row = await self._run(self._one, f"SELECT COUNT(*) FROM {self._p}sessions")
        return int(row[0])

    async def use_token(self, token_hash: str, *, now: float | None = None) -> str:
        """Mark a join token used. Returns "ok", "unknown", "used" or "expired"."""
        now = time.time() if now is None else now

        def use() -> str:
            def body(ex: Callable[..., Any]) -> str:
                row = ex(f"SELECT expires_at, used_at FROM {self._p}tokens WHERE "
                         "token_hash = ?", (token_hash,)).fetchone()
                if row is None:
                    return "unknown"
                if row[1] is not None:
                    return "used"
                if float(row[0]) < now:
                    return "expired"
                ex(f"UPDATE {self._p}tokens SET used_at = ? WHERE token_hash = ?",
                   (now, token_hash))
                return "ok"
            return str(self._tx(body))
        return str(await self._run(use))

    async def token_state(self, token_hash: str) -> dict[str, Any] | None:
        row = await self._run(self._one, f"SELECT session_id, party_id, expires_at, used_at "
                              f"FROM {self._p}tokens WHERE token_hash = ?", (token_hash,))
        if row is None:
            return None
        return {"session_id": row[0], "party_id": row[1], "expires_at": float(row[2]),
                "used_at": None if row[3] is None else float(row[3])}

    # ------------------------------------------------------------------ key records (public)
    async def put_key(self, doc: dict[str, Any]) -> None:
        text = json.dumps(doc, sort_keys=True)

        def put() -> None:
            self._tx(lambda ex: ex(f"INSERT INTO {self._p}keys (key_id, public_key, doc, "
                                   "created_at) VALUES (?, ?, ?, ?)",
                                   (doc["key_id"], doc["public_key"], text, time.time())))
        await self._run(put)

    async def update_key(self, doc: dict[str, Any]) -> bool:
        """Replace the record of ``doc["key_id"]`` (its public key cannot change)."""
        text = json.dumps(doc, sort_keys=True)

        def upd() -> bool:
            return bool(self._tx(lambda ex: ex(
                f"UPDATE {self._p}keys SET doc = ? WHERE key_id = ? AND public_key = ?",
                (text, doc["key_id"], doc["public_key"])).rowcount == 1))
        return bool(await self._run(upd))

    async def get_key(self, *, key_id: str | None = None,
                      public_key: str | None = None) -> dict[str, Any] | None:
        if key_id is not None:
            row = await self._run(self._one, f"SELECT doc FROM {self._p}keys WHERE key_id = ?",
                                  (key_id,))
        elif public_key is not None:
            row = await self._run(self._one, f"SELECT doc FROM {self._p}keys WHERE "
                                  "public_key = ?", (public_key,))
        else:
            raise StoreError("get_key needs key_id or public_key")
        return None if row is None else json.loads(row[0])

    async def list_keys(self) -> list[dict[str, Any]]:
        rows = await self._run(self._all, f"SELECT doc FROM {self._p}keys ORDER BY created_at")
        return [json.loads(r[0]) for r in rows]

    # ------------------------------------------------------------------ generic records
    async def put_record(self, kind: str, rid: str, doc: dict[str, Any], *,
                         create: bool = True) -> bool:
        """Insert (``create``: False if it exists) or upsert a JSON document."""
        text = json.dumps(doc, sort_keys=True)

        def put() -> bool:
            def body(ex: Callable[..., Any]) -> bool:
                if create:
                    cur = ex(f"INSERT INTO {self._p}records (kind, id, doc, created_at) VALUES "
                             "(?, ?, ?, ?) ON CONFLICT (kind, id) DO NOTHING",
                             (kind, rid, text, time.time()))
                    return cur.rowcount == 1
                ex(f"INSERT INTO {self._p}records (kind, id, doc, created_at) VALUES "
                   "(?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc",
                   (kind, rid, text, time.time()))
                return True
            return bool(self._tx(body))
        return bool(await self._run(put))

    async def get_record(self, kind: str, rid: str) -> dict[str, Any] | None:
        row = await self._run(self._one, f"SELECT doc FROM {self._p}records WHERE kind = ? "
                              "AND id = ?", (kind, rid))
        return None if row is None else json.loads(row[0])

    async def delete_record(self, kind: str, rid: str) -> bool:
        def rm() -> bool:
            return bool(self._tx(lambda ex: ex(f"DELETE FROM {self._p}records WHERE kind = ? "
                                               "AND id = ?", (kind, rid)).rowcount == 1))
        return bool(await self._run(rm))

    async def list_records(self, kind: str, limit: int = 1000) -> list[dict[str, Any]]:
        rows = await self._run(self._all, f"SELECT doc FROM {self._p}records WHERE kind = ? "
                               "ORDER BY created_at LIMIT ?", (kind, int(limit)))
        return [json.loads(r[0]) for r in rows]


def _sqlite_connect(path: str) -> Callable[[], Any]:
    def connect() -> sqlite3.Connection:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn
    return connect


def _pg_connect(url: str) -> Callable[[], Any]:
    def connect() -> Any:
        try:
            import psycopg
        except ImportError:  # pragma: no cover
            raise StoreError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from None
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from None
    return connect


async def open_store(url: str, passphrase: str | bytes | None = None, *, namespace: str = "",
                     kdf_params: KdfParams | None = None) -> SqlStore:
    """Open (creating tables as needed) the store at ``url`` and unlock its KEK."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        path, _, query = rest.partition("?")
        ns = parse_qs(query).get("namespace", [namespace])[-1]
        if not path:
            raise StoreError("sqlite store URL needs a path: sqlite:///path/to/store.db")
        store = SqlStore("sqlite", _sqlite_connect(path), namespace=ns, url="sqlite://" + path)
    elif url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        q = parse_qs(parts.query)
        ns = q.pop("namespace", [namespace])[-1]
        query = "&".join(f"{k}={v[-1]}" for k, v in q.items())
        clean = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        store = SqlStore("postgres", _pg_connect(clean), namespace=ns, url=clean)
    else:
        raise StoreError("unknown store URL (use sqlite:///path or postgresql://...)")
    try:
        return await store.open(passphrase, kdf_params)
    except BaseException:
        await store.close()
        raise
