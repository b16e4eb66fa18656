"""Run ggmpc (PyPI ``ggmpc``, py-ggmpc 0.3.0) the way ``benchmarks/compare.py`` measures it.

This file runs inside a separate virtual environment that has ggmpc installed (with or without
gmpy2); it imports nothing from ``tss``. For each round: a t-of-n key generation with every party
in this process (``key_share`` and ``key_combine`` per party), then one signature by parties
1..t (``sign_challenge``, ``sign_share``, three ``sign_convert`` calls per pair of signers,
``sign_combine``, ``sign``, the final ``sign_combine``), checked with ``Ecdsa.verify`` and
rejected when tampered. ggmpc makes a fresh Ntilde, h1, h2 per signer per signature: that time is
reported separately as ``sign_ntilde``.

Prints one JSON object: per round the wall (``time.perf_counter``) and CPU
(``time.process_time``) seconds of each phase, and whether phe and python-ecdsa use gmpy2.

    python _ggmpc_runner.py --n 3 --t 2 --rounds 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import sys
import time

import ggmpc
import ggmpc.curves as curves
import ggmpc.ecdsa as gg_ecdsa
import phe
import phe.util

_ntilde = {"wall": 0.0, "cpu": 0.0}
_generate_ntilde = gg_ecdsa.generate_ntilde


def _timed_ntilde(*args, **kwargs):
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        return _generate_ntilde(*args, **kwargs)
    finally:
        _ntilde["wall"] += time.perf_counter() - w0
        _ntilde["cpu"] += time.process_time() - c0


gg_ecdsa.generate_ntilde = _timed_ntilde  # sign_challenge looks it up as a module global


class Clock:
    def __init__(self) -> None:
        self.w, self.c = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        w, c = time.perf_counter(), time.process_time()
        out = (w - self.w, c - self.c)
        self.w, self.c = w, c
        return out


def keygen(mpc, t: int, n: int) -> dict:
    parties = range(1, n + 1)
    dealt = {i: mpc.key_share(i, t, n) for i in parties}
    return {i: mpc.key_combine(tuple(dealt[j][i] for j in parties)) for i in parties}


def sign(mpc, keys: dict, signers: list[int], msg: bytes) -> dict:
    others = {i: [j for j in signers if j != i] for i in signers}
    challenge = {i: mpc.sign_challenge((keys[i][i], *(keys[i][j] for j in others[i])))
                 for i in signers}
    shares = {i: mpc.sign_share((challenge[i][i], *(challenge[j][i] for j in others[i])))
              for i in signers}
    pair = {}
    for a, b in itertools.combinations(signers, 2):
        ab = mpc.sign_convert((shares[a][a], shares[b][a]))
        ba = mpc.sign_convert((shares[b][b], ab[b]))
        ab = mpc.sign_convert((ab[a], ba[a]))
        pair[a, b], pair[b, a] = ab, ba
    combined = {i: mpc.sign_combine(tuple(pair[i, j] for j in others[i])) for i in signers}
    parts = [mpc.sign(msg, tuple(combined[j][i] for j in signers)) for i in signers]
    return mpc.sign_combine(tuple(parts))


def one_round(mpc, t: int, n: int) -> dict:
    msg = b"compare.py " + secrets.token_bytes(16)
    _ntilde["wall"] = _ntilde["cpu"] = 0.0
    clock = Clock()
    keys = keygen(mpc, t, n)
    kw, kc = clock.lap()
    sig = sign(mpc, keys, list(range(1, t + 1)), msg)
    sw, sc = clock.lap()
    ok = bool(mpc.verify(msg, sig))
    bad = dict(sig, s=(sig["s"] % curves.secp256k1.order()) + 1)
    try:
        rejected = not mpc.verify(msg, bad)
    except Exception:  # python-ecdsa raises on a bad signature
        rejected = True
    return {"keygen_wall": kw, "keygen_cpu": kc, "sign_wall": sw, "sign_cpu": sc,
            "sign_ntilde_wall": _ntilde["wall"], "sign_ntilde_cpu": _ntilde["cpu"],
            "verified": ok and rejected}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--t", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    mpc = ggmpc.Ecdsa(curves.secp256k1)
    rounds = [one_round(mpc, args.t, args.n) for _ in range(args.rounds)]
    import ecdsa.ellipticcurve

    print(json.dumps({
        "peer": "ggmpc", "t": args.t, "n": args.n, "rounds": rounds,
        "phe_uses_gmpy2": bool(phe.util.HAVE_GMP),
        "python_ecdsa_uses_gmpy2": bool(getattr(ecdsa.ellipticcurve, "GMPY", False)),
        "paillier_bits": gg_ecdsa.MODULUS_BITS if hasattr(gg_ecdsa, "MODULUS_BITS") else None,
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
