"""Write a seed corpus for every target of fuzz/targets.py: valid encodings made by the library
itself (a 2-of-2 keygen on the safe primes cached in tests/data, a presignature, a signature,
one proof of each kind, tss-lib save data), so that the fuzzer starts past the outer checks.

    python fuzz/seeds.py CORPUS_DIR      # writes CORPUS_DIR/<target>/seed-*  (kept if present)

``CORPUS_DIR/all/`` gets every seed prefixed with its target's selector byte (target ``all``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _keys():
    from tss.paillier import PaillierSecretKey

    primes = json.loads((ROOT / "tests" / "data" / "safe_primes.json").read_text())["1024"]
    ps = [int(p, 16) for p in primes]
    return [PaillierSecretKey(ps[2 * i], ps[2 * i + 1]) for i in range(3)]


def seeds() -> dict[str, list[bytes]]:
    import tss
    from tss.curve import G, Q
    from tss.paillier import ring_pedersen_from
    from tss.params import STANDARD
    from tss.randomness import SeededRng
    from tss.simulation import sign_with_presignatures
    from tss.zk import aff_g, enc, fac, log_star, mod, prm, sch
    from tss.zk._common import ProofContext

    rng = SeededRng("fuzz seeds")
    keys = _keys()
    shares = tss.simulate_keygen(2, 2, paillier_keys=keys[:2], rng=SeededRng("fuzz keygen"),
                                 session_id=b"fuzz seeds")
    presigs = tss.simulate_presign(shares, rng=SeededRng("fuzz presign"),
                                   session_id=b"fuzz presign")
    body = {}
    share_bytes, presig_bytes = shares[0].to_bytes(), presigs[0].to_bytes()
    body["keyshare"], body["presignature"] = share_bytes[5:-32], presig_bytes[5:-32]
    signature = sign_with_presignatures(presigs, hashlib.sha256(b"fuzz").digest())

    ctx = ProofContext(b"fuzz", 1, STANDARD, 2)
    k0, k1 = keys[0], keys[1]
    rp1 = ring_pedersen_from(k1, rng).params
    rps0 = ring_pedersen_from(k0, rng)
    x = rng.scalar(Q)
    proofs = {"sch": sch.prove(ctx, sch.Statement(G * x), sch.Witness(x), rng).to_bytes()}
    K, rho = k0.encrypt(x, rng)
    lv = b"\x00"  # STANDARD
    proofs["enc"] = lv + enc.prove(ctx, enc.Statement(k0.public, K, rp1),
                                   enc.Witness(x, rho, k0), rng).to_bytes()
    proofs["log_star"] = lv + log_star.prove(ctx, log_star.Statement(k0.public, K, G * x, rp1),
                                             log_star.Witness(x, rho, k0), rng).to_bytes()
    Ka, _ = k1.encrypt(x, rng)
    _, _, _, pa = aff_g.mta_response(ctx, k1.public, k0, Ka, x, G * x, rp1, rng)
    proofs["aff_g"] = lv + pa.to_bytes()
    proofs["mod"] = lv + mod.prove(ctx, mod.Statement(k0.n), mod.Witness(k0), rng).to_bytes()
    proofs["fac"] = lv + fac.prove(ctx, fac.Statement(k0.n, rp1), fac.Witness(k0),
                                   rng).to_bytes()
    proofs["prm"] = lv + prm.prove(ctx, prm.Statement(rps0.params), prm.Witness(rps0, k0),
                                   rng).to_bytes()
    messages = [tss.Message("keygen", b"fuzz", 1, 0, None, bytes(32)).to_bytes(),
                tss.Message("presign", b"x" * 64, 3, 2, 1, b"payload").to_bytes(),
                tss.Message("sign", b"s", 1, 1, None, signature.to_bytes()[:32]).to_bytes()]
    tsslib = sorted((ROOT / "tests" / "data" / "tss-lib").rglob("keygen_data_0.json"))
    return {
        "message": messages,
        "keyshare": [share_bytes],
        "keyshare_body": [body["keyshare"]],
        "presignature": [presig_bytes],
        "presignature_body": [body["presignature"]],
        "signature": [signature.to_bytes(), signature.to_recoverable()],
        **{name: [p] for name, p in proofs.items()},
        "import_tss_lib": [p.read_bytes() for p in tsslib],
    }


def write(corpus: Path) -> None:
    """CORPUS/<target>/seed-* for every target, and CORPUS/all/ with all of them prefixed by
    their target's selector byte (directories that already hold files are kept)."""
    from targets import TARGETS, all_input

    made = None
    for name in [*TARGETS, "all"]:
        d = corpus / name
        d.mkdir(parents=True, exist_ok=True)
        if any(d.iterdir()):
            continue
        made = made or seeds()
        items = ([(f"{n}-{i}", all_input(n, x)) for n in TARGETS for i, x in enumerate(made[n])]
                 if name == "all" else [(str(i), x) for i, x in enumerate(made[name])])
        for label, data in items:
            (d / f"seed-{label}").write_bytes(data)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write(Path(sys.argv[1]))
