"""A loopback webhook sink for the benchmark, run as its own process.

    python benchmarks/_sink.py PORT EXPECTED

Answers 204 to every POST, counts distinct `webhook-id`s, and measures each
message's lag: arrival time minus the CloudEvent's `time`. When EXPECTED
distinct messages arrived (or after 120 s), prints one JSON line with the
count, the first and last arrival, the lag percentiles and the CPU seconds
it used, then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from datetime import datetime


class _State:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen: set[str] = set()
        self.lags: list[float] = []
        self.first = 0.0
        self.last = 0.0
        self.done = asyncio.Event()


async def _serve(
    state: _State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while await reader.readline():
            length = 0
            webhook_id = ""
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode().partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "webhook-id":
                    webhook_id = value.strip()
            body = await reader.readexactly(length)
            writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            _note(state, webhook_id, body)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def _note(state: _State, webhook_id: str, body: bytes) -> None:
    if webhook_id in state.seen:
        return
    now = time.time()
    state.seen.add(webhook_id)
    sent = json.loads(body)["time"].replace("Z", "+00:00")
    state.lags.append(now - datetime.fromisoformat(sent).timestamp())
    state.first = state.first or now
    state.last = now
    if len(state.seen) >= state.expected:
        state.done.set()


async def main(port: int, expected: int) -> None:
    """Serve until `expected` messages arrived or two minutes passed."""
    state = _State(expected)
    server = await asyncio.start_server(
        lambda r, w: _serve(state, r, w), "127.0.0.1", port
    )
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.done.wait(), 120)
    server.close()
    lags = sorted(state.lags) or [0.0]
    print(
        json.dumps(
            {
                "count": len(state.seen),
                "first": state.first,
                "last": state.last,
                "lag_p50": lags[len(lags) // 2],
                "lag_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
                "cpu": time.process_time(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
