"""Python clients of the node system.

* :class:`CoordinatorClient`: the coordinator's HTTP API (keygen, sign, sessions) with the API
  key.
* :class:`DeviceParty`: a device party (a phone, a wallet app, the mpc-service acting for a
  user): joins a session with its join token through the router, checks the coordinator's
  signed roster, runs the protocol with its envelopes sealed end to end, reports a signed
  result and returns the ``tss.KeyShare`` or ``tss.Signature`` (``reshare``/``refresh``: the
  new share once the coordinator's signed ``completed`` arrives, None for an old member that
  leaves the committee: it deletes its old share then, and only then).
* :class:`DeviceBundle` and :func:`open_bundle`: what a device keeps (its share and its
  identity key) and how the identity service's ``encryptedShare`` opens.

Every call is a coroutine; :func:`run_sync` runs one from synchronous code.

    >>> coord = CoordinatorClient("http://127.0.0.1:4000", api_key)        # doctest: +SKIP
    >>> s = await coord.keygen(3, 2, [{"party_id": "phone", "device_type": "mobile"},
    ...                               {"party_id": "server-party-1"}, {"party_id": "backup",
    ...                                "device_type": "backup"}])          # doctest: +SKIP
    >>> phone = DeviceParty("http://127.0.0.1:8082", "phone")               # doctest: +SKIP
    >>> share = await phone.keygen(s["session_id"], s["join_tokens"]["phone"])  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import tss

from .crypto import (
    IdentityKey,
    b64u,
    open_with_code,
    open_with_x25519,
    unb64u,
    x25519_public_bytes,
)
from .run import (
    ChangeOutcome,
    ProtocolRun,
    RunFailed,
    change_report,
    keygen_report,
    sign_report,
    verify_final,
    verify_roster,
)
from .tokens import join_binding

__all__ = ["CoordinatorClient", "DeviceParty", "DeviceBundle", "open_bundle", "ClientError",
           "run_sync", "bundle_context"]

T = TypeVar("T")


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine of this module from synchronous code."""
    async def main() -> T:
        return await coro
    return asyncio.run(main())


class ClientError(Exception):
    """The service answered with an error (``status``, ``code``) or the session failed."""

    def __init__(self, message: str, *, status: int = 0, code: str = "",
                 body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body = body


def _raise_for(r: httpx.Response) -> Any:
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code >= 400:
        err = (body or {}).get("error") if isinstance(body, dict) else None
        code = err.get("code", "") if isinstance(err, dict) else ""
        msg = err.get("message", "") if isinstance(err, dict) else ""
        raise ClientError(f"HTTP {r.status_code} {code}: {msg}".strip(), status=r.status_code,
                          code=code, body=body)
    return body


class CoordinatorClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport,
                                       headers={"X-API-Key": api_key})

    async def __aenter__(self) -> CoordinatorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def keygen(self, threshold_n: int, threshold_t: int,
                     participants: list[dict[str, Any]], *,
                     timeout_seconds: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"threshold_n": threshold_n, "threshold_t": threshold_t,
                                "participants": participants}
        if timeout_seconds is not None:
            body["timeout_seconds"] = timeout_seconds
        return _raise_for(await self._http.post("/api/v1/mpc/keygen", json=body))

    async def sign(self, message_hash: bytes | str, *, key_id: str | None = None,
                   public_key: str | None = None, participants: list[str] | None = None,
                   derivation_path: str | None = None, purpose: str | None = None,
                   timeout_seconds: int | None = None) -> dict[str, Any]:
        mh = message_hash.hex() if isinstance(message_hash, bytes) else message_hash
        body = {k: v for k, v in {"key_id": key_id, "public_key": public_key,
                                  "message_hash": mh, "participants": participants,
                                  "derivation_path": derivation_path, "purpose": purpose,
                                  "timeout_seconds": timeout_seconds}.items() if v is not None}
        return _raise_for(await self._http.post("/api/v1/mpc/sign", json=body))

    async def reshare(self, new_threshold_t: int, new_participants: list[dict[str, Any]], *,
                      key_id: str | None = None, public_key: str | None = None,
                      old_participants: list[str] | None = None,
                      timeout_seconds: int | None = None) -> dict[str, Any]:
        body = {k: v for k, v in {"key_id": key_id, "public_key": public_key,
                                  "new_threshold_t": new_threshold_t,
                                  "new_participants": new_participants,
                                  "old_participants": old_participants,
                                  "timeout_seconds": timeout_seconds}.items() if v is not None}
        return _raise_for(await self._http.post("/api/v1/mpc/reshare", json=body))

    async def refresh(self, *, key_id: str | None = None, public_key: str | None = None,
                      timeout_seconds: int | None = None) -> dict[str, Any]:
        body = {k: v for k, v in {"key_id": key_id, "public_key": public_key,
                                  "timeout_seconds": timeout_seconds}.items() if v is not None}
        return _raise_for(await self._http.post("/api/v1/mpc/refresh", json=body))

    async def key(self, key_id: str) -> dict[str, Any]:
        return _raise_for(await self._http.get(f"/api/v1/mpc/keys/{key_id}"))

    async def session(self, session_id: str) -> dict[str, Any]:
        return _raise_for(await self._http.get(f"/api/v1/mpc/sessions/{session_id}"))

    async def parties(self) -> dict[str, Any]:
        return _raise_for(await self._http.get("/api/v1/mpc/parties"))

    async def wait(self, session_id: str, *, timeout: float = 120.0,
                   interval: float = 0.2) -> dict[str, Any]:
        """Poll until the session is completed, failed or expired (at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            view = await self.session(session_id)
            if view["status"] in ("completed", "failed", "expired"):
                return view
            if time.monotonic() > deadline:
                raise ClientError(f"session {session_id} still {view['status']} after "
                                  f"{timeout:.0f} s", code="client_timeout", body=view)
            await asyncio.sleep(interval)


class _RouterTransport:
    def __init__(self, http: httpx.AsyncClient, sid: str, access: str) -> None:
        self.http = http
        self.sid = sid
        self.headers = {"Authorization": f"Bearer {access}"}
        self.cursor = 0
        self.buffer: list[bytes] = []

    async def send(self, items: list[tuple[int, bytes]]) -> None:
        body = {"messages": [{"to": j, "data": b64u(d)} for j, d in items]}
        for attempt in range(5):
            try:
                r = await self.http.post(f"/api/v1/router/sessions/{self.sid}/messages",
                                         json=body, headers=self.headers)
                _raise_for(r)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.2 * (attempt + 1))  # the router dedups a resend
        raise RunFailed("transport", "the router does not answer")

    async def receive(self, timeout: float) -> list[bytes]:
        if self.buffer:
            return [self.buffer.pop(0)]
        wait = max(0.0, min(timeout, 10.0))
        try:
            r = await self.http.get(f"/api/v1/router/sessions/{self.sid}/messages",
                                    params={"after": self.cursor, "wait": wait},
                                    headers=self.headers, timeout=wait + 15.0)
            body = _raise_for(r)
        except httpx.TransportError:
            await asyncio.sleep(0.2)
            return []
        for m in body["messages"]:
            self.buffer.append(unb64u(m["data"]))
        self.cursor = int(body["next"])
        return [self.buffer.pop(0)] if self.buffer else []


class DeviceParty:
    """One device party. Keep ``identity`` with the share: sign sessions of the key accept only
    the identity key that joined its keygen."""

    def __init__(self, router_url: str, party_id: str, *, identity: IdentityKey | None = None,
                 coordinator_public_key: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 run_factory: type[ProtocolRun] = ProtocolRun) -> None:
        self.router_url = router_url
        self.party_id = party_id
        self.identity = identity or IdentityKey()
        self.coordinator_public_key = coordinator_public_key
        self._transport = transport
        self._run_factory = run_factory

    async def keygen(self, session_id: str, join_token: str, *,
                     timeout: float = 180.0) -> tss.KeyShare:
        out = await self._session(session_id, join_token, None, timeout)
        assert isinstance(out, tss.KeyShare)
        return out

    async def sign(self, session_id: str, join_token: str, share: tss.KeyShare, *,
                   timeout: float = 120.0) -> tss.Signature:
        out = await self._session(session_id, join_token, share, timeout)
        assert isinstance(out, tss.Signature)
        return out

    async def reshare(self, session_id: str, join_token: str,
                      share: tss.KeyShare | None = None, *,
                      timeout: float = 180.0) -> tss.KeyShare | None:
        """Take part in a reshare: with ``share`` as an old member, as a new member if the
        roster says so (a device in both committees gives its share and gets a new one).
        Returns the new share, or None for an old member that leaves the committee, only
        once the coordinator's signed ``completed`` arrives: then replace (or delete) the old
        share. A ``ClientError`` means the reshare failed: keep the old share."""
        out = await self._session(session_id, join_token, share, timeout)
        assert isinstance(out, ChangeOutcome)
        return out.new_share

    async def refresh(self, session_id: str, join_token: str, share: tss.KeyShare, *,
                      timeout: float = 180.0) -> tss.KeyShare:
        """Take part in a refresh; the new share (epoch + 1) once the session completed."""
        out = await self._session(session_id, join_token, share, timeout)
        assert isinstance(out, ChangeOutcome) and out.new_share is not None
        return out.new_share

    async def _session(self, sid: str, token: str, share: tss.KeyShare | None,
                       timeout: float) -> tss.KeyShare | tss.Signature | ChangeOutcome:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.router_url, timeout=30.0,
                                     transport=self._transport) as http:
            x = X25519PrivateKey.generate()
            xhex = x25519_public_bytes(x).hex()
            ed = self.identity.public_hex
            sig = self.identity.sign(join_binding(sid, self.party_id, ed, xhex))
            joined = _raise_for(await http.post(
                f"/api/v1/router/sessions/{sid}/join",
                json={"join_token": token, "ed25519": ed, "x25519": xhex,
                      "signature": b64u(sig)}))
            if joined["party_id"] != self.party_id:
                raise ClientError("the join token is for another party", code="wrong_party")
            pub = joined["coordinator_public_key"]
            if self.coordinator_public_key and pub != self.coordinator_public_key:
                raise ClientError("the coordinator key is not the pinned one",
                                  code="coordinator_mismatch")
            headers = {"Authorization": f"Bearer {joined['access_token']}"}
            events = _Events(http, sid, headers)
            roster = None
            while roster is None:
                if time.monotonic() > deadline:
                    raise ClientError("no roster before the timeout", code="client_timeout")
                for ev in await events.poll(min(10.0, deadline - time.monotonic())):
                    if ev.get("type") == "roster":
                        try:
                            roster = verify_roster(ev.get("signed"), pub, sid=sid,
                                                   party_id=self.party_id, ed25519=ed,
                                                   x25519=xhex)
                        except RunFailed as exc:
                            raise ClientError(exc.reason, code=exc.code) from None
                        break
                    if ev.get("type") in ("failed", "expired") and verify_final(ev, pub, sid):
                        raise _final_error(ev)
            run = self._run_factory(roster, self.party_id, self.identity, x, share=share)
            transport = _RouterTransport(http, sid, joined["access_token"])
            task = asyncio.create_task(run.run(transport))
            watch = asyncio.create_task(events.final(float(roster["deadline"]) + 5.0, pub))
            await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done() and (watch.result() or {}).get("type") == "completed":
                # another signer finished first; our last messages are already in the mailbox
                await asyncio.wait({task}, timeout=15.0)
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                ev = watch.result() or {"type": "failed", "error": {"code": "timeout"}}
                raise _final_error(ev)
            try:
                result = task.result()
            except RunFailed as exc:
                watch.cancel()
                await self._report(http, headers, sid, "failed", exc.to_dict())
                raise ClientError(exc.reason, code=exc.code, body=exc.to_dict()) from None
            if isinstance(result, (tss.KeyShare, ChangeOutcome)):
                fields = (keygen_report(result) if isinstance(result, tss.KeyShare)
                          else change_report(result))
                await self._report(http, headers, sid, "result", fields)
                ev = await watch
                if ev is None or ev.get("type") != "completed":
                    raise _final_error(ev or {"type": "failed",
                                              "error": {"code": "timeout"}})
                return result
            watch.cancel()
            await self._report(http, headers, sid, "result", {
                "r": f"{result.r:064x}", "s": f"{result.s:064x}", "v": result.recovery_id})
            return result

    async def _report(self, http: httpx.AsyncClient, headers: dict[str, str], sid: str,
                      kind: str, fields: dict[str, Any]) -> None:
        report = {"sid": sid, "party_id": self.party_id, "kind": kind, **fields}
        signed = sign_report(self.identity, report)
        with contextlib.suppress(httpx.HTTPError, ClientError):
            _raise_for(await http.post(f"/api/v1/router/sessions/{sid}/report", json=signed,
                                       headers=headers))


def _final_error(ev: dict[str, Any]) -> ClientError:
    err = ev.get("error") or {}
    return ClientError(f"session {ev.get('type')}: {err.get('reason', '')}".strip(),
                       code=str(err.get("code", ev.get("type"))), body=ev)


class _Events:
    def __init__(self, http: httpx.AsyncClient, sid: str, headers: dict[str, str]) -> None:
        self.http = http
        self.sid = sid
        self.headers = headers
        self.cursor = 0

    async def poll(self, wait: float) -> list[dict[str, Any]]:
        wait = max(0.0, min(wait, 10.0))
        try:
            r = await self.http.get(f"/api/v1/router/sessions/{self.sid}/events",
                                    params={"after": self.cursor, "wait": wait},
                                    headers=self.headers, timeout=wait + 15.0)
            body = _raise_for(r)
        except httpx.TransportError:
            await asyncio.sleep(0.2)
            return []
        self.cursor = int(body["next"])
        return [e["event"] for e in body["events"] if isinstance(e.get("event"), dict)]

    async def final(self, until: float, coordinator_public: str) -> dict[str, Any] | None:
        """The final event signed by the coordinator (others are ignored), or None."""
        while time.time() < until:
            for ev in await self.poll(min(10.0, until - time.time())):
                if ev.get("type") in ("completed", "failed", "expired") and verify_final(
                        ev, coordinator_public, self.sid):
                    return ev
        return None


# ---------------------------------------------------------------------- what a device keeps
@dataclass
class DeviceBundle:
    """A device's share of a key with the identity key that the key's sign sessions require."""

    share: tss.KeyShare
    identity: IdentityKey
    party_id: str

    def to_bytes(self) -> bytes:
        return json.dumps({"v": 1, "party_id": self.party_id,
                           "identity": b64u(self.identity.to_bytes()),
                           "share": b64u(self.share.to_bytes())}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> DeviceBundle:
        try:
            d = json.loads(data)
            return cls(tss.KeyShare.from_bytes(unb64u(d["share"])),
                       IdentityKey.from_bytes(unb64u(d["identity"])), str(d["party_id"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ClientError(f"not a device bundle ({type(exc).__name__})",
                              code="bad_bundle") from None


def bundle_context(user_id: str, key_id: str) -> bytes:
    """The associated data of an exported bundle: it opens only for this user and key."""
    return f"tss-node/bundle/v1|{user_id}|{key_id}".encode()


def open_bundle(encrypted_share: str, *, user_id: str, key_id: str,
                share_key: str | None = None,
                device_private_key: X25519PrivateKey | None = None) -> DeviceBundle:
    """Decrypt the identity service's ``encryptedShare`` with the ``shareKey`` it returned
    once, or with the device's X25519 key if the device sent ``devicePublicKey``."""
    blob = unb64u(encrypted_share)
    ad = bundle_context(user_id, key_id)
    if device_private_key is not None:
        plain = open_with_x25519(device_private_key, blob, ad)
    elif share_key is not None:
        plain = open_with_code(unb64u(share_key), blob, ad)
    else:
        raise ClientError("need share_key or device_private_key", code="no_key")
    return DeviceBundle.from_bytes(plain)
