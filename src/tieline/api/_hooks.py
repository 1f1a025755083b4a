"""The edge of `/hooks`: inbound webhooks answered before the route stack.

Inbound webhooks are the API's one path that senders hit thousands of times a
second. Profiled at 16 concurrent senders, the API process spent about half
its time in FastAPI and the middleware chain in front of the receiver (one
coroutine and one `send` wrapper per layer, and the body parsed as JSON once
more for the NUL check), against a sixth in the receiver itself. `HookEdge`
does the duties of that chain for `/hooks` only, in one layer: the security
headers and the correlation id on the answer, the correlation id bound for
the request, and the last-resort 500. The body limit and the JSON check are
the receiver's own (`InboundReceiver`); its bodies are stored as bytes, so a
NUL in them harms nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tieline._context import unit_of_work
from tieline.api._correlation import HEADER, accepted_id
from tieline.api._middleware import SECURITY_HEADERS, answer_or_500

PREFIX = "/hooks"


class HookEdge:
    """Runs the receiver mounted at `/hooks` with the edge's duties done inline."""

    def __init__(self, receiver: ASGIApp) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # As a mount would: the receiver reads its path below the root path.
        scope = dict(scope, root_path=scope.get("root_path", "") + PREFIX)
        given = next((v for k, v in scope["headers"] if k == HEADER), None)
        with unit_of_work(accepted_id(given)) as correlation_id:
            extra = [*SECURITY_HEADERS, (HEADER, correlation_id.encode())]

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), *extra]
                await send(message)

            await answer_or_500(self.receiver, scope, receive, send_with_headers)


class TielineApp(FastAPI):
    """FastAPI, with `/hooks` answered by a `HookEdge` before its own stack."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hooks: HookEdge | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hooks is not None and scope["type"] == "http" and _is_hook(scope):
            await self.hooks(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _is_hook(scope: Scope) -> bool:
    path: str = scope["path"]
    return path == PREFIX or path.startswith(PREFIX + "/")
