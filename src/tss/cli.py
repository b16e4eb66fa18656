"""The ``tss`` command: a demo of the whole library, and share files for people to try it.

    tss demo [--threshold 2] [--parties 3] [--level standard|high]
    tss keygen --threshold 2 --parties 3 --out DIR
    tss sign SHARE_FILE... (--message TEXT | --hash HEX) [--path m/0/1]
    tss info
    tss serve [--role NAME] [--api-key KEY] ...   (the node system, see docs/node.md)
    tss import-tss-lib FILE... --threshold T --parties N --out DIR [--chain-code HEX]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

from . import arith
from .errors import TssError

__all__ = ["main"]


def _console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)


class _Phases:
    """Progress bars per phase and a closing table of timings."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.timings: list[tuple[str, float, str]] = []

    def run(self, name: str, total: int, fn, note: str = ""):
        task = self.progress.add_task(name, total=total)

        def step(kind: str = "round", value: int | None = None) -> None:
            if value is None:
                self.progress.advance(task)
            else:
                self.progress.update(task, completed=min(value, total))

        t0 = time.perf_counter()
        result = fn(step)
        elapsed = time.perf_counter() - t0
        self.progress.update(task, completed=total)
        self.timings.append((name, elapsed, note))
        return result

    def table(self):
        from rich.table import Table

        t = Table(title="timings")
        t.add_column("phase")
        t.add_column("seconds", justify="right")
        t.add_column("notes")
        for name, sec, note in self.timings:
            t.add_row(name, f"{sec:.3f}", note)
        return t


def cmd_demo(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    import tss
    from tss.aux import pregenerate

    console = _console()
    level = tss.params.level_by_name(args.level)
    t, n = args.threshold, args.parties
    if not 1 <= t <= n:
        raise tss.UsageError("need 1 <= threshold <= parties")
    console.print(f"[bold]tss demo[/bold]: {t}-of-{n} threshold ECDSA on secp256k1, "
                  f"{level.name.lower()} level (Paillier N of {level.paillier_bits} bits), "
                  f"arith backend [bold]{arith.BACKEND}[/bold], {os.cpu_count()} cores")
    phases = _Phases(console)
    with phases.progress:
        keys = phases.run("Paillier keys (safe primes)", 2 * n,
                          lambda step: pregenerate(n, level, progress=lambda k: step(value=k)),
                          note=f"{2 * n} safe primes of {level.prime_bits} bits, all cores")
        shares = phases.run("keygen (3 rounds)", 3,
                            lambda step: tss.simulate_keygen(
                                t, n, level=level, paillier_keys=keys,
                                observer=lambda kind, r: step(value=r - 1)),
                            note="VSS, Πsch, Πmod, Πprm, Πfac, echo broadcast")
        signers = shares[:t] if n == t else [shares[0]] + shares[n - t + 1:]
        message = b"tss demo: a threshold signature"
        digest = hashlib.sha256(message).digest()
        presigs = phases.run("presign (4 rounds)", 4,
                             lambda step: tss.simulate_presign(
                                 signers, observer=lambda kind, r: step(value=r - 1)),
                             note=f"signers {[s.index for s in signers]}: Πenc, Πaff-g, Πlog*")
        from tss.simulation import sign_with_presignatures

        sig = phases.run("sign (1 round)", 1,
                         lambda step: sign_with_presignatures(presigs, digest),
                         note="partial signatures checked one by one")

        def verify(step):
            pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(),
                                                               shares[0].public_key)
            pub.verify(sig.to_der(), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
            return True

        phases.run("verify (cryptography)", 1, verify, note="OpenSSL ECDSA verify")
    console.print(phases.table())
    console.print(f"public key   {shares[0].public_key.hex()}")
    console.print(f"message      {message.decode()!r} (SHA-256 {digest.hex()[:16]}...)")
    console.print(f"signature    r={sig.r:064x}")
    console.print(f"             s={sig.s:064x} (low S), recovery id {sig.recovery_id}")
    console.print("[green]signature verified with the cryptography package[/green]")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    import tss

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shares = tss.simulate_keygen(args.threshold, args.parties, level=args.level)
    for s in shares:
        path = out / f"party-{s.index}.share"
        path.write_bytes(s.to_bytes())
        os.chmod(path, 0o600)
    print(f"public key {shares[0].public_key.hex()}")
    print(f"chain code {shares[0].chain_code.hex()}")
    print(f"wrote {len(shares)} share files to {out} (they hold secrets: keep them apart)")
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    import tss

    shares = []
    for f in args.shares:
        try:
            data = Path(f).read_bytes()
        except OSError as exc:
            raise tss.UsageError(f"cannot read {f}: {exc.strerror}") from None
        shares.append(tss.KeyShare.from_bytes(data))
    if args.hash:
        try:
            digest = bytes.fromhex(args.hash)
        except ValueError:
            raise tss.UsageError("--hash must be hex") from None
    else:
        digest = hashlib.sha256(args.message.encode()).digest()
    sig = tss.simulate_sign(shares, digest, derivation_path=args.path)
    pub = shares[0].public_key
    if args.path:
        pub = tss.derive_public_key(pub, shares[0].chain_code, args.path)
    ok = sig.verify(pub, digest)
    print(f"public key {pub.hex()}")
    print(f"hash       {digest.hex()}")
    print(f"r          {sig.r:064x}")
    print(f"s          {sig.s:064x}")
    print(f"v          {sig.recovery_id}")
    print(f"der        {sig.to_der().hex()}")
    print(f"verified   {ok}")
    return 0 if ok else 1


def cmd_info(args: argparse.Namespace) -> int:
    import tss

    print(f"tss {tss.__version__}, arith backend {arith.BACKEND}")
    for lvl in (tss.STANDARD, tss.HIGH):
        print(f"{lvl.name.lower():9} N={lvl.paillier_bits} ell={lvl.ell} ell'={lvl.ell_prime} "
              f"eps={lvl.epsilon} challenge={lvl.challenge_bits} iterations={lvl.iterations}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tss", description="Threshold ECDSA on secp256k1.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="keygen, presign and sign in one process, with timings")
    d.add_argument("--threshold", type=int, default=2, help="signers needed (default 2)")
    d.add_argument("--parties", type=int, default=3, help="share holders (default 3)")
    d.add_argument("--level", choices=["standard", "high"], default="standard")
    d.set_defaults(fn=cmd_demo)
    k = sub.add_parser("keygen", help="make a key and write one share file per party")
    k.add_argument("--threshold", type=int, required=True)
    k.add_argument("--parties", type=int, required=True)
    k.add_argument("--level", choices=["standard", "high"], default="standard")
    k.add_argument("--out", required=True, help="directory for the share files")
    k.set_defaults(fn=cmd_keygen)
    s = sub.add_parser("sign", help="sign with share files (all in this process)")
    s.add_argument("shares", nargs="+", help="share files of the signers")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--message", help="text to hash with SHA-256 and sign")
    g.add_argument("--hash", help="32-byte hash to sign, as hex")
    s.add_argument("--path", default=None, help="BIP32 non-hardened path, e.g. m/0/1")
    s.set_defaults(fn=cmd_sign)
    i = sub.add_parser("info", help="backend and security constants")
    i.set_defaults(fn=cmd_info)
    from .cli_migration import register as register_migration

    register_migration(sub)
    from .node.cli import register as register_serve

    register_serve(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except TssError as exc:
        print(f"tss: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
