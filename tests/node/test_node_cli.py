"""``tss serve``'s command line: ``register`` adds it to a parser; the API key is required."""

from __future__ import annotations

import argparse
import subprocess
import sys

from tss.node.cli import build_parser, main, register


def test_register_adds_serve():
    p = argparse.ArgumentParser(prog="tss")
    sub = p.add_subparsers(dest="command", required=True)
    register(sub)
    args = p.parse_args(["serve", "--role", "router", "--router-port", "9999", "--bus",
                         "memory://", "--party-id", "a", "--party-id", "b"])
    assert args.role == "router" and args.router_port == 9999 and args.party_id == ["a", "b"]
    assert args.coordinator_port == 4000 and args.identity_port == 3000
    assert args.fn.__name__ == "cmd_serve"


def test_api_key_required(monkeypatch, capsys):
    monkeypatch.delenv("TSS_API_KEY", raising=False)
    assert main(["serve", "--role", "router"]) == 2
    assert "TSS_API_KEY" in capsys.readouterr().err
    assert build_parser().parse_args(["serve"]).role == "all"


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "tss.node", "serve", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--coordinator-port" in out.stdout
