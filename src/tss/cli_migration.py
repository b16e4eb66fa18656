"""``tss import-tss-lib``: move a tss-lib key whose save files are all on this machine.

    tss import-tss-lib FILE... --threshold T --parties N --out DIR [--chain-code HEX]

For a test deployment, or for backups being migrated: reads every tss-lib save file (one per
party, at least tss-lib's threshold + 1 of them, all of one key and one committee), imports each,
reshares the key to T-of-N in this process and writes ``DIR/party-<i>.share`` (the new party's
``KeyShare.to_bytes()``, mode 0600) for i = 0..N-1. The public key does not change; the command
prints it and checks that it equals tss-lib's ``ECDSAPub``. A real deployment does the same
distributed, each party importing its own file (see docs/migration.md).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .errors import DecodeError, TssError, UsageError
from .migration import import_tss_lib
from .shares import KeyShare

__all__ = ["cmd_import_tss_lib", "register", "load_tss_lib_files"]


def load_tss_lib_files(files: list[str], chain_code: bytes | None = None) -> list[KeyShare]:
    """Import every file; check they are distinct parties of one key and one committee.

    Returns the imported shares in index order. Errors name the file, never a secret.
    """
    if not files:
        raise UsageError("no tss-lib save files given")
    seen_paths: dict[Path, str] = {}
    shares: list[tuple[str, KeyShare]] = []
    for f in files:
        path = Path(f)
        try:
            real = path.resolve()
        except OSError:
            real = path.absolute()
        if real in seen_paths:
            raise UsageError(f"{f}: the same file is given twice (also as {seen_paths[real]})")
        seen_paths[real] = f
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {f}: {exc.strerror or 'I/O error'}") from None
        try:
            share = import_tss_lib(data, chain_code=chain_code)
        except DecodeError as exc:
            raise DecodeError(f"{f}: {exc}") from None
        shares.append((f, share))
    first_file, first = shares[0]
    by_index: dict[int, str] = {}
    for f, s in shares:
        if s.public_key != first.public_key:
            raise UsageError(f"{f} is a share of another key (public key {s.public_key.hex()}) "
                             f"than {first_file} ({first.public_key.hex()})")
        if (s.points != first.points or s.public_shares != first.public_shares
                or s.threshold != first.threshold):
            raise UsageError(f"{f} and {first_file} are shares of the same key but of different "
                             "committees (a tss-lib reshare in between?): use the files of one "
                             "committee only")
        if s.index in by_index:
            raise UsageError(f"{f} is the same party's share as {by_index[s.index]} "
                             f"(ShareID at position {s.index}): a duplicated file")
        by_index[s.index] = f
    if len(shares) < first.threshold:
        raise UsageError(f"this key needs {first.threshold} parties' files to reshare "
                         f"(tss-lib threshold {first.threshold - 1}); got {len(shares)}")
    return sorted((s for _, s in shares), key=lambda s: s.index)


def _write_share(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
    finally:
        if fd >= 0:  # pragma: no cover - fdopen failed
            os.close(fd)
    os.chmod(path, 0o600)  # whatever the umask


def cmd_import_tss_lib(args: argparse.Namespace) -> int:
    """Import, check, reshare to T-of-N, write one share file per new party."""
    import tss

    if not hasattr(tss, "simulate_reshare"):  # pragma: no cover - until Reshare lands
        raise UsageError("this build of tss has no Reshare: cannot migrate")
    chain_code = None
    if args.chain_code is not None:
        try:
            chain_code = bytes.fromhex(args.chain_code)
        except ValueError:
            raise UsageError("--chain-code must be hex") from None
        if len(chain_code) != 32:
            raise UsageError("--chain-code must be 32 bytes (64 hex digits)")
    t, n = args.threshold, args.parties
    if not 1 <= t <= n:
        raise UsageError("need 1 <= --threshold <= --parties")
    out = Path(args.out)
    targets = [out / f"party-{i}.share" for i in range(n)]
    existing = [p.name for p in targets if p.exists()]
    if existing:
        raise UsageError(f"{out} already holds {', '.join(existing)}: refusing to overwrite "
                         "share files (use an empty directory)")

    imported = load_tss_lib_files(list(args.files), chain_code)
    first = imported[0]
    print(f"imported {len(imported)} tss-lib share(s) of a {first.threshold}-of-{first.parties} "
          f"key (tss-lib threshold {first.threshold - 1})")
    new = tss.simulate_reshare(imported[:first.threshold], t, n)
    if len(new) != n or any(s.public_key != first.public_key for s in new):
        raise TssError("the reshared key differs from the imported one: nothing written")
    if any(s.chain_code != first.chain_code for s in new):  # pragma: no cover - defensive
        raise TssError("the reshared shares lost the chain code: nothing written")
    out.mkdir(parents=True, exist_ok=True)
    for s, path in zip(sorted(new, key=lambda s: s.index), targets):
        _write_share(path, s.to_bytes())
    print(f"public key {first.public_key.hex()}")
    x, y = first.public_key_point.xy()
    print(f"equals tss-lib's ECDSAPub (x={x:064x}, y={y:064x})")
    print(f"chain code {first.chain_code.hex()}")
    print(f"wrote {n} share files ({t}-of-{n}) to {out} (they hold secrets: keep them apart)")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``import-tss-lib`` to the ``tss`` command's subparsers."""
    p = subparsers.add_parser(
        "import-tss-lib",
        help="import tss-lib save files of one key and reshare them to new share files",
        description="Import the tss-lib ECDSA save files (LocalPartySaveData JSON) of one key, "
                    "reshare it to T-of-N and write DIR/party-<i>.share. The public key stays.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="tss-lib save files, one per party (at least threshold + 1 of tss-lib's)")
    p.add_argument("--threshold", type=int, required=True, help="signers needed after migration")
    p.add_argument("--parties", type=int, required=True, help="share holders after migration")
    p.add_argument("--out", required=True, help="directory for the new share files")
    p.add_argument("--chain-code", default=None,
                   help="BIP32 chain code (32 bytes, hex) if the key had one; default: derived "
                        "from the public key (see docs/migration.md)")
    p.set_defaults(fn=cmd_import_tss_lib)
    return p
