"""``tss serve``: the node system's command. ``register(subparsers)`` adds it to the ``tss``
command; ``python -m tss.node serve ...`` runs it without that."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["register", "main", "build_parser"]

_ROLES = ("all", "coordinator", "session-coordinator", "router", "party", "identity",
          "backup", "mpc-service")
_PORTS = (("coordinator", 4000), ("session-coordinator", 8081), ("router", 8082),
          ("party-api", 8083), ("identity", 3000), ("backup", 3002), ("mpc-service", 3006))


def _add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--role", choices=_ROLES, default="all",
                   help="run one role alone (default: all roles in this process)")
    s.add_argument("--data-dir", default=os.environ.get("TSS_DATA_DIR", "tss-data"),
                   help="directory of the embedded bus and stores (default ./tss-data)")
    s.add_argument("--api-key", default=None,
                   help="API key of the HTTP APIs (default: $TSS_API_KEY; required)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    for role, port in _PORTS:
        s.add_argument(f"--{role}-port", type=int, default=port, metavar="PORT",
                       help=f"port of {role} (default {port})")
    s.add_argument("--bus", default=os.environ.get("TSS_BUS"),
                   help="memory://, sqlite:///path or nats://host:port "
                        "(default sqlite:///<data-dir>/bus.db)")
    s.add_argument("--store", default=os.environ.get("TSS_STORE"),
                   help="sqlite:///path or postgresql://... "
                        "(default sqlite:///<data-dir>/<component>.db)")
    s.add_argument("--party-id", action="append", default=None, metavar="ID",
                   help="server party to run (repeatable; default server-party-1..3)")
    s.add_argument("--backup-party-id", default="backup")
    s.add_argument("--user-parties", default="server-party-1,backup",
                   help="the parties of a user's key besides the device (identity flow)")
    for role in ("coordinator", "session-coordinator", "router", "mpc-service"):
        s.add_argument(f"--{role}-url", default=None, metavar="URL",
                       help=f"where {role} answers (default: this host and its port)")
    s.add_argument("--coordinator-public-key", default=None, metavar="HEX",
                   help="pin the coordinator's Ed25519 key (parties and router)")
    s.add_argument("--level", choices=["standard", "high"], default="standard")
    s.add_argument("--keygen-timeout", type=float, default=120.0)
    s.add_argument("--sign-timeout", type=float, default=60.0)
    s.add_argument("--join-timeout", type=float, default=60.0)
    s.add_argument("--paillier-pool", type=int, default=1,
                   help="Paillier keys each party keeps ready (0: make them at keygen)")
    s.add_argument("--log-level", default="warning",
                   choices=["debug", "info", "warning", "error"])


def cmd_serve(args: argparse.Namespace) -> int:
    api_key = args.api_key or os.environ.get("TSS_API_KEY")
    if not api_key:
        print("tss serve: set --api-key or TSS_API_KEY", file=sys.stderr)
        return 2
    try:
        from .serve import DEFAULT_PARTIES, ServeConfig, main_serve
    except ImportError as exc:
        print(f"tss serve needs the node extra: pip install 'tss-mpc[node]' ({exc.name} is "
              "missing)", file=sys.stderr)
        return 2
    ports = {"coordinator": args.coordinator_port,
             "session-coordinator": args.session_coordinator_port,
             "router": args.router_port, "party": args.party_api_port,
             "identity": args.identity_port, "backup": args.backup_port,
             "mpc-service": args.mpc_service_port}
    config = ServeConfig(
        api_key=api_key, data_dir=Path(args.data_dir), role=args.role, host=args.host,
        ports=ports, bus_url=args.bus, store_url=args.store,
        party_ids=tuple(args.party_id) if args.party_id else DEFAULT_PARTIES,
        backup_party_id=args.backup_party_id,
        user_parties=tuple(p for p in args.user_parties.split(",") if p),
        coordinator_url=args.coordinator_url,
        session_coordinator_url=args.session_coordinator_url, router_url=args.router_url,
        mpc_service_url=args.mpc_service_url,
        coordinator_public_key=args.coordinator_public_key, level=args.level,
        keygen_timeout=args.keygen_timeout, sign_timeout=args.sign_timeout,
        join_timeout=args.join_timeout, paillier_pool=args.paillier_pool,
        log_level=args.log_level)
    return main_serve(config)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve`` to the ``tss`` command's subcommands."""
    s = subparsers.add_parser("serve", help="run the node system (coordinator, router, "
                                            "parties, identity, backup, mpc-service)")
    _add_arguments(s)
    s.set_defaults(fn=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tss.node")
    sub = p.add_subparsers(dest="command", required=True)
    register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.fn(args))
