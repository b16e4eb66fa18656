"""Sessions per minute through the whole node system, against the library alone.

    python benchmarks/bench_service.py [--mode cluster|single] [--keygens 4] [--signs 12]
                                       [--inflight 3] [--write-doc]

* ``cluster``: coordinator and three server parties as separate ``tss serve --role``
  processes over the SQLite bus (the one-host deployment; uses every core);
* ``single``: ``tss serve`` with every role in one process (one core for all parties: the
  arithmetic holds the GIL).

The library baseline runs the same work (2-of-3 keygen with fresh Paillier keys; presign plus
sign for 2 parties) with ``tss.simulate_*`` in a pool of one process per core, so both sides
use the whole machine. Overhead = 1 - service rate / library rate. ``--write-doc`` replaces the
"Measured throughput" section of docs/node.md. Under pytest (``make bench``) a small run checks
that the numbers come out.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

API_KEY = "bench-key"
SERVERS = ("server-party-1", "server-party-2", "server-party-3")
ROLE_PORTS = ("coordinator", "session-coordinator", "router", "party-api", "identity",
              "backup", "mpc-service")
DOC = Path(__file__).resolve().parent.parent / "docs" / "node.md"


# ---------------------------------------------------------------------- library alone
def _lib_keygen(_: int) -> float:
    import tss
    from tss.aux import pregenerate

    t0 = time.process_time()
    keys = pregenerate(3, processes=1)
    tss.simulate_keygen(2, 3, paillier_keys=keys)
    return time.process_time() - t0


_SHARES: list | None = None


def _init_worker(shares: list[bytes]) -> None:
    global _SHARES
    import tss

    _SHARES = [tss.KeyShare.from_bytes(b) for b in shares]


def _noop(_: int) -> None:
    time.sleep(0.05)


def _lib_sign(i: int) -> float:
    assert _SHARES is not None
    import tss

    mh = hashlib.sha256(str(i).encode()).digest()
    t0 = time.process_time()
    sig = tss.simulate_sign(_SHARES[:2], mh)
    assert sig.verify(_SHARES[0].public_key, mh)
    return time.process_time() - t0


def library_rates(keygens: int, signs: int) -> dict[str, float]:
    """The same sessions with ``tss.simulate_*`` in one worker process per core (workers
    started, imported and given the signing key before the clock starts). Returns sessions
    per minute and CPU seconds per session."""
    import tss

    cores = os.cpu_count() or 1
    shares = [s.to_bytes() for s in tss.simulate_keygen(2, 3)]
    out = {}
    with ProcessPoolExecutor(cores, initializer=_init_worker, initargs=(shares,)) as pool:
        list(pool.map(_noop, range(4 * cores)))
        for kind, fn, n in (("keygen", _lib_keygen, keygens), ("sign", _lib_sign, signs)):
            t0 = time.perf_counter()
            cpu = sum(pool.map(fn, range(n), chunksize=1))
            out[kind] = n * 60 / (time.perf_counter() - t0)
            out[kind + "_cpu"] = cpu / n
    return out


# ---------------------------------------------------------------------- the service
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    def __init__(self, mode: str, root: Path) -> None:
        self.mode = mode
        self.root = root
        self.procs: list[subprocess.Popen] = []
        self.coordinator_port = _free_port()

    def _start(self, name: str, role: str, *extra: str) -> None:
        ports = {r: _free_port() for r in ROLE_PORTS}
        ports["coordinator"] = self.coordinator_port
        cmd = [sys.executable, "-m", "tss.node", "serve", "--role", role, "--data-dir",
               str(self.root / name), "--api-key", API_KEY, "--bus",
               f"sqlite://{self.root / 'bus.db'}", "--keygen-timeout", "600",
               "--sign-timeout", "300", "--join-timeout", "300", *extra]
        for r, p in ports.items():
            cmd += [f"--{r}-port", str(p)]
        env = dict(os.environ, TSS_KEK_PASSPHRASE="bench")
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - kept for the process
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                           env=env, start_new_session=True))

    def start(self) -> None:
        if self.mode == "single":
            self._start("all", "all")
        else:
            self._start("coordinator", "coordinator")
            for pid in SERVERS:
                self._start(pid, "party", "--party-id", pid)
        deadline = time.monotonic() + 90
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{self.coordinator_port}/api/v1/mpc/parties",
                              headers={"X-API-Key": API_KEY}, timeout=2)
                names = {p["party_id"] for p in r.json()["parties"]}
                if set(SERVERS) <= names:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """User + system CPU of every service process so far (from /proc)."""
        total = 0
        for p in self.procs:
            try:
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


async def _run_sessions(base: str, n: int, inflight: int, make) -> float:
    from tss.node.client import CoordinatorClient

    async with CoordinatorClient(base, API_KEY, timeout=60) as c:
        sem = asyncio.Semaphore(inflight)

        async def one(i: int) -> None:
            async with sem:
                s = await make(c, i)
                view = await c.wait(s["session_id"], timeout=600, interval=0.1)
                if view["status"] != "completed":
                    raise RuntimeError(f"session {view['status']}: {view['error']}")
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - t0


def service_rates(mode: str, keygens: int, signs: int, inflight: int) -> dict[str, float]:
    participants = [{"party_id": p, "device_type": "server"} for p in SERVERS]

    async def keygen(c, i):
        return await c.keygen(3, 2, participants)

    with tempfile.TemporaryDirectory(prefix="tss-bench-") as d:
        svc = Service(mode, Path(d))
        svc.start()
        try:
            base = f"http://127.0.0.1:{svc.coordinator_port}"
            # warm-up: one keygen (its key is the one we sign with)
            from tss.node.client import CoordinatorClient

            async def warm() -> str:
                async with CoordinatorClient(base, API_KEY) as c:
                    s = await c.keygen(3, 2, participants)
                    v = await c.wait(s["session_id"], timeout=600)
                    return v["result"]["key_id"]
            key_id = asyncio.run(warm())

            async def sign(c, i):
                mh = hashlib.sha256(f"bench {i}".encode()).digest()
                pair = [SERVERS[i % 3], SERVERS[(i + 1) % 3]]
                return await c.sign(mh, key_id=key_id, participants=pair)

            out: dict[str, float] = {}
            for kind, make, n in (("keygen", keygen, keygens), ("sign", sign, signs)):
                c0 = svc.cpu_seconds()
                wall = asyncio.run(_run_sessions(base, n, inflight, make))
                out[kind] = n * 60 / wall
                out[kind + "_cpu"] = (svc.cpu_seconds() - c0) / n
        finally:
            svc.stop()
    return out


def measure(mode: str, keygens: int, signs: int, inflight: int) -> str:
    load = os.getloadavg()[0]
    lib = library_rates(keygens, signs)
    svc = service_rates(mode, keygens, signs, inflight)
    shape = "coordinator + 3 party processes" if mode == "cluster" else "one process"
    lines = [f"Machine: {os.cpu_count()} cores (load average {load:.1f} at the start). Service "
             f"mode `{mode}` ({shape}, SQLite bus), {inflight} sessions in flight; "
             f"{keygens} keygens (2-of-3, fresh Paillier keys) and {signs} signs "
             "(2 parties, presign + sign).", "",
             "| | library alone (all cores) | through the service | overhead |",
             "|---|---:|---:|---:|"]
    for kind in ("keygen", "sign"):
        lines.append(f"| {kind}s per minute | {lib[kind]:.1f} | {svc[kind]:.1f} | "
                     f"{1 - svc[kind] / lib[kind]:+.0%} |")
        lines.append(f"| CPU seconds per {kind} | {lib[kind + '_cpu']:.2f} | "
                     f"{svc[kind + '_cpu']:.2f} | "
                     f"{svc[kind + '_cpu'] / lib[kind + '_cpu'] - 1:+.0%} |")
    return "\n".join(lines)


def write_doc(text: str) -> None:
    heading = "## Measured throughput"
    body = f"{heading}\n\n{text}\n"
    if not DOC.exists():
        return
    lines = DOC.read_text().splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == heading), None)
    if start is None:
        DOC.write_text(DOC.read_text().rstrip("\n") + "\n\n" + body)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    tail = "".join(lines[end:])
    DOC.write_text("".join(lines[:start]) + body + ("\n" + tail if tail else ""))


def test_service_throughput_smoke() -> None:
    text = measure("cluster", keygens=1, signs=2, inflight=2)
    print(text)
    assert "| keygen |" in text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["cluster", "single", "both"], default="cluster")
    ap.add_argument("--keygens", type=int, default=4)
    ap.add_argument("--signs", type=int, default=12)
    ap.add_argument("--inflight", type=int, default=3)
    ap.add_argument("--write-doc", action="store_true")
    a = ap.parse_args()
    modes = ["cluster", "single"] if a.mode == "both" else [a.mode]
    text = "\n\n".join(measure(m, a.keygens, a.signs, a.inflight) for m in modes)
    text += ("\n\nOverhead in CPU seconds is the robust figure: the machine is shared, so "
             "rates move with the load; the service's CPU includes the coordinator, the bus "
             "polling, HTTP, JSON, the sealing and the store.")
    print(text)
    if a.write_doc:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
