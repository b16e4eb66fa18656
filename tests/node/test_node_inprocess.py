"""The whole system in one event loop (coordinator, router, server party, backup and a device
client through the real HTTP apps), over a bus that duplicates, delays and cross-posts every
protocol envelope: a 2-of-3 keygen with a device, signing with the device, with a derivation
path, and the lost-device recovery path (server + backup), all verified with
``cryptography``. Duplicates, delays and a message from another session change nothing."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time

import httpx
import pytest
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
from tss.node.run import ProtocolRun
from tss.node.store import open_store

FAST = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
API_KEY = "test-key"


class FaultyBus(MemoryBus):
    """Every envelope is also sent again later without a message id (so the bus cannot
    deduplicate it), some are delayed, and one envelope of an earlier session is posted into
    each later session's mailboxes."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(7)
        self.duplicated = 0
        self.delayed = 0
        self.cross_posted = 0
        self.first: dict[str, tuple[str, bytes]] = {}
        self._tasks: set[asyncio.Task] = set()

    def _later(self, delay: float, subject: str, data: bytes, msg_id: str | None) -> None:
        async def go() -> None:
            await asyncio.sleep(delay)
            await MemoryBus.publish(self, subject, data, msg_id=msg_id)
        t = asyncio.create_task(go())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> int:
        parts = subject.split(".")
        if len(parts) == 4 and parts[0] == "sess" and parts[2] == "to":
            sid = parts[1]
            self.first.setdefault(sid, (subject, data))
            for other, (_subj, env) in list(self.first.items()):
                if other != sid and (sid, other) not in self.__dict__.setdefault("done", set()):
                    self.__dict__["done"].add((sid, other))
                    self.cross_posted += 1
                    await MemoryBus.publish(self, subject, env)
            self.duplicated += 1
            self._later(self.rng.uniform(0.0, 0.3), subject, data, None)
            if self.rng.random() < 0.3:
                self.delayed += 1
                self._later(self.rng.uniform(0.05, 0.3), subject, data, msg_id)
                return 0
        return await MemoryBus.publish(self, subject, data, msg_id=msg_id)


class CorruptingRun(ProtocolRun):
    """A cheating party (an adversary of the test): it alters the Πenc proofs it sends in
    presign round 1, before sealing them."""

    async def _send(self, transport, msgs):  # type: ignore[override]
        bad = []
        for m in msgs:
            if m.protocol == "presign" and m.round == 1 and m.recipient is not None:
                payload = bytearray(m.payload)
                payload[len(payload) // 2] ^= 0x01
                m = tss.Message(m.protocol, m.session_id, m.round, m.sender, m.recipient,
                                bytes(payload))
            bad.append(m)
        await super()._send(transport, bad)


def test_keygen_sign_recovery_with_a_faulty_bus(tmp_path):
    asyncio.run(_scenario(tmp_path))


async def _scenario(tmp_path) -> None:
    bus = FaultyBus()
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
        # ---- keygen: device + server + backup, 2 of 3
        created = await client.keygen(3, 2, [
            {"party_id": "phone", "device_type": "mobile", "device_id": "d1"},
            {"party_id": "server-party-1", "device_type": "server"},
            {"party_id": "backup", "device_type": "backup"}])
        assert created["status"] == "waiting" and set(created["join_tokens"]) == {
            "phone", "server-party-1", "backup"}
        share = await phone.keygen(created["session_id"], created["join_tokens"]["phone"],
                                   timeout=120)
        view = await client.wait(created["session_id"], timeout=30)
        assert view["status"] == "completed", view
        assert view["result"]["public_key"] == share.public_key.hex()
        assert view["result"]["key_id"] == share.key_id
        assert share.index == 0 and share.threshold == 2 and share.parties == 3
        for pid in ("server-party-1", "backup"):
            raw = await stores[pid].get_share(share.key_id, pid)
            other = tss.KeyShare.from_bytes(raw)
            assert other.public_key == share.public_key
        # the reused token is refused by the router
        with pytest.raises(ClientError) as e:
            await DeviceParty("http://router", "phone", transport=rapp).keygen(
                created["session_id"], created["join_tokens"]["phone"], timeout=5)
        assert e.value.status == 409

        # ---- sign with the device and the server, plain and along a derivation path
        for path in (None, "m/0/7"):
            mh = hashlib.sha256(f"pay {path}".encode()).digest()
            s = await client.sign(mh, key_id=share.key_id, derivation_path=path)
            assert s["participants"] == ["phone", "server-party-1"]
            sig = await phone.sign(s["session_id"], s["join_tokens"]["phone"], share,
                                   timeout=60)
            v = await client.wait(s["session_id"], timeout=30)
            assert v["status"] == "completed", v
            pub = share.public_key if path is None else tss.derive_public_key(
                share.public_key, share.chain_code, path)
            assert v["result"]["public_key"] == pub.hex()
            verify_der(pub.hex(), mh, bytes.fromhex(v["result"]["der"]))
            assert sig.to_der().hex() == v["result"]["der"]

        # ---- a stolen sign token is useless without the device's identity key
        s = stolen = await client.sign(b"\x01" * 32, key_id=share.key_id)
        thief = DeviceParty("http://router", "phone", transport=rapp)
        with pytest.raises(ClientError) as e:
            await thief.sign(s["session_id"], s["join_tokens"]["phone"], share, timeout=5)
        assert e.value.status == 403 and e.value.code == "identity_mismatch"

        # ---- a cheating device: the server's library names it, the session fails with it
        s = await client.sign(b"\x02" * 32, key_id=share.key_id)
        cheat = DeviceParty("http://router", "phone", transport=rapp, identity=phone.identity,
                            run_factory=CorruptingRun)
        with pytest.raises(ClientError):
            await cheat.sign(s["session_id"], s["join_tokens"]["phone"], share, timeout=30)
        v = await client.wait(s["session_id"], timeout=30)
        assert v["status"] == "failed", v
        assert v["error"]["code"] == "protocol_aborted" and v["error"]["culprits"] == ["phone"]
        assert "server-party-1" in v["error"]["reason"]

        # ---- lost device: server and backup sign together, only for recovery
        mh = hashlib.sha256(b"sweep").digest()
        refused = await client.sign(mh, key_id=share.key_id,
                                    participants=["server-party-1", "backup"])
        v = await client.wait(refused["session_id"], timeout=30)
        assert v["status"] == "failed" and v["error"]["code"] == "party_declined"
        assert v["error"]["culprits"] == ["backup"]
        rec = await client.sign(mh, public_key=share.public_key.hex(), purpose="recovery",
                                participants=["server-party-1", "backup"])
        v = await client.wait(rec["session_id"], timeout=60)
        assert v["status"] == "completed", v
        verify_der(share.public_key.hex(), mh, bytes.fromhex(v["result"]["der"]))

        # ---- the faults really happened
        assert bus.duplicated > 20 and bus.delayed > 3 and bus.cross_posted >= 2
        # every party saw its sessions end; only the one the thief blocked still waits
        await asyncio.sleep(0.3)
        assert {sid for p in parties for sid in p.active} <= {stolen["session_id"]}
        keys = await cstore.list_keys()
        assert [k["key_id"] for k in keys] == [share.key_id]
        reg = await bus.kv_get(subjects.kv_party("backup"))
        assert reg is not None
    finally:
        await client.close()
        for p in parties:
            await p.stop()
        await coord.stop()
        for st in [cstore, *stores.values()]:
            await st.close()
        await asyncio.sleep(0)


def test_expired_session(tmp_path):
    """Nobody joins: the session expires at its join deadline and names the missing party."""
    async def main() -> None:
        bus = MemoryBus()
        store = await open_store(f"sqlite://{tmp_path / 'c.db'}", "pw", kdf_params=FAST)
        coord = Coordinator(bus, store, IdentityKey(), join_timeout=0.5, sweep_interval=0.1)
        await coord.start()
        client = CoordinatorClient("http://c", API_KEY,
                                   transport=httpx.ASGITransport(
                                       app=coordinator_app(coord, API_KEY)))
        try:
            s = await client.keygen(2, 2, [{"party_id": "a", "device_type": "mobile"},
                                           {"party_id": "b", "device_type": "mobile"}])
            t0 = time.monotonic()
            v = await client.wait(s["session_id"], timeout=10, interval=0.05)
            assert v["status"] == "expired" and time.monotonic() - t0 < 3
            assert v["error"]["code"] == "join_timeout"
            assert v["error"]["culprits"] == ["a", "b"]
        finally:
            await client.close()
            await coord.stop()
            await store.close()
    asyncio.run(main())
