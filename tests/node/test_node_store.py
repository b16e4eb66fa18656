"""One conformance suite for the stores: SQLite and a real PostgreSQL started by the test.
Shares and secrets are encrypted at rest; a wrong passphrase fails closed; a tampered row does
not decrypt."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
import uuid
from collections.abc import Iterator

import pytest
from node_support import postgres_server

from tss.node.crypto import KdfParams
from tss.node.store import StoreConflict, StoreError, open_store
from tss.node.store.sql import SqlStore

FAST = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
_n = itertools.count()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'store.db'}"
    base = request.getfixturevalue("pg_url")
    return f"{base}?namespace=t{next(_n)}_{time.time_ns() % 10**9}"


def run(coro):
    return asyncio.run(coro)


async def _open(url: str, passphrase: str | None = "correct horse") -> SqlStore:
    return await open_store(url, passphrase, kdf_params=FAST)


def _doc(status: str = "waiting", deadline: float | None = None) -> dict:
    now = time.time()
    return {"session_id": str(uuid.uuid4()), "session_type": "keygen", "status": status,
            "participants": [{"party_id": "p1"}], "created_at": now,
            "deadline": deadline if deadline is not None else now + 60}


def test_shares_round_trip_and_are_encrypted(store_url, tmp_path):
    secret = b"SECRET-SHARE-BYTES" * 20

    async def main() -> None:
        s = await _open(store_url)
        try:
            await s.put_share("k1", "party-a", secret, public_key="02" + "11" * 32,
                              session_id="s1")
            assert await s.get_share("k1", "party-a") == secret
            assert await s.get_share("k1", "party-b") is None
            assert await s.has_share("k1", "party-a")
            with pytest.raises(StoreConflict):
                await s.put_share("k1", "party-a", secret, public_key="02" + "11" * 32,
                                  session_id="s1")
            await s.put_share("k1", "party-a", secret + b"v1", public_key="02" + "11" * 32,
                              session_id="s2", version=1)
            assert await s.get_share("k1", "party-a") == secret + b"v1"
            listed = await s.list_shares("party-a")
            assert [x["version"] for x in listed] == [0, 1]
            assert "ciphertext" not in listed[0]
            assert await s.delete_share("k1", "party-a", session_id="s2") == 1
            assert await s.get_share("k1", "party-a") == secret
            await s.put_secret("identity", b"ed25519-private-key-bytes-32....")
            assert await s.get_secret("identity") == b"ed25519-private-key-bytes-32...."
            assert await s.get_secret("nothing") is None
        finally:
            await s.close()
        # reopen: same passphrase works, a wrong one fails closed
        s2 = await _open(store_url)
        assert await s2.get_share("k1", "party-a") == secret
        await s2.close()
        with pytest.raises(StoreError):
            await _open(store_url, "wrong passphrase")
        # without a passphrase only public data
        s3 = await _open(store_url, None)
        with pytest.raises(StoreError):
            await s3.get_share("k1", "party-a")
        await s3.close()

    run(main())
    if store_url.startswith("sqlite://"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
        assert b"SECRET-SHARE-BYTES" not in raw
        assert b"ed25519-private-key" not in raw


def test_pending_shares_switch_or_drop(store_url):
    """Reshare/refresh: a pending share waits beside the active one; the switch activates it
    and deletes the rest in one transaction; a failure drops only the pending one."""
    pk = "02" + "33" * 32

    async def main() -> None:
        s = await _open(store_url)
        try:
            assert await s.put_share("k", "pa", b"epoch0", public_key=pk, session_id="kg") == 0
            v = await s.put_share("k", "pa", b"epoch1", public_key=pk, session_id="rs1",
                                  version=None, pending=True)
            assert v == 1
            assert await s.get_share("k", "pa") == b"epoch0"
            assert await s.get_pending_share("k", "pa", "rs1") == b"epoch1"
            assert [x["state"] for x in await s.list_shares("pa")] == ["active", "pending"]
            # failed: the pending share goes, the active one stays
            assert await s.discard_pending("k", "pa", "rs1") == 1
            assert await s.get_share("k", "pa") == b"epoch0"
            assert [x["version"] for x in await s.list_shares("pa")] == [0]
            # completed: the new share becomes the only one
            await s.put_share("k", "pa", b"epoch1b", public_key=pk, session_id="rs2",
                              version=None, pending=True)
            assert await s.switch_shares("k", "pa", session_id="rs2", activate=True,
                                         retire=False) == {"activated": 1, "deleted": 1}
            assert await s.get_share("k", "pa") == b"epoch1b"
            assert [x["state"] for x in await s.list_shares("pa")] == ["active"]
            # idempotent
            assert await s.switch_shares("k", "pa", session_id="rs2", activate=True,
                                         retire=False) == {"activated": 0, "deleted": 0}
            # an old member leaving the committee
            await s.put_share("k", "pb", b"old", public_key=pk, session_id="kg")
            assert await s.switch_shares("k", "pb", session_id="rs3", activate=False,
                                         retire=True) == {"activated": 0, "deleted": 1}
            assert await s.get_share("k", "pb") is None
            # key records are updated in place
            await s.put_key({"key_id": "k", "public_key": pk, "epoch": 0})
            assert await s.update_key({"key_id": "k", "public_key": pk, "epoch": 1})
            assert (await s.get_key(key_id="k"))["epoch"] == 1
            assert not await s.update_key({"key_id": "k", "public_key": "03" + "33" * 32})
        finally:
            await s.close()
    run(main())


def test_store_without_state_column_is_migrated(tmp_path):
    """A share table made before pending shares existed gains the column, rows stay
    active."""
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE shares (key_id TEXT NOT NULL, party_id TEXT NOT NULL, "
                "version INTEGER NOT NULL, public_key TEXT NOT NULL, session_id TEXT NOT NULL, "
                "nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, dek_nonce BLOB NOT NULL, "
                "wrapped_dek BLOB NOT NULL, kek_id TEXT NOT NULL, created_at REAL NOT NULL, "
                "PRIMARY KEY (key_id, party_id, version))")
    con.close()

    async def main() -> None:
        s = await _open(f"sqlite://{db}")
        try:
            await s.put_share("k", "p", b"x", public_key="02" + "44" * 32, session_id="s")
            assert await s.get_share("k", "p") == b"x"
        finally:
            await s.close()
        s = await _open(f"sqlite://{db}")  # a second open does not add it again
        await s.close()
    run(main())


def test_tampered_share_does_not_decrypt(store_url):
    async def main() -> None:
        s = await _open(store_url)
        try:
            await s.put_share("k2", "pa", b"share", public_key="03" + "22" * 32,
                              session_id="s")
            # move the row to another key id: the associated data no longer matches
            p = s._p
            await s._run(lambda: s._tx(lambda ex: ex(
                f"UPDATE {p}shares SET key_id = ? WHERE key_id = ?", ("k3", "k2"))))
            with pytest.raises(StoreError):
                await s.get_share("k3", "pa")
        finally:
            await s.close()
    run(main())


def test_sessions_cas_and_tokens(store_url):
    async def main() -> None:
        s = await _open(store_url)
        try:
            doc = _doc()
            sid = doc["session_id"]
            await s.create_session(doc, [("h1", "p1", time.time() + 60),
                                         ("h2", "p2", time.time() - 1)])
            with pytest.raises(StoreConflict):
                await s.create_session(doc)
            got, ver = await s.get_session(sid)
            assert got == doc and ver == 1
            got["status"] = "in_progress"
            assert await s.update_session(got, ver)
            assert not await s.update_session(got, ver)  # stale version
            again, ver2 = await s.get_session(sid)
            assert again["status"] == "in_progress" and ver2 == 2
            assert await s.get_session(str(uuid.uuid4())) is None
            assert await s.use_token("h1") == "ok"
            assert await s.use_token("h1") == "used"
            assert await s.use_token("h2") == "expired"
            assert await s.use_token("nope") == "unknown"
            st = await s.token_state("h1")
            assert st["party_id"] == "p1" and st["used_at"] is not None
            other = _doc("waiting", deadline=time.time() - 5)
            await s.create_session(other)
            waiting = await s.list_sessions(["waiting"])
            assert [d["session_id"] for d in waiting] == [other["session_id"]]
            assert await s.list_sessions(["in_progress"], deadline_before=time.time()) == []
            assert len(await s.list_sessions(["waiting", "in_progress"])) == 2
            assert await s.count_sessions() == 2
        finally:
            await s.close()
    run(main())


def test_keys_and_records(store_url):
    async def main() -> None:
        s = await _open(store_url)
        try:
            key = {"key_id": "a" * 32, "public_key": "02" + "33" * 32, "parties": [],
                   "created_at": 1.0}
            await s.put_key(key)
            with pytest.raises(StoreConflict):
                await s.put_key(key)
            assert await s.get_key(key_id="a" * 32) == key
            assert await s.get_key(public_key="02" + "33" * 32) == key
            assert await s.get_key(key_id="b" * 32) is None
            assert len(await s.list_keys()) == 1
            assert await s.put_record("user", "u1", {"name": "x"})
            assert not await s.put_record("user", "u1", {"name": "y"})
            assert await s.put_record("user", "u1", {"name": "z"}, create=False)
            assert await s.get_record("user", "u1") == {"name": "z"}
            assert [r["name"] for r in await s.list_records("user")] == ["z"]
            assert await s.delete_record("user", "u1")
            assert await s.get_record("user", "u1") is None
        finally:
            await s.close()
    run(main())


def test_bad_urls():
    async def main() -> None:
        for url in ["mysql://x", "sqlite://", "sqlite:///tmp/x.db?namespace=Bad-Name"]:
            with pytest.raises(StoreError):
                await open_store(url, None)
    run(main())


def test_sqlite_file_is_shared(tmp_path):
    """Two handles (two processes in deployment) see one database."""
    url = f"sqlite://{tmp_path / 'shared.db'}"

    async def main() -> None:
        a = await _open(url)
        b = await _open(url)
        try:
            await a.put_share("k", "p", b"x", public_key="02" + "44" * 32, session_id="s")
            assert await b.get_share("k", "p") == b"x"
        finally:
            await a.close()
            await b.close()
    run(main())
    con = sqlite3.connect(tmp_path / "shared.db")
    assert con.execute("SELECT COUNT(*) FROM kek").fetchone()[0] == 1


def test_serve_on_postgres(pg_url, tmp_path):
    """``tss serve --store postgresql://...``: every component in its own namespace of one
    database; a keygen and a signature go through it."""
    import hashlib

    import psycopg
    from node_support import API_KEY, ServeProcess, verify_der

    from tss.node.client import CoordinatorClient

    async def main(p: ServeProcess) -> None:
        async with CoordinatorClient(p.url("coordinator"), API_KEY) as c:
            s = await c.keygen(3, 2, [{"party_id": f"server-party-{i}"} for i in (1, 2, 3)])
            v = await c.wait(s["session_id"], timeout=120)
            assert v["status"] == "completed", v
            mh = hashlib.sha256(b"postgres").digest()
            sg = await c.sign(mh, key_id=v["result"]["key_id"])
            w = await c.wait(sg["session_id"], timeout=60)
            assert w["status"] == "completed", w
            verify_der(v["result"]["public_key"], mh, bytes.fromhex(w["result"]["der"]))

    with ServeProcess(tmp_path / "data", args=("--store", pg_url)) as p:
        asyncio.run(main(p))
    with psycopg.connect(pg_url) as con:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        assert {"coordinator_sessions", "party_server_party_1_shares", "backup_kek"} <= tables
        n = con.execute("SELECT COUNT(*) FROM party_server_party_2_shares").fetchone()[0]
        assert n == 1
        blob = con.execute("SELECT ciphertext FROM party_server_party_2_shares").fetchone()[0]
        assert not bytes(blob).startswith(b"TSSK")  # the share's magic: never in clear
    # nothing went to SQLite but the bus
    assert [f.name for f in (tmp_path / "data").glob("*.db")] == ["bus.db"]
