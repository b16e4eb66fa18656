"""``tss import-tss-lib`` end to end, through argparse and tss.cli_migration.cmd_import_tss_lib
(the subcommand's own parser, built with ``register``); the resulting share files then sign with
``tss sign`` under tss-lib's public key. One test also runs it through ``tss.cli.main``, which
needs the subcommand wired into tss/cli.py."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import stat
from pathlib import Path

import pytest
from migration_support import (
    CHAIN_CODE,
    N_SECP256K1,
    check_signature,
    doc,
    ecdsa_pub,
    files,
    secret_of,
    signature,
    tss_lib_file,
)

import tss
from tss.cli_migration import cmd_import_tss_lib, register


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tss")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def cli(argv: list[str]) -> int:
    args = _parse(argv)
    assert args.fn is cmd_import_tss_lib
    return cmd_import_tss_lib(args)


#: (key, files given by their party number, new threshold, new parties)
RUNS = {"2of3": ("2of3", (0, 1, 2), 2, 3), "3of5": ("3of5", (0, 2, 4), 2, 2)}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """``migrated(name)`` runs the command once per key (lazily, for this module); returns
    (output directory, stdout)."""
    done: dict[str, tuple[Path, str]] = {}

    def get(name: str) -> tuple[Path, str]:
        if name not in done:
            key, parts, t, n = RUNS[name]
            out = tmp_path_factory.mktemp(f"migration-{name}") / "new"
            argv = ["import-tss-lib", *[str(files(key)[i]) for i in parts],
                    "--threshold", str(t), "--parties", str(n), "--out", str(out),
                    "--chain-code", CHAIN_CODE.hex()]
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                assert cli(argv) == 0
            done[name] = (out, buf.getvalue())
        return done[name]

    return get


@pytest.mark.parametrize("name", list(RUNS))
def test_writes_one_share_file_per_new_party(name, migrated):
    key, _parts, t, n = RUNS[name]
    out, stdout = migrated(name)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"party-{i}.share" for i in range(n))
    for i in range(n):
        path = out / f"party-{i}.share"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        share = tss.KeyShare.from_bytes(path.read_bytes())
        assert share.index == i
        assert (share.threshold, share.parties) == (t, n)
        assert share.public_key == ecdsa_pub(key)
        assert share.chain_code == CHAIN_CODE
        assert share.can_sign and not share.imported


@pytest.mark.parametrize("name", list(RUNS))
def test_prints_the_public_key_and_that_it_is_tss_libs(name, migrated):
    key = RUNS[name][0]
    _out, stdout = migrated(name)
    sig = signature(key)
    assert f"public key {ecdsa_pub(key).hex()}" in stdout
    assert "equals tss-lib's ECDSAPub" in stdout
    assert sig["x"] in stdout and sig["y"] in stdout


@pytest.mark.parametrize("name", list(RUNS))
def test_new_share_files_sign_under_the_original_key(name, capsys, migrated):
    from tss.cli import main

    key, _parts, t, _n = RUNS[name]
    out, _ = migrated(name)
    paths = [str(out / f"party-{i}.share") for i in range(t)]
    capsys.readouterr()
    assert main(["sign", *paths, "--message", f"migrated {name}"]) == 0
    printed = capsys.readouterr().out
    assert f"public key {ecdsa_pub(key).hex()}" in printed
    assert "verified   True" in printed
    r = int(printed.split("r          ")[1].split()[0], 16)
    s = int(printed.split("s          ")[1].split()[0], 16)
    check_signature(r, s, ecdsa_pub(key), hashlib.sha256(f"migrated {name}".encode()).digest())


def test_the_new_shares_hold_the_same_secret(migrated):
    out, _ = migrated("3of5")
    shares = [tss.KeyShare.from_bytes((out / f"party-{i}.share").read_bytes()) for i in (0, 1)]
    secret = sum(s.secret_share * s.lagrange([0, 1]) for s in shares) % N_SECP256K1
    assert secret == secret_of("3of5")


# -- errors (all before any resharing) ---------------------------------------------------------
def _argv(paths, out, t=2, n=3) -> list[str]:
    return ["import-tss-lib", *map(str, paths), "--threshold", str(t), "--parties", str(n),
            "--out", str(out)]


def test_missing_file(tmp_path):
    missing = tmp_path / "keygen_data_9.json"
    with pytest.raises(tss.UsageError, match="cannot read .*keygen_data_9.json"):
        cli(_argv([files("2of3")[0], missing], tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_file_of_a_foreign_key(tmp_path):
    with pytest.raises(tss.UsageError, match="another key") as info:
        cli(_argv([files("2of3")[0], files("3of5")[1]], tmp_path / "out"))
    assert "keygen_data_1.json" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_same_file_twice(tmp_path):
    f = files("2of3")[1]
    with pytest.raises(tss.UsageError, match="twice"):
        cli(_argv([f, files("2of3")[0], f], tmp_path / "out"))


def test_duplicated_file_under_another_name(tmp_path):
    copy = tmp_path / "copy-of-party-1.json"
    copy.write_bytes(files("2of3")[1].read_bytes())
    with pytest.raises(tss.UsageError, match="same party") as info:
        cli(_argv([files("2of3")[1], copy], tmp_path / "out"))
    assert "copy-of-party-1.json" in str(info.value)


def test_files_of_two_committees_of_one_key(tmp_path):
    """Same public key, other public shares: a file from after a tss-lib reshare."""
    other = tmp_path / "after-reshare.json"
    other.write_bytes(tss_lib_file(secret_of("2of3"), [99], doc("2of3", 0)["Ks"], 2))
    with pytest.raises(tss.UsageError, match="committees"):
        cli(_argv([files("2of3")[0], other], tmp_path / "out"))


def test_too_few_files(tmp_path):
    with pytest.raises(tss.UsageError, match="needs 3"):
        cli(_argv(files("3of5")[:2], tmp_path / "out"))


def test_corrupted_file_names_the_file(tmp_path):
    bad = tmp_path / "keygen_data_1.json"
    bad.write_bytes(files("2of3")[1].read_bytes()[:500])
    with pytest.raises(tss.DecodeError, match=r"keygen_data_1\.json.*truncated"):
        cli(_argv([files("2of3")[0], bad], tmp_path / "out"))


def test_tampered_file_names_the_file(tmp_path):
    d = doc("2of3", 1)
    d["Xi"] += 1
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(tss.DecodeError, match=r"tampered\.json.*Xi") as info:
        cli(_argv([files("2of3")[0], bad], tmp_path / "out"))
    assert str(d["Xi"]) not in str(info.value)


def test_refuses_to_overwrite_share_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "party-1.share").write_bytes(b"precious")
    with pytest.raises(tss.UsageError, match="overwrite"):
        cli(_argv(files("2of3"), out))
    assert (out / "party-1.share").read_bytes() == b"precious"


def test_bad_arguments(tmp_path):
    with pytest.raises(tss.UsageError, match="threshold"):
        cli(_argv(files("2of3"), tmp_path / "out", t=4, n=3))
    with pytest.raises(tss.UsageError, match="chain-code"):
        cli([*_argv(files("2of3"), tmp_path / "out"), "--chain-code", "abcd"])
    with pytest.raises(tss.UsageError, match="chain-code"):
        cli([*_argv(files("2of3"), tmp_path / "out"), "--chain-code", "zz" * 32])
    with pytest.raises(SystemExit):  # argparse: no file at all
        _parse(["import-tss-lib", "--threshold", "2", "--parties", "3", "--out", "x"])


def test_through_tss_cli_main(tmp_path, capsys):
    """The subcommand as wired into ``tss``: errors become exit code 2 and one line."""
    from tss.cli import main

    code = main(_argv([files("2of3")[0], tmp_path / "nope.json"], tmp_path / "out"))
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("tss: error: cannot read") and "nope.json" in err
    assert os.listdir(tmp_path) == []
