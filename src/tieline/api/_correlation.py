"""Correlation ids for HTTP requests.

A request's `X-Correlation-ID` header (or a new id) becomes the unit of work's
correlation id, so every log line and event the request causes carries it;
the response echoes it back. Pure ASGI, so streaming bodies pass untouched.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tieline._context import unit_of_work

HEADER = b"x-correlation-id"
# Ids from outside are accepted only in a tame shape, so a header cannot
# smuggle control characters or megabytes into every log line.
_ACCEPTABLE = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


def accepted_id(given: bytes | None) -> str | None:
    """The caller's correlation id if it has a tame shape, else None (make one)."""
    return given.decode() if given and _ACCEPTABLE.match(given) else None


class CorrelationMiddleware:
    """Binds a correlation id for each HTTP request and returns it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER)
        with unit_of_work(accepted_id(given)) as correlation_id:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers.append((HEADER, correlation_id.encode()))
                    message["headers"] = headers
                await send(message)

            await self.app(scope, receive, send_with_id)
