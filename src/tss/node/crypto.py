"""Small cryptographic helpers of the node system, all from ``cryptography`` and argon2-cffi.

* ``IdentityKey``: a party's long-term Ed25519 key (signs joins, broadcasts and results).
* ``Kek``: the key-encryption key of a store, Argon2id over a passphrase with a stored random
  salt and a verification record, so a wrong passphrase fails closed; it wraps one random
  ChaCha20-Poly1305 data key per record (``seal_record`` / ``open_record``).
* ``seal_to_code`` / ``seal_to_x25519``: how a user's share bundle leaves the system once.

Nothing here logs, and no exception message carries key material.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "IdentityKey", "verify_ed25519", "b64u", "unb64u", "canonical_json", "Kek",
    "SealedRecord", "seal_record", "open_record", "CryptoError", "WrongPassphrase",
    "seal_to_code", "open_with_code", "seal_to_x25519", "open_with_x25519", "sha256_hex",
    "x25519_public_bytes", "hkdf",
]


class CryptoError(Exception):
    """Decryption or verification failed (the data was altered or the key is wrong)."""


class WrongPassphrase(CryptoError):
    """The passphrase does not derive this store's key-encryption key."""


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str, *, max_len: int = 1 << 24) -> bytes:
    if not isinstance(text, str) or len(text) > max_len:
        raise CryptoError("bad base64")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise CryptoError("bad base64") from None


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hkdf(secret: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def x25519_public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


class IdentityKey:
    """A long-term Ed25519 key. ``public_hex`` is what rosters and key records pin."""

    __slots__ = ("_key", "public", "public_hex")

    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self._key = key or Ed25519PrivateKey.generate()
        self.public = self._key.public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)
        self.public_hex = self.public.hex()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def to_bytes(self) -> bytes:
        return self._key.private_bytes(serialization.Encoding.Raw,
                                       serialization.PrivateFormat.Raw,
                                       serialization.NoEncryption())

    @classmethod
    def from_bytes(cls, data: bytes) -> IdentityKey:
        if not isinstance(data, (bytes, bytearray)) or len(data) != 32:
            raise CryptoError("an Ed25519 private key is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(bytes(data)))

    def __repr__(self) -> str:
        return f"IdentityKey(public={self.public_hex[:16]}...)"


def verify_ed25519(public: bytes | str, signature: bytes, data: bytes) -> bool:
    try:
        pub = bytes.fromhex(public) if isinstance(public, str) else bytes(public)
        if len(pub) != 32 or len(signature) != 64:
            return False
        Ed25519PublicKey.from_public_bytes(pub).verify(signature, data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


# ---------------------------------------------------------------------- encryption at rest
@dataclass(frozen=True)
class KdfParams:
    # OWASP's Argon2id setting (19 MiB, 2 passes): the KEK is derived once per store opening
    time_cost: int = 2
    memory_cost: int = 19456  # KiB
    parallelism: int = 1

    def to_json(self) -> str:
        return json.dumps({"alg": "argon2id", "t": self.time_cost, "m": self.memory_cost,
                           "p": self.parallelism}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> KdfParams:
        d = json.loads(text)
        if d.get("alg") != "argon2id":
            raise CryptoError("unknown key-derivation algorithm")
        return cls(int(d["t"]), int(d["m"]), int(d["p"]))


_VERIFY_LABEL = b"tss-node/kek-verifier/v1"


class Kek:
    """A key-encryption key derived with Argon2id from a passphrase and a stored salt."""

    __slots__ = ("kek_id", "_key")

    def __init__(self, kek_id: str, key: bytes) -> None:
        self.kek_id = kek_id
        self._key = key

    @staticmethod
    def derive(passphrase: str | bytes, salt: bytes, params: KdfParams) -> bytes:
        from argon2.low_level import Type, hash_secret_raw

        secret = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
        if not secret:
            raise CryptoError("empty passphrase")
        return hash_secret_raw(secret, salt, time_cost=params.time_cost,
                               memory_cost=params.memory_cost, parallelism=params.parallelism,
                               hash_len=32, type=Type.ID)

    @classmethod
    def create(cls, passphrase: str | bytes, params: KdfParams | None = None
               ) -> tuple[Kek, dict[str, Any]]:
        """A new KEK and the record to store (salt, parameters, verifier; no secret)."""
        params = params or KdfParams()
        salt = os.urandom(16)
        key = cls.derive(passphrase, salt, params)
        kek_id = hashlib.sha256(b"tss-node/kek-id" + salt).hexdigest()[:16]
        record = {"kek_id": kek_id, "salt": salt, "params": params.to_json(),
                  "verifier": hmac.new(key, _VERIFY_LABEL, hashlib.sha256).digest()}
        return cls(kek_id, key), record

    @classmethod
    def open(cls, passphrase: str | bytes, record: dict[str, Any]) -> Kek:
        params = KdfParams.from_json(record["params"])
        key = cls.derive(passphrase, bytes(record["salt"]), params)
        check = hmac.new(key, _VERIFY_LABEL, hashlib.sha256).digest()
        if not hmac.compare_digest(check, bytes(record["verifier"])):
            raise WrongPassphrase("wrong passphrase for this store (its key-encryption key "
                                  "does not verify)")
        return cls(record["kek_id"], key)

    def wrap(self, dek: bytes, ad: bytes) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        return nonce, ChaCha20Poly1305(self._key).encrypt(nonce, dek, b"tss-node/dek/v1|" +
                                                           self.kek_id.encode() + b"|" + ad)

    def unwrap(self, nonce: bytes, wrapped: bytes, ad: bytes) -> bytes:
        try:
            return ChaCha20Poly1305(self._key).decrypt(nonce, wrapped, b"tss-node/dek/v1|" +
                                                       self.kek_id.encode() + b"|" + ad)
        except InvalidTag:
            raise CryptoError("the data key does not unwrap (wrong key or altered record)"
                              ) from None

    def __repr__(self) -> str:
        return f"Kek({self.kek_id})"


@dataclass(frozen=True)
class SealedRecord:
    nonce: bytes
    ciphertext: bytes
    dek_nonce: bytes
    wrapped_dek: bytes
    kek_id: str


def seal_record(kek: Kek, plaintext: bytes, ad: bytes) -> SealedRecord:
    """Encrypt under a fresh data key; the data key is wrapped by ``kek``; ``ad`` binds both."""
    dek = ChaCha20Poly1305.generate_key()
    nonce = os.urandom(12)
    ct = ChaCha20Poly1305(dek).encrypt(nonce, plaintext, ad)
    dek_nonce, wrapped = kek.wrap(dek, ad)
    return SealedRecord(nonce, ct, dek_nonce, wrapped, kek.kek_id)


def open_record(kek: Kek, rec: SealedRecord, ad: bytes) -> bytes:
    if rec.kek_id != kek.kek_id:
        raise CryptoError("the record was sealed under another key-encryption key")
    dek = kek.unwrap(rec.dek_nonce, rec.wrapped_dek, ad)
    try:
        return ChaCha20Poly1305(dek).decrypt(rec.nonce, rec.ciphertext, ad)
    except InvalidTag:
        raise CryptoError("the record does not decrypt (altered ciphertext or context)") from None


# ---------------------------------------------------------------------- export to the user
_EXPORT_INFO = b"tss-node/share-export/v1"


def seal_to_code(code: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """Encrypt with a key derived from a high-entropy one-time code (>= 16 random bytes)."""
    if len(code) < 16:
        raise CryptoError("the code must have at least 128 bits")
    key = hkdf(code, salt=b"", info=_EXPORT_INFO + b"/code")
    nonce = os.urandom(12)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, ad)


def open_with_code(code: bytes, blob: bytes, ad: bytes) -> bytes:
    key = hkdf(code, salt=b"", info=_EXPORT_INFO + b"/code")
    if len(blob) < 12 + 16:
        raise CryptoError("ciphertext too short")
    try:
        return ChaCha20Poly1305(key).decrypt(blob[:12], blob[12:], ad)
    except InvalidTag:
        raise CryptoError("wrong key or altered ciphertext") from None


def seal_to_x25519(recipient: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """ECIES: ephemeral X25519, HKDF-SHA256, ChaCha20-Poly1305. Output: epk || nonce || ct."""
    try:
        peer = X25519PublicKey.from_public_bytes(bytes(recipient))
    except ValueError:
        raise CryptoError("an X25519 public key is 32 bytes") from None
    eph = X25519PrivateKey.generate()
    epk = x25519_public_bytes(eph)
    key = hkdf(eph.exchange(peer), salt=epk + bytes(recipient), info=_EXPORT_INFO + b"/x25519")
    nonce = os.urandom(12)
    return epk + nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, ad)


def open_with_x25519(private: X25519PrivateKey, blob: bytes, ad: bytes) -> bytes:
    if len(blob) < 32 + 12 + 16:
        raise CryptoError("ciphertext too short")
    epk, nonce, ct = blob[:32], blob[32:44], blob[44:]
    mine = x25519_public_bytes(private)
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(epk))
        key = hkdf(shared, salt=epk + mine, info=_EXPORT_INFO + b"/x25519")
        return ChaCha20Poly1305(key).decrypt(nonce, ct, ad)
    except (InvalidTag, ValueError):
        raise CryptoError("wrong key or altered ciphertext") from None
