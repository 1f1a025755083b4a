"""Starting delivery in a process: the webhook dispatcher, alone or as a child.

Operator's notes
----------------
The webhook fan-out is a backbone consumer (registered when `tieline.delivery`
is imported, so `start_backbone` runs it with the `worker` role); the
dispatcher that sends the queued messages has a role of its own, `dispatcher`.

- `tieline serve --role dispatcher` alone: the dispatcher runs in that
  process.
- With any other role beside it (`--role all`, the default, or say
  `--role worker --role dispatcher`): the process starts the dispatcher as a
  child process (`DispatcherProcess`) on the same database. Its HTTP sends
  were more than half of the webhook pipeline's CPU, and in one process they
  shared one interpreter lock with the consumers and the API; in a child they
  use another core. The child stops when the parent stops (after finishing
  what it has in flight), and also when the parent dies outright; when the
  child dies, the parent logs `dispatcher.process_exited` (error) and starts
  another after a pause that doubles up to a minute. What a dead child had
  claimed is freed at once (`dispatcher.leases_released`, info: count) and
  sent again by the next child, with the same `webhook-id`; an attempt the
  child was making when it died is not in the attempt log. A dispatcher
  running in a process of its own (`--role dispatcher`) that dies has its
  claims sent by another once their leases run out (five minutes).
- An in-memory SQLite database cannot be shared with a child: there the
  dispatcher runs in a thread of the process.

Any number of processes may run the dispatcher: they share the queue through
leases. Log lines: `dispatcher.process_started` (info: pid),
`dispatcher.process_exited` (error: exitcode, restart_in),
`dispatcher.parent_gone` (warning, in the child).
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Collection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent

from sqlalchemy.engine import make_url

from tieline._context import new_id
from tieline.delivery.dispatcher import WebhookDispatcher, release_leases
from tieline.logging import configure_logging, get_logger
from tieline.settings import Settings
from tieline.store import Store

log = get_logger(__name__)

ROLE = "dispatcher"


def start_delivery(
    store: Store, settings: Settings, roles: Collection[str], stop: threading.Event
) -> Callable[[], None]:
    """Start the dispatcher if this process has its role; returns its stopper."""
    if ROLE not in roles:
        return lambda: None
    if set(roles) == {ROLE} or not _shareable(store.url):
        thread = WebhookDispatcher(store).start(stop)
    else:
        thread = DispatcherProcess(settings, store.url).start(stop)

    def shut_down() -> None:
        stop.set()
        thread.join(timeout=45)

    return shut_down


def _shareable(url: str) -> bool:
    """Whether another process can open the database at `url`."""
    parsed = make_url(url)
    return parsed.get_backend_name() != "sqlite" or parsed.database not in (
        None,
        "",
        ":memory:",
    )


class DispatcherProcess:
    """Runs the dispatcher in a child process, restarted when it dies."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        restart_delay: float = 1.0,
        max_restart_delay: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.settings = settings
        self.database_url = database_url
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.stop_timeout = stop_timeout
        # Spawned, not forked: the parent has threads and open connections.
        self._context = multiprocessing.get_context("spawn")
        self.process: BaseProcess | None = None

    def start(self, stop: threading.Event) -> threading.Thread:
        """Supervise the child in a daemon thread until `stop` is set."""
        thread = threading.Thread(
            target=self.supervise, args=(stop,), name="dispatcher-process", daemon=True
        )
        thread.start()
        return thread

    def supervise(self, stop: threading.Event) -> None:
        """Start the child, restart it when it dies, stop it when `stop` is set."""
        delay = self.restart_delay
        while not stop.is_set():
            child_stop = self._context.Event()
            worker_id = new_id()
            process = self._context.Process(
                target=run_child,
                args=(self.settings, self.database_url, child_stop, worker_id),
                name="tieline-dispatcher",
                daemon=True,
            )
            process.start()
            self.process = process
            log.info("dispatcher.process_started", pid=process.pid)
            while process.is_alive() and not stop.wait(0.5):
                pass
            if stop.is_set():
                self._stop(process, child_stop)
                return
            log.error(
                "dispatcher.process_exited",
                pid=process.pid,
                exitcode=process.exitcode,
                restart_in=delay,
            )
            self._release(worker_id)
            stop.wait(delay)
            delay = min(delay * 2, self.max_restart_delay)

    def _release(self, worker_id: str) -> None:
        # The child is dead: nothing it claimed is being sent any more.
        try:
            store = Store(self.database_url)
            try:
                count = release_leases(store, worker_id)
            finally:
                store.close()
        except Exception:
            log.exception("dispatcher.leases_not_released", worker_id=worker_id)
            return
        log.info("dispatcher.leases_released", count=count)

    def _stop(self, process: BaseProcess, child_stop: ProcessEvent) -> None:
        child_stop.set()
        process.join(self.stop_timeout)
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join()


def run_child(
    settings: Settings,
    database_url: str,
    stop: ProcessEvent,
    worker_id: str | None = None,
) -> None:
    """The child's main: dispatch until `stop` is set or the parent is gone."""
    # Ctrl-C reaches the whole process group: the parent decides when the
    # child stops. A SIGTERM to the child alone stops it the orderly way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    local = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: local.set())
    configure_logging(settings)
    store = Store(database_url)
    thread = WebhookDispatcher(store, worker_id=worker_id).start(local)
    parent = multiprocessing.parent_process()
    try:
        while not local.wait(0.5) and not stop.is_set():
            if parent is not None and not parent.is_alive():
                log.warning("dispatcher.parent_gone")
                break
    finally:
        local.set()
        thread.join(timeout=30)
        store.close()
