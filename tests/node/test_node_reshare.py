"""``POST /api/v1/mpc/reshare`` end to end, with real servers on loopback: coordinator, router
and four server parties, each its own ``tss serve --role ...`` process over the SQLite bus.

* A 2-of-3 key of server-party-1..3 is reshared to 2-of-3 with server-party-3 replaced by the
  new server-party-4, then to 3-of-4 (server-party-3 comes back as a new member); after each,
  the new committee signs and ``cryptography`` verifies the signature under the unchanged
  public key. The replaced party's share is deleted once the reshare completed.
* A reshare during which a party is killed fails with a reason naming it; every party keeps
  its share as it was (no pending share left, key record unchanged) and the key still signs.
* Bad input: unknown key 404, a threshold above n or below 1, a duplicate party, too few old
  parties, an unregistered new server 422, a second reshare while one runs 409, no API key
  401: JSON errors, nothing stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time

import httpx
from node_support import API_KEY, SEED_PARTICIPANTS, Cluster, cluster, registered, verify_der

from tss.node.client import ClientError, CoordinatorClient

PARTIES = ("server-party-1", "server-party-2", "server-party-3", "server-party-4")


def _servers(*names: str) -> list[dict]:
    return [{"party_id": n, "device_type": "server"} for n in names]


def _sessions(cl: Cluster) -> int:
    db = cl.procs["coordinator"].data_dir / "coordinator.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
    finally:
        con.close()


async def _sign(c: CoordinatorClient, key: dict, signers: list[str] | None, text: bytes) -> dict:
    mh = hashlib.sha256(text).digest()
    sg = await c.sign(mh, key_id=key["key_id"], participants=signers)
    done = await c.wait(sg["session_id"], timeout=60)
    assert done["status"] == "completed", done
    verify_der(key["public_key"], mh, bytes.fromhex(done["result"]["der"]))
    return done


async def _settled(cl: Cluster, key_id: str, expect: dict[str, bool]) -> None:
    """Wait until each party holds exactly one active share of the key (True) or none
    (False), and no pending one: the switch happens on the signed final event."""
    deadline = time.monotonic() + 20
    while True:
        rows = {pid: [r for r in await asyncio.to_thread(cl.shares_of, pid)
                      if r["key_id"] == key_id] for pid in expect}
        ok = all([r["state"] for r in rows[pid]] == (["active"] if want else [])
                 for pid, want in expect.items())
        if ok:
            return
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.1)


async def _bad_input(cl: Cluster, c: CoordinatorClient, key: dict) -> None:
    base = cl.coordinator + "/api/v1/mpc/reshare"
    before = _sessions(cl)
    good = {"key_id": key["key_id"], "new_threshold_t": 2,
            "new_participants": _servers("server-party-1", "server-party-2")}
    cases = [
        ({**good, "key_id": "0" * 32}, 404, "unknown_key"),
        ({**good, "key_id": None, "public_key": "02" + "11" * 32}, 404, "unknown_key"),
        ({**good, "new_threshold_t": 3}, 422, None),
        ({**good, "new_threshold_t": 0}, 422, None),
        ({**good, "new_threshold_n": 3}, 422, None),
        ({**good, "new_participants": _servers("server-party-1", "server-party-1")}, 422,
         None),
        ({**good, "old_participants": ["server-party-1", "server-party-1"]}, 422, None),
        ({**good, "old_participants": ["server-party-1"]}, 422, "not_enough_parties"),
        ({**good, "old_participants": ["server-party-1", "server-party-4"]}, 422,
         "unknown_party"),
        ({**good, "new_participants": _servers("server-party-1", "server-party-9")}, 422,
         "unknown_party"),
        ({"new_threshold_t": 2, "new_participants": good["new_participants"]}, 422, None),
    ]
    async with httpx.AsyncClient(timeout=30) as http:
        for body, status, code in cases:
            r = await http.post(base, json=body, headers={"X-API-Key": API_KEY})
            assert r.status_code == status, (body, r.status_code, r.text)
            err = r.json()["error"]
            assert err["code"] and err["message"]
            if code:
                assert err["code"] == code, (body, err)
        r = await http.post(base, json=good)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = await http.post(base, json=good, headers={"X-API-Key": "wrong"})
        assert r.status_code == 401
        r = await http.post(base, content=b"{not json", headers={"X-API-Key": API_KEY,
                                                                 "Content-Type":
                                                                 "application/json"})
        assert r.status_code == 400 and "error" in r.json()
        r = await http.post(cl.coordinator + "/api/v1/mpc/refresh", json={"key_id": "0" * 32},
                            headers={"X-API-Key": API_KEY})
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_key"
    assert _sessions(cl) == before


def test_reshare_processes(tmp_path):
    bus = f"sqlite://{tmp_path / 'shared' / 'bus.db'}"
    with cluster(tmp_path, bus, PARTIES) as cl:
        asyncio.run(_scenario(cl))


async def _scenario(cl: Cluster) -> None:
    async with CoordinatorClient(cl.coordinator, API_KEY) as c:
        await registered(c, PARTIES)
        s = await c.keygen(3, 2, SEED_PARTICIPANTS)
        view = await c.wait(s["session_id"], timeout=120)
        assert view["status"] == "completed", view
        key = view["result"]
        await _bad_input(cl, c, key)

        # ---- 2-of-3 -> 2-of-3, server-party-3 replaced by server-party-4
        r = await c.reshare(2, _servers("server-party-1", "server-party-2", "server-party-4"),
                            key_id=key["key_id"])
        assert r["session_type"] == "reshare" and r["status"] == "waiting"
        assert r["threshold_t"] == 2 and r["threshold_n"] == 3
        assert r["old_participants"] == ["server-party-1", "server-party-2", "server-party-3"]
        assert set(r["join_tokens"]) == set(PARTIES)
        # one change of a key at a time
        with_busy = await asyncio.gather(c.refresh(key_id=key["key_id"]),
                                         return_exceptions=True)
        assert isinstance(with_busy[0], ClientError) and with_busy[0].status == 409
        view = await c.wait(r["session_id"], timeout=120)
        assert view["status"] == "completed", view
        assert view["result"] == {"key_id": key["key_id"], "public_key": key["public_key"],
                                  "threshold_t": 2, "threshold_n": 3, "new_threshold_t": 2,
                                  "new_threshold_n": 3, "epoch": 1,
                                  "participants": ["server-party-1", "server-party-2",
                                                   "server-party-4"]}
        await _settled(cl, key["key_id"], {"server-party-1": True, "server-party-2": True,
                                           "server-party-3": False, "server-party-4": True})
        await _sign(c, key, ["server-party-1", "server-party-4"], b"after reshare 1")
        # the replaced party holds no share: a sign session naming it is refused
        try:
            await c.sign(b"\x05" * 32, key_id=key["key_id"],
                         participants=["server-party-3", "server-party-1"])
            raise AssertionError("server-party-3 must not be a signer any more")
        except ClientError as exc:
            assert exc.status == 422 and exc.code == "unknown_party"

        # ---- 2-of-3 -> 3-of-4: server-party-3 comes back as a new member
        r = await c.reshare(3, _servers(*PARTIES), key_id=key["key_id"])
        view = await c.wait(r["session_id"], timeout=120)
        assert view["status"] == "completed", view
        assert view["result"]["public_key"] == key["public_key"]
        assert (view["result"]["new_threshold_t"], view["result"]["new_threshold_n"],
                view["result"]["epoch"]) == (3, 4, 2)
        await _settled(cl, key["key_id"], dict.fromkeys(PARTIES, True))
        await _sign(c, key, ["server-party-2", "server-party-3", "server-party-4"],
                    b"after reshare 2")
        info = await c.key(key["key_id"])
        assert (info["threshold_t"], info["threshold_n"], info["epoch"]) == (3, 4, 2)

        # ---- a party killed mid-reshare: failed with a reason, the old key unchanged
        r = await c.reshare(2, _servers("server-party-1", "server-party-2", "server-party-3"),
                            key_id=key["key_id"], timeout_seconds=8)
        t0 = time.monotonic()
        while (await c.session(r["session_id"]))["status"] == "waiting":
            assert time.monotonic() - t0 < 8
            await asyncio.sleep(0.02)
        cl.procs["server-party-4"].kill()
        view = await c.wait(r["session_id"], timeout=30)
        assert view["status"] == "failed", view
        assert "server-party-4" in view["error"]["culprits"], view["error"]
        assert "server-party-4" in view["error"]["reason"]
        assert view["error"]["code"] == "deadline_exceeded"
        assert await c.key(key["key_id"]) == info
        await _settled(cl, key["key_id"], dict.fromkeys(PARTIES[:3], True))
        await _sign(c, key, ["server-party-1", "server-party-2", "server-party-3"],
                    b"after the failed reshare")
