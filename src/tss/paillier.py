"""Paillier encryption over Paillier-Blum moduli N = p q (p, q safe primes, both 3 mod 4).

Encryption uses (1 + N)^m = 1 + m N (mod N^2). The secret key decrypts with CRT and, when it
encrypts or exponentiates itself, also uses CRT. The same modulus doubles as the party's
ring-Pedersen modulus, with t = r^2 and s = t^lambda (CGGMP21), so each party needs only two safe
primes.

Plaintexts are integers mod N; :meth:`PaillierSecretKey.decrypt` returns the representative in
(-N/2, N/2], which is what MtA needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd, isqrt

from . import arith
from .errors import DecodeError, UsageError
from .params import SecurityLevel, level_by_code
from .randomness import Rng, resolve

__all__ = [
    "PaillierPublicKey", "PaillierSecretKey", "RingPedersen", "RingPedersenSecret",
    "generate_keypair", "keypair_from_primes", "validate_public_modulus",
]


def validate_public_modulus(n: int, level: SecurityLevel) -> None:
    """Cheap structural checks on a peer's modulus; the real assurance is Πmod and Πfac.

    Exactly ``level.paillier_bits`` bits, odd, not a perfect square, not a probable prime.
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise DecodeError("modulus must be an int")
    if n.bit_length() != level.paillier_bits:
        raise DecodeError(f"modulus must have exactly {level.paillier_bits} bits")
    if not n & 1:
        raise DecodeError("modulus must be odd")
    if isqrt(n) ** 2 == n:
        raise DecodeError("modulus must not be a square")
    if arith.is_probable_prime(n):
        raise DecodeError("modulus must not be prime")


@dataclass(frozen=True, slots=True)
class PaillierPublicKey:
    n: int

    @property
    def n2(self) -> int:
        return self.n * self.n

    def in_plaintext_range(self, m: int) -> int:
        return m % self.n

    def encrypt_with(self, m: int, r: int) -> int:
        """Enc(m; r) = (1 + m N) r^N mod N^2."""
        n, n2 = self.n, self.n2
        return (1 + (m % n) * n) * arith.powmod_sec(r, n, n2) % n2

    def encrypt(self, m: int, rng: Rng | None = None) -> tuple[int, int]:
        """Return (ciphertext, r) with fresh r in Z_N^*."""
        r = resolve(rng).unit(self.n)
        return self.encrypt_with(m, r), r

    def add(self, c1: int, c2: int) -> int:
        return c1 * c2 % self.n2

    def mul(self, c: int, k: int) -> int:
        """Enc(k * m) from Enc(m); k may be secret and negative (constant time)."""
        return arith.powmod_sec(c, k, self.n2) if k else 1

    def is_ciphertext(self, c: object) -> bool:
        """c is an int in Z_{N^2}^* (validation of a peer's ciphertext)."""
        return (isinstance(c, int) and not isinstance(c, bool) and 0 < c < self.n2
                and gcd(c, self.n) == 1)

    def to_bytes(self, level: SecurityLevel) -> bytes:
        return self.n.to_bytes(level.modulus_bytes, "big")

    def transcript_bytes(self) -> bytes:
        return self.n.to_bytes((self.n.bit_length() + 7) // 8, "big")


class PaillierSecretKey:
    """The factors p, q of N with CRT precomputation. Never printed, never logged."""

    __slots__ = ("p", "q", "public", "phi", "_crt_n", "_crt_n2", "_hp", "_hq", "_qinv_p")

    def __init__(self, p: int, q: int) -> None:
        if p == q:
            raise UsageError("Paillier primes must differ")
        self.p, self.q = p, q
        n = p * q
        self.public = PaillierPublicKey(n)
        self.phi = (p - 1) * (q - 1)
        self._crt_n = arith.crt_params(p, q, p - 1, q - 1)
        self._crt_n2 = arith.crt_params(p * p, q * q, p * (p - 1), q * (q - 1))
        # L_p((1+N)^(p-1) mod p^2) = (p-1) q mod p, so h_p = ((p-1) q)^-1 = (-q)^-1 mod p
        self._hp = arith.invert(-q % p, p)
        self._hq = arith.invert(-p % q, q)
        self._qinv_p = arith.invert(q, p)

    @property
    def n(self) -> int:
        return self.public.n

    def decrypt(self, c: int) -> int:
        """The plaintext in (-N/2, N/2]."""
        p, q = self.p, self.q
        cp = arith.powmod_sec(c % (p * p), p - 1, p * p)
        cq = arith.powmod_sec(c % (q * q), q - 1, q * q)
        mp = (cp - 1) // p * self._hp % p
        mq = (cq - 1) // q * self._hq % q
        m = mq + q * ((mp - mq) * self._qinv_p % p)
        return m - self.n if m > self.n // 2 else m

    def powmod_n(self, b: int, e: int) -> int:
        """b^e mod N with CRT (secret b or e)."""
        return arith.crt_powmod(b, e, self._crt_n)

    def powmod_n2(self, b: int, e: int) -> int:
        """b^e mod N^2 with CRT (secret b or e)."""
        return arith.crt_powmod(b, e, self._crt_n2)

    def encrypt_with(self, m: int, r: int) -> int:
        """Enc(m; r) computed with the factors (r^N by CRT)."""
        n, n2 = self.n, self.public.n2
        return (1 + (m % n) * n) * self.powmod_n2(r, n) % n2

    def encrypt(self, m: int, rng: Rng | None = None) -> tuple[int, int]:
        r = resolve(rng).unit(self.n)
        return self.encrypt_with(m, r), r

    def to_bytes(self) -> bytes:
        half = (self.n.bit_length() // 2 + 7) // 8
        return self.p.to_bytes(half, "big") + self.q.to_bytes(half, "big")

    @classmethod
    def from_bytes(cls, data: bytes, level: SecurityLevel) -> PaillierSecretKey:
        half = level.prime_bits // 8
        if len(data) != 2 * half:
            raise DecodeError("wrong length for a Paillier secret key")
        p = int.from_bytes(data[:half], "big")
        q = int.from_bytes(data[half:], "big")
        return cls.from_factors(p, q, level)

    @classmethod
    def from_factors(cls, p: int, q: int, level: SecurityLevel) -> PaillierSecretKey:
        """A key from stored factors, validated: distinct primes, N of the level's exact size."""
        if p < 3 or q < 3 or p == q or (p * q).bit_length() != level.paillier_bits:
            raise DecodeError("invalid Paillier secret key")
        if not (arith.is_probable_prime(p) and arith.is_probable_prime(q)):
            raise DecodeError("invalid Paillier secret key: the factors are not prime")
        return cls(p, q)

    def __repr__(self) -> str:
        return f"PaillierSecretKey(n_bits={self.n.bit_length()}, <secret>)"

    def __reduce__(self):  # pragma: no cover - refuse accidental pickling of secrets
        raise TypeError("secret keys are not picklable; use to_bytes()")


@dataclass(frozen=True, slots=True)
class RingPedersen:
    """Public ring-Pedersen parameters (N, s, t): commitments s^x t^y mod N."""

    n: int
    s: int
    t: int

    def commit(self, x: int, y: int) -> int:
        return arith.multi_powmod([self.s, self.t], [x, y], self.n)

    def validate(self) -> None:
        """Structural checks on a peer's parameters (Πprm is the proof that s is in <t>)."""
        n = self.n
        for name, v in (("s", self.s), ("t", self.t)):
            if not isinstance(v, int) or isinstance(v, bool) or not 1 < v < n - 1:
                raise DecodeError(f"ring-Pedersen {name} out of range")
            if gcd(v, n) != 1:
                raise DecodeError(f"ring-Pedersen {name} is not a unit")
        if self.s == self.t:
            raise DecodeError("ring-Pedersen s equals t")

    def transcript_bytes(self) -> bytes:
        from .hashing import encode

        return encode([self.n, self.s, self.t])


class RingPedersenSecret:
    """lambda with s = t^lambda mod N, and the group order phi(N); secret."""

    __slots__ = ("params", "lam", "phi")

    def __init__(self, params: RingPedersen, lam: int, phi: int) -> None:
        self.params, self.lam, self.phi = params, lam, phi

    def __repr__(self) -> str:
        return "RingPedersenSecret(<secret>)"


def ring_pedersen_from(sk: PaillierSecretKey, rng: Rng | None = None) -> RingPedersenSecret:
    """t = r^2, s = t^lambda for random r in Z_N^* and lambda in Z_phi(N)."""
    rng = resolve(rng)
    n = sk.n
    while True:
        r = rng.unit(n)
        t = sk.powmod_n(r, 2)
        lam = rng.below(sk.phi)
        s = sk.powmod_n(t, lam)
        params = RingPedersen(n, s, t)
        try:
            params.validate()
        except DecodeError:
            continue
        return RingPedersenSecret(params, lam, sk.phi)


def keypair_from_primes(p: int, q: int) -> PaillierSecretKey:
    return PaillierSecretKey(p, q)


def generate_keypair(level: SecurityLevel, rng: Rng | None = None) -> PaillierSecretKey:
    """Two fresh safe primes of level.prime_bits bits each; N has exactly level.paillier_bits."""
    rng = resolve(rng)
    while True:
        p = arith.random_safe_prime(level.prime_bits, seed=_seed(rng))
        q = arith.random_safe_prime(level.prime_bits, seed=_seed(rng))
        if p != q and (p * q).bit_length() == level.paillier_bits:
            return PaillierSecretKey(p, q)


def _seed(rng: Rng) -> bytes | None:
    from .randomness import SystemRng

    # the OS path lets the kernel draw its own randomness; a seeded Rng makes keys reproducible
    return None if isinstance(rng, SystemRng) else rng.bytes(32)


def level_of(n: int) -> SecurityLevel:
    for code in (1, 2):
        level = level_by_code(code)
        if n.bit_length() == level.paillier_bits:
            return level
    raise DecodeError("modulus size matches no security level")
