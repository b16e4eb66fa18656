"""``tss serve``: every role in one process on the embedded defaults, or one role alone.

Roles and default ports (the seed's):

=====================  =====  ==============================================================
coordinator            4000   sessions, tokens, rosters, results (account-service)
session-coordinator    8081   generic ``POST /api/v1/sessions`` -> coordinator
router                 8082   the devices' mailbox
party                  8083   server-party-api plus the server parties (``--party-id``)
identity               3000   identity-service
backup                 3002   backup-service with the ``backup`` party
mpc-service            3006   mpc-party-service (the user's party)
=====================  =====  ==============================================================

Defaults: bus ``sqlite:///<data-dir>/bus.db``; stores ``sqlite:///<data-dir>/<component>.db``
(with ``--store postgresql://...`` every component gets its own namespace in that database);
the key-encryption passphrase from ``TSS_KEK_PASSPHRASE`` (``TSS_BACKUP_KEK_PASSPHRASE`` for
the backup party) or, failing that, a random one kept in ``<data-dir>/kek-passphrase`` (0600).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ServeConfig", "System", "ROLES", "DEFAULT_PORTS", "serve"]

log = logging.getLogger("tss.node.serve")

ROLES = ("coordinator", "session-coordinator", "router", "party", "identity", "backup",
         "mpc-service")
DEFAULT_PORTS = {"coordinator": 4000, "session-coordinator": 8081, "router": 8082,
                 "party": 8083, "identity": 3000, "backup": 3002, "mpc-service": 3006}
DEFAULT_PARTIES = ("server-party-1", "server-party-2", "server-party-3")


@dataclass
class ServeConfig:
    api_key: str
    data_dir: Path = Path("tss-data")
    role: str = "all"
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    bus_url: str | None = None
    store_url: str | None = None
    party_ids: tuple[str, ...] = DEFAULT_PARTIES
    backup_party_id: str = "backup"
    user_parties: tuple[str, ...] = ("server-party-1", "backup")
    coordinator_url: str | None = None
    session_coordinator_url: str | None = None
    router_url: str | None = None
    mpc_service_url: str | None = None
    coordinator_public_key: str | None = None
    level: str = "standard"
    keygen_timeout: float = 120.0
    sign_timeout: float = 60.0
    join_timeout: float = 60.0
    paillier_pool: int = 1
    log_level: str = "warning"
    passphrase: str | None = None
    backup_passphrase: str | None = None
    kdf: Any = None  # crypto.KdfParams, for tests

    def roles(self) -> tuple[str, ...]:
        return ROLES if self.role == "all" else (self.role,)

    def url(self, role: str) -> str:
        explicit = {"coordinator": self.coordinator_url,
                    "session-coordinator": self.session_coordinator_url,
                    "router": self.router_url, "mpc-service": self.mpc_service_url}.get(role)
        if explicit:
            return explicit.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.ports[role]}"


def _namespace(component: str) -> str:
    ns = re.sub(r"[^a-z0-9_]", "_", component.lower())
    if not ns or not ns[0].isalpha():
        ns = "c_" + ns
    return ns[:31]


class System:
    """The components of the chosen roles, their stores and bus, and their ASGI apps."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.bus: Any = None
        self.stores: list[Any] = []
        self.coordinator: Any = None
        self.parties: list[Any] = []
        self.apps: dict[str, Any] = {}

    # -------------------------------------------------------------- configuration
    def _passphrase(self, backup: bool = False) -> str:
        c = self.config
        if backup:
            given = c.backup_passphrase or os.environ.get("TSS_BACKUP_KEK_PASSPHRASE")
            name = "backup-kek-passphrase"
        else:
            given = c.passphrase or os.environ.get("TSS_KEK_PASSPHRASE")
            name = "kek-passphrase"
        if given:
            return given
        path = c.data_dir / name
        if not path.exists():
            c.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
            log.warning("no %s set: generated one in %s (keep it, or set the variable)",
                        "TSS_BACKUP_KEK_PASSPHRASE" if backup else "TSS_KEK_PASSPHRASE", path)
        return path.read_text().strip()

    def _store_url(self, component: str) -> str:
        c = self.config
        given = c.store_url
        if given and given.startswith(("postgresql://", "postgres://")):
            sep = "&" if "?" in given else "?"
            return f"{given}{sep}namespace={_namespace(component)}"
        if given and (c.role != "all" or component == "coordinator"):
            return given
        base = c.data_dir
        if given and given.startswith("sqlite://"):
            base = Path(given[len("sqlite://"):].partition("?")[0]).parent
        return f"sqlite://{(base / (component + '.db')).absolute()}"

    async def _store(self, component: str, *, secret: bool, backup: bool = False) -> Any:
        from .store import open_store

        store = await open_store(self._store_url(component),
                                 self._passphrase(backup) if secret else None,
                                 kdf_params=self.config.kdf)
        self.stores.append(store)
        return store

    # -------------------------------------------------------------- start and stop
    async def start(self) -> None:
        from .api import coordinator_app, session_coordinator_app
        from .bus import open_bus
        from .coordinator import Coordinator
        from .crypto import IdentityKey
        from .party import PartyNode
        from .router import router_app
        from .services import backup_app, identity_app, mpc_service_app, party_api_app

        c = self.config
        c.data_dir.mkdir(parents=True, exist_ok=True)
        roles = c.roles()
        needs_bus = {"coordinator", "router", "party", "backup"} & set(roles)
        if needs_bus:
            self.bus = open_bus(c.bus_url or f"sqlite://{(c.data_dir / 'bus.db').absolute()}")
        if "coordinator" in roles:
            store = await self._store("coordinator", secret=True)
            raw = await store.get_secret("coordinator.signing")
            if raw is None:
                key = IdentityKey()
                await store.put_secret("coordinator.signing", key.to_bytes())
            else:
                key = IdentityKey.from_bytes(raw)
            self.coordinator = Coordinator(self.bus, store, key, level=c.level,
                                           keygen_timeout=c.keygen_timeout,
                                           sign_timeout=c.sign_timeout,
                                           join_timeout=c.join_timeout)
            await self.coordinator.start()
            self.apps["coordinator"] = coordinator_app(self.coordinator, c.api_key)
        if "party" in roles:
            for pid in c.party_ids:
                store = await self._store(f"party-{pid}", secret=True)
                node = PartyNode(pid, self.bus, store, role="server", level=c.level,
                                 paillier_pool=c.paillier_pool,
                                 coordinator_public_key=c.coordinator_public_key)
                await node.start()
                self.parties.append(node)
            self.apps["party"] = party_api_app(list(self.parties), c.api_key)
        if "backup" in roles:
            store = await self._store("backup", secret=True, backup=True)
            node = PartyNode(c.backup_party_id, self.bus, store, role="backup", level=c.level,
                             paillier_pool=c.paillier_pool,
                             coordinator_public_key=c.coordinator_public_key)
            await node.start()
            self.parties.append(node)
            self.apps["backup"] = backup_app(node, c.api_key)
        if "router" in roles:
            self.apps["router"] = router_app(self.bus,
                                             coordinator_public_key=c.coordinator_public_key)
        if "session-coordinator" in roles:
            self.apps["session-coordinator"] = session_coordinator_app(
                c.url("coordinator"), c.api_key)
        if "mpc-service" in roles:
            self.apps["mpc-service"] = mpc_service_app(
                session_coordinator_url=c.url("session-coordinator"),
                router_url=c.url("router"), api_key=c.api_key, user_parties=c.user_parties,
                timeout=c.keygen_timeout + 30)
        if "identity" in roles:
            store = await self._store("identity", secret=False)
            self.apps["identity"] = identity_app(store, mpc_service_url=c.url("mpc-service"),
                                                 api_key=c.api_key,
                                                 timeout=c.keygen_timeout + 60)

    async def stop(self) -> None:
        for node in self.parties:
            with contextlib.suppress(Exception):
                await node.stop()
        if self.coordinator is not None:
            with contextlib.suppress(Exception):
                await self.coordinator.stop()
        for store in self.stores:
            with contextlib.suppress(Exception):
                await store.close()
        if self.bus is not None:
            with contextlib.suppress(Exception):
                await self.bus.close()


async def serve(config: ServeConfig, *, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Run the roles until SIGINT/SIGTERM (or ``stop`` is set)."""
    from .http import Server

    system = System(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    servers: list[Any] = []
    tasks: list[asyncio.Task[Any]] = []
    try:
        await system.start()
        for role, app in system.apps.items():
            srv = Server(app, config.host, config.ports[role], log_level=config.log_level)
            servers.append(srv)
            tasks.append(asyncio.create_task(srv.serve(), name=f"http-{role}"))
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                for t in tasks:
                    if t.done() and t.exception() is not None:
                        raise t.exception()  # type: ignore[misc]
                raise RuntimeError("an HTTP server did not start (port in use?)")
            await asyncio.sleep(0.02)
        ports = ", ".join(f"{r}:{config.ports[r]}" for r in system.apps)
        print(f"tss serve: ready ({ports})", flush=True)
        if ready is not None:
            ready.set()
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        for s in servers:
            s.stop()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, 5.0)
        await system.stop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def main_serve(config: ServeConfig) -> int:
    logging.basicConfig(level=getattr(logging, config.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except OSError as exc:
        print(f"tss serve: {exc}", file=sys.stderr)
        return 1
    return 0
