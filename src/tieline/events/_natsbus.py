"""NATS JetStream as the bus: one stream per domain, durable pull consumers.

Streams and subjects: every event type `tieline.<kind>.<action>` is published
on the subject of the same name (prefixed `<namespace>.` when a namespace is
set) into the stream of its kind, `TIELINE_<KIND>` (prefixed `<NAMESPACE>_`).
All events of one record share a kind, so they share a stream and keep their
order. Each message carries `Nats-Msg-Id: <event id>`, so JetStream drops a
re-publish of the same event inside the stream's duplicate window; the
relay re-publishes only after a failure, well inside it.

Consumers: one durable pull consumer per (consumer name, stream), named
`<consumer>_<kind>`, explicit acks, `ack_wait` seconds before an unacknowledged
message is served again. Retries and dead letters are tieline's own (see
`tieline.events.consumers`), so JetStream's `max_deliver` stays unlimited.

nats-py is asyncio; tieline's workers are threads. The bus runs one private
event loop (uvloop) in a daemon thread and waits on it from the callers'
threads. The
client reconnects forever; while it is away, publish and fetch raise
`RetryableError` and callers try again later.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import nats
import uvloop
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from tieline import catalog
from tieline.errors import ConfigurationError, RetryableError
from tieline.events.bus import Batch, Delivery, Feed, Subscription
from tieline.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")

# Kinds that have a stream: every catalog kind, plus those of other events.
KINDS: tuple[str, ...] = tuple(
    sorted({*catalog.STATUS_EVENTS, *(t.split(".")[1] for t in catalog.OTHER_EVENTS)})
)


class NatsBus:
    """The scale-out bus over a NATS JetStream server or cluster."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        ack_wait: float = 30.0,
        duplicate_window: float = 120.0,
        timeout: float = 5.0,
    ) -> None:
        self.namespace = namespace
        self.ack_wait = ack_wait
        self.duplicate_window = duplicate_window
        self.timeout = timeout
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="nats-bus", daemon=True
        )
        self._thread.start()
        try:
            self._nc: Client = self._call(self._connect(url))
            self._js: JetStreamContext = self._nc.jetstream(timeout=timeout)
            self._call(self._ensure_streams())
        except BaseException:
            self._stop_loop()
            raise

    # -- naming ---------------------------------------------------------------

    def subject(self, event_type: str) -> str:
        """The NATS subject an event of `event_type` is published on."""
        return f"{self.namespace}.{event_type}" if self.namespace else event_type

    def stream(self, kind: str) -> str:
        """The stream that holds the events of `kind`."""
        name = f"TIELINE_{kind.upper()}"
        return f"{self.namespace.upper()}_{name}" if self.namespace else name

    # -- Bus ------------------------------------------------------------------

    def publish(self, events: Sequence[dict[str, Any]]) -> None:
        """Publish and wait for JetStream's acknowledgement of every event."""
        for event in events:
            if _kind(event["type"]) not in KINDS:
                raise ConfigurationError(f"no stream for event type {event['type']}")
        try:
            self._call(self._publish_all(events), self.timeout * 2)
        except (NatsError, TimeoutError, OSError) as err:
            raise RetryableError(f"NATS did not confirm publication: {err!r}") from err

    def feeds(self, subscription: Subscription) -> list[Feed]:
        """One feed per stream the subscription touches."""
        feeds: list[Feed] = []
        for kind in KINDS:
            touching = [p for p in subscription.patterns if _touches(p, kind)]
            if touching:
                feeds.append(self._call(self._feed(subscription, kind, touching)))
        return feeds

    def close(self) -> None:
        """Close the connection and stop the private loop."""
        try:
            self._call(self._nc.close(), self.timeout)
        finally:
            self._stop_loop()

    def remove_streams(self) -> None:
        """Delete this namespace's streams and their consumers (test teardown)."""
        for kind in KINDS:
            try:
                self._call(self._js.delete_stream(self.stream(kind)))
            except NotFoundError:
                continue

    # -- inside the loop --------------------------------------------------------

    async def _connect(self, url: str) -> Client:
        async def on_error(err: Exception) -> None:
            log.warning("nats.error", error=repr(err))

        async def on_disconnect() -> None:
            log.warning("nats.disconnected")

        async def on_reconnect() -> None:
            log.info("nats.reconnected")

        return await nats.connect(
            url,
            connect_timeout=self.timeout,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
        )

    async def _ensure_streams(self) -> None:
        for kind in KINDS:
            config = StreamConfig(
                name=self.stream(kind),
                subjects=[self.subject(f"tieline.{kind}.>")],
                storage=StorageType.FILE,
                duplicate_window=self.duplicate_window,
            )
            try:
                await self._js.stream_info(self.stream(kind))
                await self._js.update_stream(config)
            except NotFoundError:
                await self._js.add_stream(config)

    async def _publish_all(self, events: Sequence[dict[str, Any]]) -> None:
        # publish_async sends each message at once and collects its
        # acknowledgement on one shared reply subscription; `publish` made a
        # request (an inbox and a timer) per message, about a third of the
        # bus loop's time in the pipeline benchmark's profile. Every
        # acknowledgement is still awaited before this returns.
        acks: list[asyncio.Future[Any]] = []
        try:
            for event in events:
                acks.append(
                    await self._js.publish_async(
                        self.subject(event["type"]),
                        json.dumps(event, separators=(",", ":")).encode(),
                        stream=self.stream(_kind(event["type"])),
                        headers={"Nats-Msg-Id": event["id"]},
                    )
                )
            await asyncio.wait_for(asyncio.gather(*acks), self.timeout)
        finally:
            # An acknowledgement that never comes (the server went away) must
            # not hold one of the client's 4,000 pending slots for ever: with
            # every slot freed here, a relay batch (500 at most) never waits
            # for one. (A `wait_stall` timeout would arm a timer per message,
            # measured at a third of a millisecond of CPU an event.)
            for ack in acks:
                ack.cancel()

    async def _feed(
        self, subscription: Subscription, kind: str, touching: list[str]
    ) -> _NatsFeed:
        durable = f"{subscription.consumer}_{kind}"
        # NATS 2.9 takes one filter per consumer: the pattern when one pattern
        # covers the stream, else the whole stream, narrowed by the worker.
        subject = (
            self.subject(touching[0])
            if len(touching) == 1 and _kind(touching[0]) == kind
            else self.subject(f"tieline.{kind}.>")
        )
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=-1,
            filter_subject=subject,
        )
        psub = await self._js.pull_subscribe(
            subject, durable=durable, stream=self.stream(kind), config=config
        )
        return _NatsFeed(self, psub, f"{subscription.consumer}@{self.stream(kind)}")

    # -- plumbing ---------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout if timeout is not None else self.timeout * 4)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


class _NatsFeed:
    def __init__(
        self, bus: NatsBus, psub: JetStreamContext.PullSubscription, name: str
    ) -> None:
        self.bus = bus
        self.psub = psub
        self.name = name

    def fetch(self, max_events: int, timeout: float) -> Batch | None:
        try:
            msgs = self.bus._call(self.psub.fetch(max_events, timeout), timeout + 5)
        except (NatsTimeout, TimeoutError):
            return None
        except (NatsError, OSError) as err:
            raise RetryableError(f"NATS fetch failed: {err!r}") from err
        return _NatsBatch(self.bus, msgs)


class _NatsBatch:
    def __init__(self, bus: NatsBus, msgs: list[Msg]) -> None:
        self.bus = bus
        self.msgs = msgs
        self.deliveries = [
            Delivery(json.loads(msg.data), msg.metadata.num_delivered) for msg in msgs
        ]

    def keep_alive(self) -> None:
        self._each("in_progress")

    def ack(self) -> None:
        self._each("ack")

    def _each(self, method: str) -> None:
        async def run() -> None:
            await asyncio.gather(*(getattr(msg, method)() for msg in self.msgs))

        try:
            self.bus._call(run())
        except (NatsError, TimeoutError, OSError) as err:
            raise RetryableError(f"NATS {method} failed: {err!r}") from err


def _kind(event_type: str) -> str:
    parts = event_type.split(".")
    return parts[1] if len(parts) > 2 else ""


def _touches(pattern: str, kind: str) -> bool:
    """Whether a subscription pattern can match events of `kind`."""
    tokens = pattern.split(".")
    if tokens[0] == ">":
        return True
    if tokens[0] not in ("tieline", "*") or len(tokens) < 2:
        return False
    return tokens[1] in (kind, "*", ">")
