"""Reshare and refresh with a device, the whole system in one event loop (coordinator, router,
a server party and the backup party through the real HTTP apps, memory bus): the lost-phone
path. A 2-of-3 key of phone + server-party-1 + backup is reshared by server-party-1 and backup
alone to a new phone (same public key, epoch 1); the new phone signs with server-party-1
(verified with ``cryptography``); then a refresh of all three (epoch 2) and another signature.
A forged ``completed`` event on the bus changes nothing: only the coordinator's signed final
event switches shares. A refresh that fails after the servers stored their new shares (the
phone reports a failure at the very end) leaves every party on its old share: the pending ones
are dropped on the signed ``failed``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging

import httpx
from node_support import verify_der

import tss
from tss.node import subjects
from tss.node.api import coordinator_app
from tss.node.bus.memory import MemoryBus
from tss.node.client import ClientError, CoordinatorClient, DeviceParty
from tss.node.coordinator import Coordinator
from tss.node.crypto import IdentityKey, KdfParams
from tss.node.party import PartyNode
from tss.node.router import router_app
from tss.node.run import ProtocolRun, RunFailed
from tss.node.store import open_store

FAST = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
API_KEY = "test-key"


class LateFailRun(ProtocolRun):
    """A device that completes its part, then reports a failure once the others are done."""

    async def run(self, transport):  # type: ignore[override]
        await super().run(transport)
        await asyncio.sleep(1.0)
        raise RunFailed("device_error", "the device gave up at the very end")


def test_lost_phone_reshare_then_refresh(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="tss.node.party"):
        asyncio.run(_scenario(tmp_path))
    dropped = [r.getMessage() for r in caplog.records if "pending share(s) dropped" in
               r.getMessage()]
    # both servers had stored their new share before the refresh failed, and dropped it
    assert len(dropped) == 2 and all(": 1 pending share(s) dropped" in m for m in dropped)


async def _active(store, key_id: str, pid: str) -> tss.KeyShare | None:
    raw = await store.get_share(key_id, pid)
    return None if raw is None else tss.KeyShare.from_bytes(raw)


async def _scenario(tmp_path) -> None:
    bus = MemoryBus()
    cstore = await open_store(f"sqlite://{tmp_path / 'coord.db'}", "pw", kdf_params=FAST)
    coord = Coordinator(bus, cstore, IdentityKey(), keygen_timeout=90, sign_timeout=60,
                        sweep_interval=0.2)
    stores = {}
    parties = []
    for pid, role in (("server-party-1", "server"), ("backup", "backup")):
        stores[pid] = await open_store(f"sqlite://{tmp_path / (pid + '.db')}", "pw-" + pid,
                                       kdf_params=FAST)
        parties.append(PartyNode(pid, bus, stores[pid], role=role, paillier_pool=0))
    await coord.start()
    for p in parties:
        await p.start()
    capp = httpx.ASGITransport(app=coordinator_app(coord, API_KEY))
    rapp = httpx.ASGITransport(app=router_app(bus))
    client = CoordinatorClient("http://coordinator", API_KEY, transport=capp)
    phone = DeviceParty("http://router", "phone", transport=rapp,
                        coordinator_public_key=coord.public_key)
    try:
        created = await client.keygen(3, 2, [
            {"party_id": "phone", "device_type": "mobile"},
            {"party_id": "server-party-1", "device_type": "server"},
            {"party_id": "backup", "device_type": "backup"}])
        old_share = await phone.keygen(created["session_id"],
                                       created["join_tokens"]["phone"], timeout=120)
        key_id, pub = old_share.key_id, old_share.public_key.hex()
        assert (await client.wait(created["session_id"]))["status"] == "completed"

        # ---- the phone is lost: server-party-1 and backup reshare to a new phone
        new_phone = DeviceParty("http://router", "phone-2", transport=rapp,
                                coordinator_public_key=coord.public_key)
        r = await client.reshare(2, [{"party_id": "phone-2", "device_type": "mobile"},
                                     {"party_id": "server-party-1", "device_type": "server"},
                                     {"party_id": "backup", "device_type": "backup"}],
                                 key_id=key_id, old_participants=["server-party-1", "backup"])
        assert r["session_type"] == "reshare" and r["status"] == "waiting"
        assert r["new_threshold_t"] == 2 and r["new_threshold_n"] == 3
        assert set(r["join_tokens"]) == {"phone-2", "server-party-1", "backup"}
        old_server = await _active(stores["server-party-1"], key_id, "server-party-1")
        new_share = await new_phone.reshare(r["session_id"], r["join_tokens"]["phone-2"],
                                            timeout=120)
        v = await client.wait(r["session_id"], timeout=30)
        assert v["status"] == "completed", v
        assert v["result"]["public_key"] == pub and v["result"]["key_id"] == key_id
        assert v["result"]["epoch"] == 1 and v["result"]["new_threshold_n"] == 3
        assert new_share is not None and new_share.public_key.hex() == pub
        assert new_share.epoch == 1 and new_share.index == 0
        for pid in ("server-party-1", "backup"):
            for _ in range(50):  # the parties switch on the signed final event
                s = await _active(stores[pid], key_id, pid)
                if s is not None and s.epoch == 1:
                    break
                await asyncio.sleep(0.1)
            assert s is not None and s.epoch == 1, pid
            assert [x["state"] for x in await stores[pid].list_shares(pid)] == ["active"]
        assert old_server is not None and old_server.epoch == 0
        key = await client.key(key_id)
        assert [p["party_id"] for p in key["parties"]] == ["phone-2", "server-party-1",
                                                            "backup"]
        assert key["epoch"] == 1

        # ---- the new phone signs with server-party-1; the old phone cannot join any more
        mh = hashlib.sha256(b"after the lost phone").digest()
        sg = await client.sign(mh, key_id=key_id)
        assert sg["participants"] == ["phone-2", "server-party-1"]
        sig = await new_phone.sign(sg["session_id"], sg["join_tokens"]["phone-2"], new_share,
                                   timeout=60)
        verify_der(pub, mh, sig.to_der())

        # ---- refresh: every party, same committee, epoch 2
        rf = await client.refresh(key_id=key_id, timeout_seconds=40)
        assert rf["session_type"] == "refresh"
        # a forged "completed" on the bus is ignored by the parties (not signed)
        await bus.publish(subjects.ctl(rf["session_id"]), json.dumps(
            {"sid": rf["session_id"], "type": "completed", "result": {},
             "error": None, "signature": "AAAA"}).encode())
        refreshed = await new_phone.refresh(rf["session_id"], rf["join_tokens"]["phone-2"],
                                            new_share, timeout=120)
        v = await client.wait(rf["session_id"], timeout=30)
        assert v["status"] == "completed", v
        assert refreshed.epoch == 2 and refreshed.public_key.hex() == pub
        assert refreshed.secret_share != new_share.secret_share
        mh = hashlib.sha256(b"after refresh").digest()
        sg = await client.sign(mh, key_id=key_id)
        sig = await new_phone.sign(sg["session_id"], sg["join_tokens"]["phone-2"], refreshed,
                                   timeout=60)
        verify_der(pub, mh, sig.to_der())
        for pid in ("server-party-1", "backup"):
            rows = await stores[pid].list_shares(pid)
            assert len(rows) == 1 and rows[0]["state"] == "active"
            assert (await _active(stores[pid], key_id, pid)).epoch == 2
            assert await stores[pid].list_records("change") == []

        # ---- a refresh that fails after the servers hold their new (pending) shares
        rf = await client.refresh(key_id=key_id, timeout_seconds=40)
        late = DeviceParty("http://router", "phone-2", transport=rapp,
                           identity=new_phone.identity, run_factory=LateFailRun)
        try:
            await late.refresh(rf["session_id"], rf["join_tokens"]["phone-2"], refreshed,
                               timeout=60)
            raise AssertionError("the refresh must fail")
        except ClientError as exc:
            assert exc.code == "device_error"
        v = await client.wait(rf["session_id"], timeout=30)
        assert v["status"] == "failed" and v["error"]["code"] == "device_error", v
        for pid in ("server-party-1", "backup"):
            for _ in range(50):
                rows = await stores[pid].list_shares(pid)
                if [r["state"] for r in rows] == ["active"]:
                    break
                await asyncio.sleep(0.1)
            assert [r["state"] for r in rows] == ["active"], rows
            assert (await _active(stores[pid], key_id, pid)).epoch == 2
            assert await stores[pid].list_records("change") == []
        assert (await client.key(key_id))["epoch"] == 2
        mh = hashlib.sha256(b"after the failed refresh").digest()
        sg = await client.sign(mh, key_id=key_id)
        sig = await new_phone.sign(sg["session_id"], sg["join_tokens"]["phone-2"], refreshed,
                                   timeout=60)
        verify_der(pub, mh, sig.to_der())
    finally:
        await client.close()
        for p in parties:
            await p.stop()
        await coord.stop()
        for st in [cstore, *stores.values()]:
            await st.close()
        await asyncio.sleep(0)
