"""Join tokens: ``v1.<b64url(claims)>.<b64url(Ed25519 signature)>``, signed by the coordinator.

Claims: ``{sid, party_id, idx, role, typ, n, t, aud, iat, exp, jti}`` and, for a sign session of
a key whose parties are pinned, ``ed25519`` (the only identity key allowed to use the token).
The algorithm is fixed (no negotiation). A token is single use: the first join that presents it
claims its ``jti`` in the bus key-value table (``jti.<jti>`` -> hash of the join's keys); a
second, different join is refused (409); the same join repeated is idempotent. The
coordinator's database keeps only ``sha256(token)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from typing import Any

from .crypto import IdentityKey, b64u, canonical_json, unb64u, verify_ed25519

__all__ = ["TokenError", "issue", "verify", "token_hash", "claim", "AUDIENCE", "join_binding"]

AUDIENCE = "tss-router"
_SIG_LABEL = b"tss-node/join-token/v1."
_FIELDS = {"sid": str, "party_id": str, "idx": int, "role": str, "typ": str, "n": int,
           "t": int, "aud": str, "iat": int, "exp": int, "jti": str}
_JTI = re.compile(r"^[0-9a-f]{32}$")
MAX_TOKEN = 2048
CLOCK_SKEW = 30


class TokenError(Exception):
    """A join token that cannot be used. ``status`` is the HTTP status to answer with."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(key: IdentityKey, *, sid: str, party_id: str, idx: int, role: str, typ: str, n: int,
          t: int, ttl: float, now: float | None = None, ed25519: str | None = None
          ) -> tuple[str, dict[str, Any]]:
    now = time.time() if now is None else now
    claims: dict[str, Any] = {"sid": sid, "party_id": party_id, "idx": idx, "role": role,
                              "typ": typ, "n": n, "t": t, "aud": AUDIENCE, "iat": int(now),
                              "exp": int(now + ttl), "jti": os.urandom(16).hex()}
    if ed25519 is not None:
        claims["ed25519"] = ed25519
    body = b64u(canonical_json(claims))
    sig = key.sign(_SIG_LABEL + body.encode())
    return f"v1.{body}.{b64u(sig)}", claims


def verify(token: object, coordinator_public: str, *, now: float | None = None,
           sid: str | None = None) -> dict[str, Any]:
    """The claims of a valid, unexpired token (of session ``sid`` if given); else TokenError."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise TokenError("invalid_token", "malformed join token")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1":
        raise TokenError("invalid_token", "malformed join token")
    try:
        sig = unb64u(parts[2], max_len=200)
        raw = unb64u(parts[1], max_len=MAX_TOKEN)
    except Exception:  # noqa: BLE001 - CryptoError and friends
        raise TokenError("invalid_token", "malformed join token") from None
    if not verify_ed25519(coordinator_public, sig, _SIG_LABEL + parts[1].encode()):
        raise TokenError("invalid_token", "join token signature does not verify")
    try:
        claims = json.loads(raw)
    except ValueError:
        raise TokenError("invalid_token", "malformed join token") from None
    if not isinstance(claims, dict):
        raise TokenError("invalid_token", "malformed join token")
    for name, typ in _FIELDS.items():
        v = claims.get(name)
        if not isinstance(v, typ) or isinstance(v, bool):
            raise TokenError("invalid_token", f"join token lacks {name}")
    if claims["aud"] != AUDIENCE or not _JTI.match(claims["jti"]):
        raise TokenError("invalid_token", "join token is not for this service")
    now = time.time() if now is None else now
    if claims["exp"] < now:
        raise TokenError("token_expired", "join token expired")
    if claims["iat"] > now + CLOCK_SKEW:
        raise TokenError("invalid_token", "join token issued in the future")
    if sid is not None and not hmac.compare_digest(claims["sid"].encode(), sid.encode()):
        raise TokenError("wrong_session", "join token belongs to another session", 403)
    return claims


def join_binding(sid: str, party_id: str, ed25519: str, x25519: str) -> bytes:
    """What a joining party signs with its identity key (and what its token gets bound to)."""
    return canonical_json({"ctx": "tss-node/join/v1", "sid": sid, "party_id": party_id,
                           "ed25519": ed25519, "x25519": x25519})


def check_join(claims: dict[str, Any], *, ed25519: str, x25519: str, signature: bytes) -> None:
    """The joining party proves it holds ``ed25519`` (and the pinned key, if any)."""
    pinned = claims.get("ed25519")
    if pinned is not None and pinned != ed25519:
        raise TokenError("identity_mismatch", "this party must join with its registered "
                         "identity key", 403)
    if not re.fullmatch(r"[0-9a-f]{64}", ed25519) or not re.fullmatch(r"[0-9a-f]{64}", x25519):
        raise TokenError("invalid_join", "ed25519 and x25519 are 64 hex characters", 400)
    if not verify_ed25519(ed25519, signature,
                          join_binding(claims["sid"], claims["party_id"], ed25519, x25519)):
        raise TokenError("invalid_join", "the join signature does not verify", 401)


async def claim(bus: Any, claims: dict[str, Any], binding: bytes, *,
                strict: bool = False) -> None:
    """Mark the token used by this join; TokenError(409) if it was used before. With
    ``strict`` (the router, facing clients) any second use is refused; otherwise (the
    coordinator, reading the bus) the same join seen again is accepted."""
    digest = hashlib.sha256(binding).hexdigest().encode()
    key = f"jti.{claims['jti']}"
    if await bus.kv_create(key, digest) is not None:
        return
    if strict:
        raise TokenError("token_used", "join token was already used", 409)
    held = await bus.kv_get(key)
    if held is not None and hmac.compare_digest(held.value, digest):
        return  # the same join again: idempotent
    raise TokenError("token_used", "join token was already used", 409)


def identity_for(key: IdentityKey) -> str:
    return key.public_hex
