"""Webhook throughput: durable accepts per second, and outbox-to-HTTP events.

    python benchmarks/webhooks.py [--seconds 5] [--rate 3000]
        [--backend sqlite|postgres|both] [--only accepts|pipeline]
        [--dispatcher process|thread] [--producer process|thread]
        [--profile FILE]

Loopback only; every phase is bounded in time. Two measurements, on SQLite
(SQL event log as the bus) and on PostgreSQL with NATS JetStream:

1. **Accepts**: `tieline serve --role api` in its own process; 1 and then 16
   concurrent senders post Standard-Webhooks-signed JSON to `/hooks/bench`
   for `--seconds` each. An answer means verified, validated and committed to
   the inbound inbox. Prints accepts/s and latency p50/p99.
2. **Pipeline**: events written to the outbox at `--rate` per second for
   `--seconds`, carried by the bus (the SQL log, or the relay to NATS) to the
   webhook consumer, queued, signed and POSTed by the dispatcher to a sink
   process. Prints events/s from the first write to the last arrival, the
   lag (arrival minus the event's time) p50/p99, and where the lag is: event
   to queued (bus and consumer) and queued to delivered (dispatcher). The
   consumer (and, with NATS, the relay) runs in this process; the dispatcher
   runs as `tieline serve --role dispatcher`, as `tieline serve` runs it (a
   process of its own), and the events are written by a producer process, as
   the API or an import would write them. `--dispatcher thread` and
   `--producer thread` put them in this process instead, as this benchmark
   did before the dispatcher had a process of its own.

PostgreSQL: `TIELINE_BENCH_POSTGRES_URL` (default the local server, a
scratch database is created and dropped). NATS: `TIELINE_BENCH_NATS_URL`
(default nats://127.0.0.1:4222; streams in a private namespace, removed).
Each figure comes with the CPU it cost per operation, by process (the API
process per accept; the consumer, dispatcher, producer and sink processes
per event), which a busy neighbour on a shared box moves less than the rates.

`--profile FILE` writes a cProfile of this process's main thread (the
producer, with `--producer thread`); for every thread of every process,
attach `py-spy record --gil` (CPU) or `--idle --threads` (waits), as
benchmarks/RESULTS.md describes.

TODO: the targets (5k accepts/s with p99 under 15 ms at 16 senders; 3k
events/s end to end with lag p99 under 0.5 s) are not met on this shared
2-core box; benchmarks/RESULTS.md has the runs, the profiles and why.
Medians at a load average of 1 to 2: SQLite about 2.6k accepts/s at 16
senders (p99 15 ms, 0.36 ms of API CPU each) and 2.2k events/s end to end
at 3k/s offered (lag p99 1.6 s; 2.65-2.8k/s with lag p99 0.5-0.8 s when the
box was otherwise idle), about 0.55 ms of CPU an event over four processes;
PostgreSQL with NATS about 1.9k accepts/s and 1.2k events/s (lag p99 7 s,
0.8 ms an event, plus the servers'). What bounds them: one core's worth of
Python per API process (uvicorn, the receiver, the group commit), and for the
pipeline the two cores themselves (the dispatcher's aiohttp sends and the
consumer), SQLite's one writer (about 0.25 ms of writer lock an event) and,
on PostgreSQL, the NATS client's publishing in the relay.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import create_engine, select, text
from standardwebhooks.webhooks import Webhook

from tieline.delivery import (
    BreakerPolicy,
    Scheme,
    WebhookDispatcher,
    add_source,
    create_endpoint,
    webhook_consumer,
)
from tieline.events import Bus, ConsumerWorker, OutboxRelay, SqlLogBus
from tieline.logging import configure_logging
from tieline.settings import Settings, normalise_database_url
from tieline.store import Store, as_utc
from tieline.store._delivery_schema import webhook_messages

HERE = Path(__file__).parent
_M = webhook_messages.c
MAX_SECONDS = 30.0  # bounded: a benchmark must finish
POSTGRES = os.environ.get(
    "TIELINE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NATS = os.environ.get("TIELINE_BENCH_NATS_URL", "nats://127.0.0.1:4222")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of a process so far; this one's when no pid.

    A figure per operation that a busy neighbour on the machine cannot move
    much, unlike rates: the benchmark box is shared.
    """
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# -- stores -------------------------------------------------------------------


@contextmanager
def _database(backend: str, folder: Path, name: str) -> Iterator[str]:
    """A fresh database URL on `backend`, removed afterwards."""
    if backend == "sqlite":
        # One file per measurement: the accepts' events must not flow into
        # the pipeline's outbox.
        yield f"sqlite:///{folder / name}.db"
        return
    admin_url = normalise_database_url(POSTGRES)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"tieline_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- 1. accepts -----------------------------------------------------------------


def bench_accepts(url: str, folder: Path, seconds: float) -> None:
    """Serve the API in a child process and post signed webhooks at it."""
    store = Store(url)
    store.migrate()
    source = add_source(store, "bench", Scheme.STANDARD)
    store.close()
    port = _free_port()
    env = dict(
        os.environ,
        TIELINE_DATA_DIR=str(folder / "var"),
        TIELINE_DATABASE_URL=url,
        TIELINE_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tieline",
            "serve",
            "--role",
            "api",
            "--port",
            str(port),
        ],
        env=env,
    )
    try:
        _wait_up(port)
        for senders in (1, 16):
            cpu = _cpu_seconds(server.pid)
            done, latencies, elapsed = asyncio.run(
                _post_for(port, source.secret, senders, seconds)
            )
            cpu_ms = (_cpu_seconds(server.pid) - cpu) * 1000 / max(done, 1)
            p50, p99 = _pct(latencies, 0.5) * 1000, _pct(latencies, 0.99) * 1000
            print(
                f"  accepts, {senders:2d} sender(s): {done / elapsed:7.0f}/s  "
                f"p50 {p50:5.1f} ms  p99 {p99:5.1f} ms  ({done} in {elapsed:.1f}s; "
                f"server CPU {cpu_ms:.3f} ms each)"
            )
    finally:
        server.terminate()
        server.wait(30)


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the API did not start within 30 s")


async def _post_for(
    port: int, secret: str, senders: int, seconds: float
) -> tuple[int, list[float], float]:
    """Each sender: one keep-alive connection, one request after another.

    A bare HTTP/1.1 client on asyncio streams, signing with `hmac` directly
    (checked against the reference library once): aiohttp and the reference
    signer cost the sender about 0.27 ms of CPU a request, taken from the
    server on a two-core box.
    """
    sign = _signer(secret)
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    async def sender(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = 0
        try:
            while time.monotonic() < stop_at:
                i += 1
                request = _request(port, sign, f"msg_{n}_{i}_{uuid.uuid4().hex[:8]}", i)
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status, length = _status_and_length(head)
                await reader.readexactly(length)
                if status != 202:
                    raise SystemExit(f"unexpected answer {status}")
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(sender(n) for n in range(senders)))
    return len(latencies), latencies, time.monotonic() - started


def _signer(secret: str) -> Callable[[str, int, bytes], str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))

    def sign(msg_id: str, stamp: int, body: bytes) -> str:
        content = f"{msg_id}.{stamp}.".encode() + body
        digest = hmac.new(key, content, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()

    now = datetime.now(UTC).replace(microsecond=0)
    reference = Webhook(secret).sign("msg_check", now, "{}")
    if sign("msg_check", int(now.timestamp()), b"{}") != reference:
        raise SystemExit("the benchmark's signer disagrees with the reference")
    return sign


def _request(
    port: int, sign: Callable[[str, int, bytes], str], msg_id: str, n: int
) -> bytes:
    body = b'{"n": %d, "kind": "progress", "sender": "bench"}' % n
    stamp = int(time.time())
    return (
        f"POST /hooks/bench HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        f"webhook-id: {msg_id}\r\nwebhook-timestamp: {stamp}\r\n"
        f"webhook-signature: {sign(msg_id, stamp, body)}\r\n\r\n"
    ).encode() + body


def _status_and_length(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return int(lines[0].split(" ", 2)[1]), length


# -- 2. pipeline ----------------------------------------------------------------


def bench_pipeline(
    url: str,
    bus_url: str | None,
    rate: float,
    seconds: float,
    profile: str | None,
    *,
    folder: Path,
    layout: Layout,
) -> None:
    """Outbox -> bus -> webhook consumer -> dispatcher -> HTTP sink."""
    total = int(rate * seconds)
    store = Store(url)
    store.migrate()
    port = _free_port()
    sink = subprocess.Popen(
        [sys.executable, str(HERE / "_sink.py"), str(port), str(total)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    sink.stdout.readline()  # "ready"
    create_endpoint(store, f"http://127.0.0.1:{port}/in")
    bus = _bus(store, bus_url)
    stop = threading.Event()
    profiler = cProfile.Profile() if profile else None
    child = _dispatcher_process(url, folder) if layout.dispatcher == "process" else None
    cpu = _Cpu(child)
    try:
        threads = _start_pipeline(store, bus, stop, in_process=child is None)
        if profiler:
            profiler.enable()
        produced = _write_events(store, url, rate, total, layout.producer)
        figures = json.loads(sink.communicate(timeout=150)[0].strip().splitlines()[-1])
        stages = _stages(store)
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)  # type: ignore[arg-type]
        stop.set()
        cpu.stop()
        if child is not None:
            child.terminate()
            child.wait(30)
        for thread in threads:
            thread.join(15)
        _close(bus)
        store.close()
    _report(figures, produced, stages, cpu, rate, total)


class Layout(NamedTuple):
    """Where the dispatcher and the producer run: a process, or a thread here."""

    dispatcher: str
    producer: str


class _Produced(NamedTuple):
    started: float
    finished: float
    cpu: float | None  # of the producer's process, when it has its own


class _Cpu:
    """CPU seconds of this process and of the dispatcher child, from now on."""

    def __init__(self, child: subprocess.Popen[bytes] | None) -> None:
        self.child = child
        self.own = _cpu_seconds()
        self.childs = _cpu_seconds(child.pid) if child else 0.0

    def stop(self) -> None:
        self.own = _cpu_seconds() - self.own
        if self.child is not None:
            self.childs = _cpu_seconds(self.child.pid) - self.childs


def _report(
    figures: dict[str, float],
    produced: _Produced,
    stages: tuple[float, float, float, float],
    cpu: _Cpu,
    rate: float,
    total: int,
) -> None:
    elapsed = figures["last"] - produced.started
    count = max(figures["count"], 1)
    inside = [" and dispatcher" if cpu.child is None else ""]
    inside += [" and producer" if produced.cpu is None else ""]
    each = {
        f"consumer{''.join(inside)} process": cpu.own,
        **({"dispatcher process": cpu.childs} if cpu.child else {}),
    }
    where = ", ".join(f"{name} {s * 1000 / count:.3f}" for name, s in each.items())
    if produced.cpu is not None:
        where += f"; producer process {produced.cpu * 1000 / count:.3f}"
    writing = produced.finished - produced.started
    print(
        f"  pipeline: {figures['count']:.0f} of {total} events, "
        f"{figures['count'] / elapsed:6.0f} events/s end to end, "
        f"lag p50 {figures['lag_p50'] * 1000:6.1f} ms  "
        f"p99 {figures['lag_p99'] * 1000:6.1f} ms  (offered {rate:.0f}/s)\n"
        f"    CPU ms an event: {sum(each.values()) * 1000 / count:.3f}: {where}; "
        f"sink {figures['cpu'] * 1000 / count:.3f}\n"
        f"    where the lag is: written in {writing:.1f}s ({total / writing:.0f}/s); "
        f"event to queued p50 {stages[0]:.0f} ms p99 {stages[1]:.0f} ms, "
        f"queued to delivered p50 {stages[2]:.0f} ms p99 {stages[3]:.0f} ms"
    )


def _write_events(
    store: Store, url: str, rate: float, total: int, where: str
) -> _Produced:
    """Write the events here, or in a producer process of their own."""
    if where == "thread":
        started = time.time()
        _produce(store, rate, total)
        return _Produced(started, time.time(), None)
    command = [sys.executable, __file__, "--produce-into", url]
    command += ["--rate", str(rate), "--total", str(total)]
    found = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    return _Produced(found["started"], found["finished"], found["cpu"])


def _produce_into(url: str, rate: float, total: int) -> None:
    """The producer process: write, then print when it started and ended."""
    store = Store(url)
    cpu, started = time.process_time(), time.time()
    _produce(store, rate, total)
    finished, cpu = time.time(), time.process_time() - cpu
    store.close()
    print(json.dumps({"started": started, "finished": finished, "cpu": cpu}))


def _stages(store: Store) -> tuple[float, float, float, float]:
    """Lag by stage, from the message rows: bus and consumer, then dispatcher."""
    with store.transaction() as tx:
        rows = tx.connection.execute(
            select(_M.event_time, _M.created_at, _M.delivered_at)
        ).all()
    queued = [
        (as_utc(r.created_at) - as_utc(r.event_time)).total_seconds() for r in rows
    ]
    sent = [
        (as_utc(r.delivered_at) - as_utc(r.created_at)).total_seconds()
        for r in rows
        if r.delivered_at is not None
    ]
    return (
        _pct(queued, 0.5) * 1000,
        _pct(queued, 0.99) * 1000,
        _pct(sent, 0.5) * 1000,
        _pct(sent, 0.99) * 1000,
    )


def _dispatcher_process(url: str, folder: Path) -> subprocess.Popen[bytes]:
    """`tieline serve --role dispatcher` on the pipeline's database, started.

    Its log goes to a file; its start (imports and all) is over when it logs
    `serve.started`, so that its CPU per event counts dispatching only.
    """
    env = dict(
        os.environ,
        TIELINE_DATA_DIR=str(folder / "var"),
        TIELINE_DATABASE_URL=url,
        TIELINE_LOG_LEVEL="INFO",
    )
    command = [sys.executable, "-m", "tieline", "serve", "--role", "dispatcher"]
    log = folder / "dispatcher.log"
    with log.open("wb") as output:
        child = subprocess.Popen(command, env=env, stderr=output)
    deadline = time.monotonic() + 30
    while b"serve.started" not in log.read_bytes():
        if child.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the dispatcher did not start: {log.read_text()}")
        time.sleep(0.05)
    return child


def _bus(store: Store, bus_url: str | None) -> Bus:
    if bus_url is None:
        return SqlLogBus(store, poll_interval=0.01)
    from tieline.events._natsbus import NatsBus

    return NatsBus(bus_url, namespace=f"bench{uuid.uuid4().hex[:8]}")


def _close(bus: Bus) -> None:
    remove: Callable[[], None] | None = getattr(bus, "remove_streams", None)
    if remove is not None:
        remove()
    bus.close()


def _start_pipeline(
    store: Store, bus: Bus, stop: threading.Event, *, in_process: bool
) -> list[threading.Thread]:
    worker = ConsumerWorker(store, bus, [webhook_consumer()], fetch_timeout=0.05)
    threads = worker.start(stop)
    if in_process:
        dispatcher = WebhookDispatcher(
            store, poll_interval=0.01, breaker=BreakerPolicy(failure_threshold=1000)
        )
        threads.append(dispatcher.start(stop))
    if not isinstance(bus, SqlLogBus):
        relay = OutboxRelay(store, name="bench", sink=bus.publish)
        thread = threading.Thread(
            target=relay.run_forever, args=(stop,), kwargs={"interval": 0.01}
        )
        thread.start()
        threads.append(thread)
    return threads


def _produce(store: Store, rate: float, total: int, chunk: int = 50) -> None:
    """Write `total` events at `rate` per second, `chunk` per transaction."""
    start = time.monotonic()
    for first in range(0, total, chunk):
        due = start + first / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        with store.transaction() as tx:
            tx.emit_many(
                (
                    "tieline.progress_claim.updated",
                    f"progress_claim/{n % 500}",
                    {"n": n, "project_id": "p1"},
                )
                for n in range(first, min(first + chunk, total))
            )


def main() -> None:
    """Run the chosen measurements on the chosen back-ends."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=3000.0)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both"
    )
    parser.add_argument("--only", choices=["accepts", "pipeline"])
    parser.add_argument(
        "--dispatcher",
        choices=["process", "thread"],
        default="process",
        help="the dispatcher as `tieline serve --role dispatcher` (as `serve` "
        "runs it) or a thread of the pipeline's process (as before)",
    )
    parser.add_argument(
        "--producer",
        choices=["process", "thread"],
        default="process",
        help="write the pipeline's events from a process of their own (as the "
        "API or an import would) or from a thread of the pipeline's process",
    )
    parser.add_argument("--profile")
    # The producer process's own entry point.
    parser.add_argument("--produce-into", help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce_into:
        _produce_into(args.produce_into, args.rate, args.total)
        return
    # As `tieline serve` does; the API child gets the same level below.
    configure_logging(Settings(log_level="WARNING"))
    seconds = min(args.seconds, MAX_SECONDS)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        bus_name = "NATS JetStream" if backend == "postgres" else "the SQL event log"
        print(f"{backend}, bus {bus_name}:")
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            if args.only in (None, "accepts"):
                with _database(backend, folder, "accepts") as url:
                    bench_accepts(url, folder, seconds)
            if args.only in (None, "pipeline"):
                with _database(backend, folder, "pipeline") as url:
                    bus_url = NATS if backend == "postgres" else None
                    profile = args.profile if backend == "sqlite" else None
                    bench_pipeline(
                        url,
                        bus_url,
                        args.rate,
                        seconds,
                        profile,
                        folder=folder,
                        layout=Layout(args.dispatcher, args.producer),
                    )


if __name__ == "__main__":
    main()
