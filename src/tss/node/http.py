"""What every HTTP role shares: JSON error bodies (never a traceback), the API-key check in
constant time, a request-size limit, the health routes and a uvicorn server that leaves signal
handling to its caller."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "install_errors", "ApiKeyGuard", "api_key_header", "iso", "now_iso",
           "BodyLimit", "Server", "check_api_key"]

log = logging.getLogger("tss.node.http")

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="The deployment's API key (compared in constant "
                                          "time).")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds"
                                                              ).replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(timezone.utc).timestamp()) or ""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


def _body(style: str, status: int, code: str, message: str,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:
    if style == "envelope":
        out: dict[str, Any] = {"success": False, "message": message, "code": code,
                               "timestamp": now_iso()}
        if extra:
            out.update(extra)
        return out
    err: dict[str, Any] = {"code": code, "message": message}
    if extra:
        err.update(extra)
    return {"error": err}


def error_response(style: str, status: int, code: str, message: str,
                   extra: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(_body(style, status, code, message, extra), status_code=status,
                        headers=headers)


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        loc = [str(x) for x in e.get("loc", ())]
        out.append({"loc": loc, "msg": str(e.get("msg", ""))[:300],
                    "type": str(e.get("type", ""))})
    return out[:20]


def install_errors(app: FastAPI, style: str = "error") -> None:
    """JSON error bodies for every failure; 400 for malformed JSON, 422 for schema errors."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(style, exc.status, exc.code, exc.message, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(style, 400, "invalid_json", "the body is not valid JSON")
        details = _clean_errors(errors)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(x for x in first["loc"] if x != "body")
        msg = f"{where}: {first['msg']}" if where else first["msg"]
        return error_response(style, 422, "invalid_request", msg, {"details": details})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                 413: "too_large", 415: "unsupported_media_type"}
        code = codes.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code
        return error_response(style, exc.status_code, code, detail,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        return error_response(style, 500, "internal_error", "internal error")


def check_api_key(provided: str | None, expected_digest: bytes) -> bool:
    if not provided:
        return False
    got = hashlib.sha256(provided.encode("utf-8", "surrogateescape")).digest()
    return hmac.compare_digest(got, expected_digest)


class ApiKeyGuard:
    """ASGI middleware: requests under ``prefixes`` need the ``X-API-Key`` header. Checked
    before the body is read, so a bad key is always 401, whatever the body."""

    def __init__(self, app: ASGIApp, *, api_key: str, prefixes: tuple[str, ...],
                 style: str = "error") -> None:
        self.app = app
        self.digest = hashlib.sha256(api_key.encode()).digest()
        self.prefixes = prefixes
        self.style = style

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            provided = None
            for k, v in scope.get("headers", []):
                if k == b"x-api-key":
                    provided = v.decode("latin-1")
                    break
            if not check_api_key(provided, self.digest):
                resp = error_response(self.style, 401, "unauthorized",
                                      "missing or wrong X-API-Key")
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: refuse bodies above ``limit`` bytes with 413 (JSON body)."""

    def __init__(self, app: ASGIApp, *, limit: int = 1 << 20, style: str = "error") -> None:
        self.app = app
        self.limit = limit
        self.style = style

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    size = int(v)
                except ValueError:
                    size = self.limit + 1
                if size > self.limit:
                    resp = error_response(self.style, 413, "too_large", "request body too large")
                    await resp(scope, receive, send)
                    return
        if not any(k == b"content-length" for k, _ in scope.get("headers", [])):
            # chunked body: read it whole (up to the limit), then replay it to the app
            chunks: list[bytes] = []
            size = 0
            while True:
                msg = await receive()
                if msg["type"] != "http.request":
                    break
                chunks.append(msg.get("body", b""))
                size += len(chunks[-1])
                if size > self.limit:
                    resp = error_response(self.style, 413, "too_large",
                                          "request body too large")
                    await resp(scope, receive, send)
                    return
                if not msg.get("more_body", False):
                    break
            replayed = False

            async def replay() -> dict[str, Any]:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": b"".join(chunks),
                            "more_body": False}
                return await receive()
            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)


def json_loads_strict(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None


class Server:
    """A uvicorn server whose shutdown the caller drives (``should_exit``): several of them
    share one event loop in ``tss serve``."""

    def __init__(self, app: Any, host: str, port: int, *, log_level: str = "warning") -> None:
        import uvicorn

        class _Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                     lifespan="off", access_log=log_level in ("debug",
                                                                              "info"),
                                     timeout_graceful_shutdown=3)
        self.server = _Quiet(self.config)

    async def serve(self) -> None:
        await self.server.serve()

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
