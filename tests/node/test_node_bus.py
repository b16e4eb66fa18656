"""One conformance suite for every bus backend: memory, SQLite (also across processes) and
NATS JetStream against a real ``nats-server -js`` on a free loopback port."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from node_support import nats_server

from tss.node.bus import Bus, BusError, open_bus, subject_matches

_n = itertools.count()


@pytest.fixture(scope="module")
def nats_url() -> Iterator[str]:
    with nats_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "nats"])
def make_bus(request: pytest.FixtureRequest, tmp_path) -> Callable[[], Bus]:
    """A factory of buses that share one backing stream (two processes' view of it)."""
    kind = request.param
    n = next(_n)
    if kind == "memory":
        url = f"memory://conformance-{n}-{time.monotonic_ns()}"
    elif kind == "sqlite":
        url = f"sqlite://{tmp_path / 'bus.db'}?poll=0.02"
    else:
        base = request.getfixturevalue("nats_url")
        url = f"{base}?stream=T{n}x{time.monotonic_ns()}&prefix=t{n}&bucket=b{n}x{time.time_ns()}"
    return lambda: open_bus(url)


def run(coro):
    return asyncio.run(coro)


def test_publish_fetch_in_order(make_bus):
    async def main() -> None:
        async with make_bus() as bus:
            seqs = [await bus.publish("a.b", f"m{i}".encode()) for i in range(5)]
            assert seqs == sorted(seqs) and len(set(seqs)) == 5
            got = await bus.fetch("a.b")
            assert [m.data for m in got] == [f"m{i}".encode() for i in range(5)]
            assert [m.seq for m in got] == seqs
            assert all(m.subject == "a.b" for m in got)
            later = await bus.fetch("a.b", after=seqs[1], limit=2)
            assert [m.data for m in later] == [b"m2", b"m3"]
            assert await bus.fetch("a.c") == []
            assert await bus.last_seq() >= seqs[-1]
    run(main())


def test_wildcards(make_bus):
    async def main() -> None:
        async with make_bus() as bus:
            await bus.publish("sess.1.to.0", b"x0")
            await bus.publish("sess.1.to.1", b"x1")
            await bus.publish("sess.2.to.0", b"y0")
            await bus.publish("sess.1.ctl", b"c")
            await bus.publish("sess_1.to.0", b"not-a-match")
            assert [m.data for m in await bus.fetch("sess.1.to.*")] == [b"x0", b"x1"]
            assert [m.data for m in await bus.fetch("sess.*.to.0")] == [b"x0", b"y0"]
            assert [m.data for m in await bus.fetch("sess.1.>")] == [b"x0", b"x1", b"c"]
            assert len(await bus.fetch(">")) == 5
    run(main())


def test_msg_id_deduplicates(make_bus):
    async def main() -> None:
        async with make_bus() as bus:
            s1 = await bus.publish("d.x", b"one", msg_id="id-1")
            s2 = await bus.publish("d.x", b"one again", msg_id="id-1")
            s3 = await bus.publish("d.x", b"two", msg_id="id-2")
            assert s1 == s2 and s3 > s1
            got = await bus.fetch("d.x")
            assert [m.data for m in got] == [b"one", b"two"]
            assert got[0].msg_id == "id-1"
    run(main())


def test_fetch_waits_and_wakes(make_bus):
    async def main() -> None:
        async with make_bus() as reader, make_bus() as writer:
            t0 = time.monotonic()
            assert await reader.fetch("w.x", timeout=0.3) == []
            assert time.monotonic() - t0 >= 0.25

            async def later() -> None:
                await asyncio.sleep(0.2)
                await writer.publish("w.x", b"hello")
            task = asyncio.create_task(later())
            t0 = time.monotonic()
            got = await reader.fetch("w.x", timeout=5.0)
            waited = time.monotonic() - t0
            await task
            assert [m.data for m in got] == [b"hello"]
            assert waited < 2.0
    run(main())


def test_two_handles_share_the_stream(make_bus):
    async def main() -> None:
        async with make_bus() as a, make_bus() as b:
            await a.publish("s.x", b"from a")
            await b.publish("s.x", b"from b")
            assert [m.data for m in await a.fetch("s.x")] == [b"from a", b"from b"]
            await a.kv_put("k.shared", b"1")
            entry = await b.kv_get("k.shared")
            assert entry is not None and entry.value == b"1"
    run(main())


def test_kv(make_bus):
    async def main() -> None:
        async with make_bus() as bus:
            assert await bus.kv_get("jti.abc") is None
            r1 = await bus.kv_create("jti.abc", b"first")
            assert r1 is not None
            assert await bus.kv_create("jti.abc", b"second") is None
            e = await bus.kv_get("jti.abc")
            assert e is not None and e.value == b"first" and e.revision == r1
            r2 = await bus.kv_update("jti.abc", b"updated", r1)
            assert r2 is not None and r2 != r1
            assert await bus.kv_update("jti.abc", b"stale", r1) is None
            assert (await bus.kv_get("jti.abc")).value == b"updated"
            assert await bus.kv_update("missing.key", b"x", 1) is None
            r3 = await bus.kv_put("jti.abc", b"put")
            assert (await bus.kv_get("jti.abc")).revision == r3
            await bus.kv_delete("jti.abc")
            assert await bus.kv_get("jti.abc") is None
            assert await bus.kv_create("jti.abc", b"again") is not None
    run(main())


def test_durable_subscription_resumes_after_ack(make_bus):
    async def main() -> None:
        async with make_bus() as bus:
            for i in range(3):
                await bus.publish("q.in", f"{i}".encode())
            sub = bus.subscribe("q.>", durable="worker")
            m0 = await sub.next(2.0)
            m1 = await sub.next(2.0)
            assert (m0.data, m1.data) == (b"0", b"1")
            await sub.ack(m0)  # m1 is not acknowledged: it comes again after a restart
        async with make_bus() as bus2:
            sub2 = bus2.subscribe("q.>", durable="worker")
            again = await sub2.next(2.0)
            assert again is not None and again.data == b"1"
            assert (await sub2.next(2.0)).data == b"2"
            assert await sub2.next(0.2) is None
            fresh = await bus2.subscribe("q.>", deliver_new=True)
            await bus2.publish("q.in", b"3")
            assert (await fresh.next(2.0)).data == b"3"
    run(main())


def test_bad_names_are_refused(make_bus):
    async def main() -> None:
        async with make_bus() as bus:
            for subject in ["", "a..b", "a.*", "a.>", "a b", "a.ü", "x" * 600]:
                with pytest.raises(BusError):
                    await bus.publish(subject, b"")
            for filt in ["a.>.b", "a..b", "", "a b"]:
                with pytest.raises(BusError):
                    await bus.fetch(filt)
            for key in ["", "a..b", "a b", ".a"]:
                with pytest.raises(BusError):
                    await bus.kv_get(key)
            with pytest.raises(BusError):
                await bus.publish("a.b", "text")  # type: ignore[arg-type]
    run(main())


def test_subject_matching():
    assert subject_matches("a.*.c", "a.b.c")
    assert not subject_matches("a.*.c", "a.b.d")
    assert subject_matches("a.>", "a.b.c")
    assert not subject_matches("a.>", "a")
    assert not subject_matches("a.b", "a.b.c")


_WRITER = """
import asyncio, sys
from tss.node.bus import open_bus
async def main():
    bus = open_bus(sys.argv[1])
    await bus.publish("xp.msg", b"from another process", msg_id="xp-1")
    await bus.kv_put("xp.key", b"v")
    await bus.close()
asyncio.run(main())
"""


def test_sqlite_across_processes(tmp_path):
    url = f"sqlite://{tmp_path / 'shared.db'}?poll=0.02"

    async def main() -> None:
        async with open_bus(url) as bus:
            await bus.publish("xp.first", b"here")
            proc = subprocess.Popen([sys.executable, "-c", _WRITER, url])
            try:
                got = await bus.fetch("xp.msg", timeout=30.0)
            finally:
                proc.wait(30)
            assert proc.returncode == 0
            assert [m.data for m in got] == [b"from another process"]
            assert (await bus.kv_get("xp.key")).value == b"v"
    run(main())
