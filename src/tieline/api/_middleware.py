"""ASGI middleware at the API's edge: body limits, security headers, last resort.

Pure ASGI, like the correlation middleware, so that nothing is buffered
twice and the order is plain: security headers outermost, then correlation
ids, then the last-resort handler, then the body limit, then the app.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tieline._context import current_correlation_id
from tieline.api._problems import MEDIA_TYPE, RAW_BODY
from tieline.governance.secrets import scrub
from tieline.logging import get_logger

log = get_logger(__name__)

# The deepest JSON a request may nest (objects and arrays both count).
MAX_DEPTH = 64

# OWASP's secure-headers project lists these for a JSON API; the API serves
# no HTML, so the content security policy allows nothing at all.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(pair for pair in SECURITY_HEADERS if pair[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


INTERNAL_ERROR = "the hub failed to answer; quote the correlation id to an operator"


async def send_problem(send: Send, status: int, title: str, detail: str) -> None:
    """Answer with a bare problem document (outside FastAPI's handlers)."""
    body = json.dumps(
        {
            "type": f"urn:tieline:problem:{title.lower().replace(' ', '-')}",
            "title": title,
            "status": status,
            "detail": detail,
            "correlation_id": current_correlation_id(),
            "errors": [],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413, before the app reads them.

    It also refuses NUL characters in the path, query or JSON body, and JSON
    nested deeper than MAX_DEPTH levels (400): no record nests past a few
    levels, and a body of 100,000 `[` would exhaust the parsers' stack.

    The body is read here once, whole (it is small by definition), kept in
    the scope for the problem handlers, and replayed to the app.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > self.max_bytes
        ):
            await send_problem(send, 413, "Request too large", self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_problem(send, 413, "Request too large", self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            scope[RAW_BODY] = _json_or_none(body)
        except TooDeep:
            detail = f"JSON nested deeper than {MAX_DEPTH} levels is refused"
            await send_problem(send, 400, "Bad request", detail)
            return
        if _has_nul(scope, scope[RAW_BODY]):
            # PostgreSQL cannot store NUL in text; no real value carries one.
            await send_problem(send, 400, "Bad request", "NUL characters are refused")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the request body may be at most {self.max_bytes} bytes"


class TooDeep(Exception):
    """A JSON body nested deeper than MAX_DEPTH."""


def _has_nul(scope: Scope, body: object) -> bool:
    query: bytes = scope.get("query_string", b"")
    if "\x00" in scope.get("path", "") or b"%00" in query.lower() or b"\x00" in query:
        return True
    return _walk(body)[1]


def _walk(value: object) -> tuple[int, bool]:
    """How deep a parsed JSON value nests, and whether a string in it holds NUL.

    Iterative, so a deep body cannot exhaust the interpreter's stack; it
    stops going deeper past MAX_DEPTH.
    """
    deepest, nul = 0, False
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            nul = nul or "\x00" in item
            continue
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            continue
        if isinstance(item, dict):
            nul = nul or any("\x00" in key for key in item)
            children: Iterable[object] = item.values()
        else:
            children = item
        stack.extend((child, depth + 1) for child in children)
    return deepest, nul


def _json_or_none(body: bytes) -> object:
    """The body as JSON, None if it is not JSON; TooDeep past MAX_DEPTH."""
    try:
        value = json.loads(body) if body else None
    except RecursionError as err:
        raise TooDeep from err
    except ValueError:
        return None
    if _walk(value)[0] > MAX_DEPTH:
        raise TooDeep
    return value


async def answer_or_500(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run `app`; an exception raised before its answer began becomes a 500
    problem, logged with its trace (after the answer began, it propagates)."""
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except Exception:
        # The trace is rendered here and scrubbed, because an exception's
        # text can quote a secret (a URL with its password, say).
        log.error(
            "api.unhandled_error",
            path=scope.get("path"),
            trace=scrub(traceback.format_exc()),
        )
        if started:
            raise
        await send_problem(send, 500, "Internal error", INTERNAL_ERROR)


class LastResort:
    """Turns any unhandled exception into a bare 500 problem, logged with its trace.

    Without it Starlette's outermost error middleware would answer, outside
    the correlation id and the security headers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await answer_or_500(self.app, scope, receive, send)
