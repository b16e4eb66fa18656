"""Multi-process end to end: coordinator, router and three server parties, each its own
``tss serve --role ...`` process, over the SQLite bus (and again over a real
``nats-server -js``). Faults: a party killed mid-keygen makes the session ``failed`` with a
reason shortly after its deadline and leaves the other parties' stores unchanged; the restarted
party signs with the share it stored before."""

from __future__ import annotations

import asyncio
import hashlib
import time

from node_support import (
    API_KEY,
    SEED_PARTICIPANTS,
    SERVERS,
    Cluster,
    cluster,
    nats_server,
    registered,
    verify_der,
)

from tss.node.client import CoordinatorClient, DeviceParty


async def _keygen_and_sign(cl: Cluster) -> dict:
    async with CoordinatorClient(cl.coordinator, API_KEY) as c:
        await registered(c, SERVERS)
        s = await c.keygen(3, 2, SEED_PARTICIPANTS)
        view = await c.wait(s["session_id"], timeout=120)
        assert view["status"] == "completed", (view, cl.procs["coordinator"].tail())
        key = view["result"]
        mh = hashlib.sha256(b"multi-process").digest()
        sg = await c.sign(mh, key_id=key["key_id"], participants=["server-party-1",
                                                                   "server-party-3"])
        done = await c.wait(sg["session_id"], timeout=60)
        assert done["status"] == "completed", done
        verify_der(key["public_key"], mh, bytes.fromhex(done["result"]["der"]))
        return key


def test_sqlite_bus_processes_kill_and_restart(tmp_path):
    bus = f"sqlite://{tmp_path / 'shared' / 'bus.db'}"
    with cluster(tmp_path, bus) as cl:
        key = asyncio.run(_keygen_and_sign(cl))

        # a device in this process joins through the router process
        async def device() -> None:
            async with CoordinatorClient(cl.coordinator, API_KEY) as c:
                s = await c.keygen(2, 2, [{"party_id": "phone", "device_type": "mobile"},
                                          {"party_id": "server-party-2"}])
                phone = DeviceParty(cl.router, "phone")
                share = await phone.keygen(s["session_id"], s["join_tokens"]["phone"],
                                           timeout=120)
                mh = hashlib.sha256(b"from the phone").digest()
                sg = await c.sign(mh, key_id=share.key_id)
                sig = await phone.sign(sg["session_id"], sg["join_tokens"]["phone"], share,
                                       timeout=60)
                verify_der(share.public_key.hex(), mh, sig.to_der())
        asyncio.run(device())

        # ---- kill server-party-3 in the middle of a keygen
        before = {pid: cl.keys_of(pid) for pid in ("server-party-1", "server-party-2")}
        assert all(key["key_id"] in v for v in before.values())

        async def killed() -> dict:
            async with CoordinatorClient(cl.coordinator, API_KEY) as c:
                s = await c.keygen(3, 2, SEED_PARTICIPANTS, timeout_seconds=12)
                t0 = time.monotonic()
                while (await c.session(s["session_id"]))["status"] == "waiting":
                    assert time.monotonic() - t0 < 10
                    await asyncio.sleep(0.03)
                cl.procs["server-party-3"].kill()
                view = await c.wait(s["session_id"], timeout=30, interval=0.2)
                view["elapsed"] = time.monotonic() - t0
                return view
        view = asyncio.run(killed())
        assert view["status"] == "failed", view
        assert view["error"]["code"] == "deadline_exceeded"
        assert "server-party-3" in view["error"]["culprits"]
        assert "server-party-3" in view["error"]["reason"]
        assert view["elapsed"] < 12 + 8
        after = {pid: cl.keys_of(pid) for pid in ("server-party-1", "server-party-2")}
        assert after == before

        # ---- the restarted party signs with the share it stored before the crash
        cl.start_party("server-party-3")

        async def restarted() -> None:
            async with CoordinatorClient(cl.coordinator, API_KEY) as c:
                mh = hashlib.sha256(b"after restart").digest()
                sg = await c.sign(mh, key_id=key["key_id"],
                                  participants=["server-party-3", "server-party-2"])
                done = await c.wait(sg["session_id"], timeout=60)
                assert done["status"] == "completed", done
                verify_der(key["public_key"], mh, bytes.fromhex(done["result"]["der"]))
        asyncio.run(restarted())


def test_nats_bus_processes(tmp_path):
    with nats_server() as url, cluster(tmp_path, url) as cl:
        asyncio.run(_keygen_and_sign(cl))
