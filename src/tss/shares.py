"""The results of the protocols: KeyShare, Presignature and Signature, with their encodings.

Every encoding is versioned and carries a SHA-256 checksum; loading re-validates the contents
(every point on the curve, the public shares on one polynomial whose value at 0 is the public key,
the secret share matching its public image, Paillier and ring-Pedersen parameters of the right
size), so a tampered share is rejected, never silently used.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from .curve import Point, Q, base_mul, point_sum
from .errors import DecodeError, UsageError
from .paillier import PaillierSecretKey, RingPedersen, validate_public_modulus
from .params import SecurityLevel, level_by_code
from .vss import check_points, lagrange_at_zero
from .zk._codec import Reader, Writer

__all__ = ["KeyShare", "PublicKeyInfo", "Presignature", "Signature"]

_KEYSHARE_MAGIC = b"TSSK"
_PUBINFO_MAGIC = b"TSSI"
_PRESIG_MAGIC = b"TSSP"
_VERSION = 1


def _seal(magic: bytes, body: bytes) -> bytes:
    head = magic + bytes([_VERSION])
    return head + body + hashlib.sha256(head + body).digest()


def _open(magic: bytes, data: bytes, what: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"a {what} must be bytes")
    data = bytes(data)
    if len(data) < len(magic) + 1 + 32 or data[:len(magic)] != magic:
        raise DecodeError(f"not a {what}")
    if data[len(magic)] != _VERSION:
        raise DecodeError(f"unsupported {what} version {data[len(magic)]}")
    body, digest = data[:-32], data[-32:]
    if not hmac.compare_digest(hashlib.sha256(body).digest(), digest):
        raise DecodeError(f"{what} checksum mismatch: the data is corrupted or was tampered with")
    return body[len(magic) + 1:]


def _check_polynomial(points: tuple[int, ...], shares: tuple[Point, ...], t: int,
                      public_key: Point) -> None:
    """All public shares on one polynomial of degree t - 1 whose value at 0 is the key."""
    if any(p.is_identity for p in shares) or public_key.is_identity:
        raise DecodeError("a public share or the public key is the identity")
    base = list(range(t))
    xs = [points[j] for j in base]
    for j in range(len(points)):
        if j in base:
            continue
        target = points[j]
        coeffs = []
        for a in base:
            num, den = 1, 1
            for b in base:
                if b != a:
                    num = num * (target - points[b]) % Q
                    den = den * (points[a] - points[b]) % Q
            coeffs.append(num * pow(den, -1, Q) % Q)
        if point_sum(shares[a] * c for a, c in zip(base, coeffs)) != shares[j]:
            raise DecodeError("public shares are not on one polynomial of the threshold")
    if point_sum(shares[a] * lagrange_at_zero(xs, points[a]) for a in base) != public_key:
        raise DecodeError("public shares do not interpolate to the public key")


@dataclass(frozen=True)
class PublicKeyInfo:
    """The public side of a key: enough for a new committee member to check a reshare."""

    level: SecurityLevel
    threshold: int
    points: tuple[int, ...]
    public_shares: tuple[Point, ...]
    public_key_point: Point
    chain_code: bytes
    epoch: int

    @property
    def parties(self) -> int:
        return len(self.points)

    def to_bytes(self) -> bytes:
        """Versioned, checksummed encoding (for handing to a new member of a reshare)."""
        w = Writer().raw(bytes([self.level.code]))
        w.ints([self.threshold, self.epoch]).ints(list(self.points))
        for p in self.public_shares:
            w.point(p)
        w.point(self.public_key_point).raw(self.chain_code)
        return _seal(_PUBINFO_MAGIC, w.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKeyInfo:
        """Decode and validate: the public shares lie on one polynomial of the threshold whose
        value at 0 is the public key. Compare the public key with the one you expect."""
        r = Reader(_open(_PUBINFO_MAGIC, data, "public key info"))
        level = level_by_code(r.raw(1)[0])
        threshold, epoch = r.ints(2)
        points = tuple(r.ints())
        if not 1 <= len(points) <= 255:
            raise DecodeError("party count out of range")
        shares = tuple(r.point() for _ in points)
        y = r.point()
        chain = r.raw(32)
        r.end()
        info = cls(level, threshold, points, shares, y, chain, epoch)
        info.validate()
        return info

    def validate(self) -> None:
        n, t = len(self.points), self.threshold
        if not 1 <= t <= n:
            raise DecodeError("threshold must be between 1 and the number of parties")
        if not 0 <= self.epoch < 1 << 32:
            raise DecodeError("epoch out of range")
        if len(self.public_shares) != n or len(self.chain_code) != 32:
            raise DecodeError("inconsistent public key info")
        try:
            check_points(self.points)
        except UsageError as exc:
            raise DecodeError(f"evaluation points: {exc}") from None
        _check_polynomial(self.points, self.public_shares, t, self.public_key_point)


@dataclass(frozen=True, eq=False, repr=False)
class KeyShare:
    """One party's share of a threshold key, with everything it needs to presign and sign.

    ``threshold`` counts the parties needed to sign. ``points`` are the Shamir evaluation points
    of all parties (i + 1 for keys made here; tss-lib's for imported keys).
    """

    level: SecurityLevel
    index: int
    threshold: int
    parties: int
    points: tuple[int, ...]
    secret_share: int
    public_shares: tuple[Point, ...]
    public_key_point: Point
    chain_code: bytes
    paillier: PaillierSecretKey | None
    paillier_moduli: tuple[int, ...]
    ring_pedersen: tuple[RingPedersen | None, ...]
    epoch: int = 0
    imported: bool = False
    _validated: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        # only the two canonical levels exist: a look-alike object never sets the constants
        if not isinstance(self.level, SecurityLevel):
            raise DecodeError("level must be a SecurityLevel")
        object.__setattr__(self, "level", level_by_code(self.level.code))
        self.validate()

    # -- public views ---------------------------------------------------------------------
    @property
    def public_key(self) -> bytes:
        """The 33-byte compressed SEC1 public key."""
        return self.public_key_point.to_bytes()

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"tss/key-id" + self.public_key).hexdigest()[:32]

    @property
    def sharing_id(self) -> bytes:
        """32 bytes naming this sharing of the key: the same for every party's share of one
        keygen, refresh or reshare, different after any of them (the epoch alone is not
        enough: two refreshes of one epoch, one failed and retried, must never mix)."""
        h = hashlib.sha256(b"tss/sharing-id")
        h.update(bytes([self.level.code]) + self.threshold.to_bytes(2, "big")
                 + self.epoch.to_bytes(4, "big"))
        w = Writer().ints(list(self.points))
        for p in self.public_shares:
            w.point(p)
        w.ints(list(self.paillier_moduli))
        for rp in self.ring_pedersen:
            w.ints([] if rp is None else [rp.n, rp.s, rp.t])
        h.update(w.getvalue())
        return h.digest()

    @property
    def can_sign(self) -> bool:
        return not self.imported and self.paillier is not None

    def public_info(self) -> PublicKeyInfo:
        """What a new member of a reshare needs to know of the key (nothing secret)."""
        return PublicKeyInfo(self.level, self.threshold, self.points, self.public_shares,
                             self.public_key_point, self.chain_code, self.epoch)

    def lagrange(self, signers: list[int] | tuple[int, ...]) -> int:
        """This party's Lagrange coefficient for the signer set."""
        return lagrange_at_zero([self.points[j] for j in signers], self.points[self.index])

    def __repr__(self) -> str:
        return (f"KeyShare(index={self.index}, threshold={self.threshold}, parties={self.parties}"
                f", public_key={self.public_key.hex()}, level={self.level.name.lower()}"
                f", epoch={self.epoch}{', imported' if self.imported else ''})")

    # -- validation -----------------------------------------------------------------------
    def validate(self) -> None:
        n, t = self.parties, self.threshold
        if not isinstance(self.epoch, int) or not 0 <= self.epoch < 1 << 32:
            raise DecodeError("epoch out of range")
        if not 1 <= t <= n:
            raise DecodeError("threshold must be between 1 and the number of parties")
        if not 0 <= self.index < n:
            raise DecodeError("party index out of range")
        for name, seq in (("points", self.points), ("public shares", self.public_shares),
                          ("Paillier moduli", self.paillier_moduli),
                          ("ring-Pedersen parameters", self.ring_pedersen)):
            if len(seq) != n:
                raise DecodeError(f"{name}: expected {n}, got {len(seq)}")
        try:
            check_points(self.points)
        except UsageError as exc:
            raise DecodeError(f"evaluation points: {exc}") from None
        if len(self.chain_code) != 32:
            raise DecodeError("chain code must be 32 bytes")
        if not 0 < self.secret_share < Q:
            raise DecodeError("secret share out of range")
        if base_mul(self.secret_share) != self.public_shares[self.index]:
            raise DecodeError("secret share does not match its public share")
        _check_polynomial(self.points, self.public_shares, t, self.public_key_point)
        if not self.imported:
            if self.paillier is None:
                raise DecodeError("a key share needs its Paillier key")
            if self.paillier.n != self.paillier_moduli[self.index]:
                raise DecodeError("own Paillier key does not match the stored modulus")
            for j in range(n):
                validate_public_modulus(self.paillier_moduli[j], self.level)
                rp = self.ring_pedersen[j]
                if rp is None or rp.n != self.paillier_moduli[j]:
                    raise DecodeError("ring-Pedersen modulus does not match the Paillier modulus")
                rp.validate()

    # -- encoding -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        w = Writer()
        w.raw(bytes([self.level.code, 1 if self.imported else 0]))
        w.ints([self.index, self.threshold, self.parties, self.epoch, self.secret_share])
        w.ints(list(self.points))
        for p in self.public_shares:
            w.point(p)
        w.point(self.public_key_point)
        w.raw(self.chain_code)
        sk = self.paillier
        w.ints([] if sk is None else [sk.p, sk.q])
        w.ints(list(self.paillier_moduli))
        for rp in self.ring_pedersen:
            w.ints([] if rp is None else [rp.n, rp.s, rp.t])
        return _seal(_KEYSHARE_MAGIC, w.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyShare:
        r = Reader(_open(_KEYSHARE_MAGIC, data, "key share"))
        level = level_by_code(r.raw(1)[0])
        flag = r.raw(1)[0]
        if flag > 1:
            raise DecodeError("bad flag byte")
        index, threshold, parties, epoch, secret = r.ints(5)
        if not 1 <= parties <= 1000:
            raise DecodeError("party count out of range")
        points = tuple(r.ints(parties))
        shares = tuple(r.point() for _ in range(parties))
        y = r.point()
        chain = r.raw(32)
        pq = r.ints()
        if len(pq) not in (0, 2):
            raise DecodeError("bad Paillier key")
        moduli = tuple(r.ints(parties))
        rps: list[RingPedersen | None] = []
        for _ in range(parties):
            v = r.ints()
            if len(v) not in (0, 3):
                raise DecodeError("bad ring-Pedersen parameters")
            rps.append(RingPedersen(*v) if v else None)
        r.end()
        sk = None
        if pq:
            sk = PaillierSecretKey.from_factors(pq[0], pq[1], level)
        return cls(level, index, threshold, parties, points, secret, shares, y, chain, sk,
                   moduli, tuple(rps), epoch, bool(flag))


@dataclass(frozen=True, slots=True)
class Signature:
    """An ECDSA signature on secp256k1 with low S and the recovery id (0-3)."""

    r: int
    s: int
    recovery_id: int

    def to_bytes(self) -> bytes:
        """64 bytes: r || s."""
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big")

    def to_der(self) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        return encode_dss_signature(self.r, self.s)

    def to_recoverable(self) -> bytes:
        """65 bytes r || s || recovery_id (coincurve's and Ethereum's layout, v without 27)."""
        return self.to_bytes() + bytes([self.recovery_id])

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        if not isinstance(data, (bytes, bytearray)) or len(data) not in (64, 65):
            raise DecodeError("a signature is 64 (r||s) or 65 (r||s||v) bytes")
        r = int.from_bytes(data[:32], "big")
        s = int.from_bytes(data[32:64], "big")
        v = data[64] if len(data) == 65 else 0
        if not (0 < r < Q and 0 < s <= Q // 2 and v < 4):
            raise DecodeError("signature values out of range (s must be low)")
        return cls(r, s, v)

    def verify(self, public_key: bytes, message_hash: bytes) -> bool:
        """Check with libsecp256k1 (through coincurve)."""
        from coincurve import PublicKey

        try:
            return PublicKey(public_key).verify(self.to_der(), message_hash, hasher=None)
        except (ValueError, TypeError):
            return False


class Presignature:
    """One party's single-use presignature (message independent).

    Holds R, this party's k_i and chi_i (secret), and every signer's public R̄_j = k_j R and
    S_j = chi_j R, which let anyone check each partial signature. ``consumed`` is set before a
    partial signature is released and travels with ``to_bytes``; a consumed presignature never
    signs again. Keep the bytes of an unconsumed presignature in one place only: restoring an
    old copy is the one reuse the library cannot see.
    """

    __slots__ = ("session_id", "index", "signers", "R", "k", "chi", "Rbar", "S",
                 "public_key_point", "chain_code", "epoch", "consumed")

    def __init__(self, session_id: bytes, index: int, signers: tuple[int, ...], R: Point,
                 k: int, chi: int, Rbar: dict[int, Point], S: dict[int, Point],
                 public_key_point: Point, chain_code: bytes, epoch: int,
                 consumed: bool = False) -> None:
        self.session_id = session_id
        self.index = index
        self.signers = signers
        self.R = R
        self.k = k
        self.chi = chi
        self.Rbar = Rbar
        self.S = S
        self.public_key_point = public_key_point
        self.chain_code = chain_code
        self.epoch = epoch
        self.consumed = consumed

    @property
    def public_key(self) -> bytes:
        return self.public_key_point.to_bytes()

    def __repr__(self) -> str:
        return (f"Presignature(index={self.index}, signers={list(self.signers)}, "
                f"R={self.R.to_bytes().hex()[:16]}..., consumed={self.consumed})")

    def to_bytes(self) -> bytes:
        w = Writer()
        w.raw(bytes([len(self.session_id)]) + self.session_id)
        w.raw(bytes([1 if self.consumed else 0]))
        w.ints([self.index, self.epoch, self.k, self.chi])
        w.ints(list(self.signers))
        w.point(self.R)
        for j in self.signers:
            w.point(self.Rbar[j]).point(self.S[j])
        w.point(self.public_key_point)
        w.raw(self.chain_code)
        return _seal(_PRESIG_MAGIC, w.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> Presignature:
        r = Reader(_open(_PRESIG_MAGIC, data, "presignature"))
        slen = r.raw(1)[0]
        if not 1 <= slen <= 64:
            raise DecodeError("bad session id")
        sid = r.raw(slen)
        consumed = r.raw(1)[0]
        if consumed > 1:
            raise DecodeError("bad flag byte")
        index, epoch, k, chi = r.ints(4)
        signers = tuple(r.ints())
        if not signers or index not in signers or len(set(signers)) != len(signers):
            raise DecodeError("bad signer set")
        if not (0 < k < Q and 0 <= chi < Q):
            raise DecodeError("presignature secrets out of range")
        R = r.point()
        Rbar, S = {}, {}
        for j in signers:
            Rbar[j] = r.point()
            S[j] = r.point(allow_identity=True)
        y = r.point()
        chain = r.raw(32)
        r.end()
        if R * k != Rbar[index]:
            raise DecodeError("presignature does not match its public values")
        if R * chi != S[index]:
            raise DecodeError("presignature does not match its public values")
        return cls(sid, index, signers, R, k, chi, Rbar, S, y, chain, epoch, bool(consumed))
