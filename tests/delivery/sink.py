"""A webhook receiver for tests: a small HTTP/1.1 server on 127.0.0.1.

It verifies every request with the reference `standardwebhooks` library,
de-duplicates by `webhook-id` as a careful receiver does, and misbehaves on
request: `behave(path, webhook_id, nth)` returns what to do with the nth
request (1-based) carrying that id on that path: `ok` (204), `error` (500),
`hang` (answer nothing for `hang_for` seconds, then close), `stall` (answer
nothing until the test calls `release()`, then close) or `close` (drop the
connection without a word).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Behave = Callable[[str, str, int], str]


def always_ok(_path: str, _webhook_id: str, _nth: int) -> str:
    """Take every request."""
    return "ok"


@dataclass
class Received:
    """What the sink saw, by path."""

    requests: Counter[str] = field(default_factory=Counter)
    tries: Counter[tuple[str, str]] = field(default_factory=Counter)
    # path -> webhook-id -> event id; a second id for one event is a defect.
    ids_by_event: dict[str, dict[str, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    taken: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    taken_events: dict[str, list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # path -> the `data` of each event taken, in the order taken
    taken_data: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    unverified: int = 0


class Sink:
    """Runs the receiver in a thread; `url(path)` is where to send."""

    def __init__(
        self, secret: str, behave: Behave = always_ok, *, hang_for: float = 2.0
    ) -> None:
        self.verifier = Webhook(secret)
        self.behave = behave
        self.hang_for = hang_for
        self.seen = Received()
        self.lock = threading.Lock()
        self.port = 0
        self._released = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sink:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _shut_down(self) -> None:
        self._server.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def release(self) -> None:
        """Let every stalled request go (their connections are closed)."""
        self._released.set()

    def url(self, path: str) -> str:
        """The sink's URL for `path`."""
        return f"http://127.0.0.1:{self.port}{path}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                path, headers, body = request
                if not await self._answer(writer, path, headers, body):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _answer(
        self,
        writer: asyncio.StreamWriter,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        webhook_id = headers.get("webhook-id", "")
        with self.lock:
            self.seen.requests[path] += 1
            self.seen.tries[(path, webhook_id)] += 1
            nth = self.seen.tries[(path, webhook_id)]
        action = self.behave(path, webhook_id, nth)
        if action == "close":
            return False
        if action == "hang":
            await asyncio.sleep(self.hang_for)
            return False
        if action == "stall":
            while not self._released.is_set():
                await asyncio.sleep(0.01)
            return False
        if action == "error":
            await _respond(writer, 500, b"upstream broke")
            return True
        self._take(path, headers, body)
        await _respond(writer, 204, b"")
        return True

    def _take(self, path: str, headers: dict[str, str], body: bytes) -> None:
        try:
            event = self.verifier.verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.seen.unverified += 1
            return
        webhook_id = headers["webhook-id"]
        with self.lock:
            self.seen.ids_by_event[path][event["id"]].add(webhook_id)
            if webhook_id not in self.seen.taken[path]:
                self.seen.taken[path].add(webhook_id)
                self.seen.taken_events[path].append(event["id"])
                self.seen.taken_data[path].append(event.get("data"))


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    path = line.decode().split(" ")[1]
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return path, headers, body


async def _respond(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    head = f"HTTP/1.1 {status} X\r\ncontent-length: {len(body)}\r\n\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
