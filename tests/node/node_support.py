"""Shared helpers of the node tests (a plain module, not a conftest: see
tests/protocol/protocol_support.py for why).

* ``free_port()``, ``wait_http(url)``;
* ``ServeProcess``: ``python -m tss.node serve ...`` as a subprocess on loopback, stopped by
  SIGTERM then SIGKILL, its stderr kept in a file for failure messages;
* ``Cluster`` / ``cluster()``: coordinator, router and server parties, each its own
  ``tss serve --role ...`` process over one bus; ``registered()`` waits for the parties;
* ``nats_server()`` and ``postgres_server()``: real servers on free loopback ports in temporary
  directories (skipped with a reason when the binaries are missing);
* ``verify_der()``: ECDSA verification with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

API_KEY = "change_this_api_key_to_match_your_mpc_service_config"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, *, timeout: float = 60.0, proc: subprocess.Popen | None = None,
              log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"process exited with {proc.returncode} before {url} "
                               f"answered:\n{tail}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def verify_der(public_key_hex: str, message_hash: bytes, der: bytes) -> None:
    """Raises cryptography's InvalidSignature if ``der`` is not a signature of the hash."""
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(),
                                                       bytes.fromhex(public_key_hex))
    pub.verify(der, message_hash, ec.ECDSA(Prehashed(hashes.SHA256())))


HEALTH = {"coordinator": "/health", "session-coordinator": "/health", "router": "/health",
          "party": "/health", "identity": "/api/v1/health", "backup": "/api/v1/health",
          "mpc-service": "/api/v1/health"}
PORT_FLAGS = {"coordinator": "--coordinator-port",
              "session-coordinator": "--session-coordinator-port", "router": "--router-port",
              "party": "--party-api-port", "identity": "--identity-port",
              "backup": "--backup-port", "mpc-service": "--mpc-service-port"}


class ServeProcess:
    """``tss serve`` in a subprocess. ``ports`` maps every role to a free port."""

    def __init__(self, data_dir: Path, *, role: str = "all", args: tuple[str, ...] = (),
                 ports: dict[str, int] | None = None, env: dict[str, str] | None = None,
                 name: str = "serve") -> None:
        self.data_dir = data_dir
        self.role = role
        self.args = args
        self.ports = ports or {r: free_port() for r in PORT_FLAGS}
        self.env = env or {}
        self.log = data_dir.parent / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen | None = None

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}"

    def roles(self) -> list[str]:
        return list(PORT_FLAGS) if self.role == "all" else [self.role]

    def start(self, timeout: float = 90.0) -> ServeProcess:
        self.spawn()
        return self.ready(timeout)

    def spawn(self) -> ServeProcess:
        cmd = [sys.executable, "-m", "tss.node", "serve", "--role", self.role,
               "--data-dir", str(self.data_dir), "--api-key", API_KEY,
               "--host", "127.0.0.1", "--log-level", "info"]
        for role, flag in PORT_FLAGS.items():
            cmd += [flag, str(self.ports[role])]
        cmd += list(self.args)
        env = dict(os.environ)
        env.pop("TSS_API_KEY", None)
        env.setdefault("TSS_KEK_PASSPHRASE", "test passphrase")
        env.update(self.env)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         cwd=str(self.data_dir), start_new_session=True)
        return self

    def ready(self, timeout: float = 90.0) -> ServeProcess:
        try:
            for role in self.roles():
                wait_http(self.url(role) + HEALTH[role], timeout=timeout, proc=self.proc,
                          log=self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL: the crash of a node."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------- a multi-process cluster
SERVERS = ("server-party-1", "server-party-2", "server-party-3")
SEED_PARTICIPANTS = [{"party_id": p, "device_type": "server", "device_id": f"party{i + 1}"}
                     for i, p in enumerate(SERVERS)]


class Cluster:
    """Coordinator, router and one process per server party (``parties``) over ``bus``."""

    def __init__(self, root: Path, bus: str, parties: tuple[str, ...] = SERVERS) -> None:
        self.root = root
        self.bus = bus
        self.parties = parties
        self.coordinator_port = free_port()
        self.router_port = free_port()
        self.procs: dict[str, ServeProcess] = {}

    def _proc(self, name: str, role: str, *extra: str) -> ServeProcess:
        ports = {r: free_port() for r in PORT_FLAGS}
        ports["coordinator"] = self.coordinator_port
        ports["router"] = self.router_port
        return ServeProcess(self.root / name, role=role, ports=ports, name=name,
                            args=("--bus", self.bus, "--paillier-pool", "1", *extra))

    def _party(self, pid: str) -> ServeProcess:
        old = self.procs.get(pid)
        p = self._proc(pid, "party", "--party-id", pid)
        if old is not None:
            p.ports["party"] = old.ports["party"]
        self.procs[pid] = p
        return p

    def start_party(self, pid: str) -> ServeProcess:
        return self._party(pid).start()

    def start(self) -> Cluster:
        self.procs["coordinator"] = self._proc("coordinator", "coordinator").start()
        # the coordinator made the bus tables: the others start side by side
        rest = [self._proc("router", "router").spawn()]
        self.procs["router"] = rest[0]
        rest += [self._party(pid).spawn() for pid in self.parties]
        for p in rest:
            p.ready()
        return self

    def stop(self) -> None:
        for p in self.procs.values():
            with contextlib.suppress(Exception):
                p.stop()

    @property
    def coordinator(self) -> str:
        return f"http://127.0.0.1:{self.coordinator_port}"

    @property
    def router(self) -> str:
        return f"http://127.0.0.1:{self.router_port}"

    def shares_of(self, pid: str) -> list[dict[str, Any]]:
        """The party's share rows (key id, version, state), from its admin API."""
        r = httpx.get(self.procs[pid].url("party") + f"/api/v1/parties/{pid}/keys",
                      headers={"X-API-Key": API_KEY}, timeout=10)
        assert r.status_code == 200, r.text
        return list(r.json()["keys"])

    def keys_of(self, pid: str) -> list[str]:
        """The ids of the keys the party holds an active share of."""
        return sorted({k["key_id"] for k in self.shares_of(pid) if k["state"] == "active"})


@contextlib.contextmanager
def cluster(root: Path, bus: str, parties: tuple[str, ...] = SERVERS) -> Iterator[Cluster]:
    c = Cluster(root, bus, parties)
    try:
        yield c.start()
    finally:
        c.stop()


async def registered(c: Any, names: tuple[str, ...]) -> None:
    """Wait until the coordinator (a ``CoordinatorClient``) sees every party in ``names``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = {p["party_id"] for p in (await c.parties())["parties"]}
        if set(names) <= got:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("parties did not register")


# ---------------------------------------------------------------------- external servers
@contextlib.contextmanager
def nats_server() -> Iterator[str]:
    binary = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None)
    if binary is None:
        pytest.skip("nats-server is not installed (scripts/ci-services.sh installs it)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tss-nats-") as d:
        log = Path(d) / "nats.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port),
                                     "-sd", d], stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(OSError), socket.create_connection(
                        ("127.0.0.1", port), timeout=0.5):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nats-server did not start: " + log.read_text()[-2000:])
                time.sleep(0.05)
            yield f"nats://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free loopback port (as ``nobody`` when root)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries are not installed "
                    "(scripts/ci-services.sh installs them)")
    port = free_port()
    preexec: Any = None
    d = tempfile.mkdtemp(prefix="tss-pg-")
    user = "postgres"
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        os.chown(d, pw.pw_uid, pw.pw_gid)

        def preexec() -> None:
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
    data = os.path.join(d, "data")
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        subprocess.run([initdb, "-D", data, "-U", user, "-A", "trust", "--no-sync", "-E",
                        "UTF8"], check=True, capture_output=True, preexec_fn=preexec, env=env,
                       cwd=d, timeout=120)
        subprocess.run([pg_ctl, "-D", data, "-l", os.path.join(d, "pg.log"), "-w", "-t", "60",
                        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {d} "
                              "-c fsync=off -c full_page_writes=off", "start"],
                       check=True, capture_output=True, preexec_fn=preexec, env=env, cwd=d,
                       timeout=90)
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
                           capture_output=True, preexec_fn=preexec, env=env, cwd=d,
                           timeout=60)
        shutil.rmtree(d, ignore_errors=True)
