"""What the CLI verbs do, as plain functions over the settings object."""

from __future__ import annotations

import threading
from pathlib import Path

import uvicorn
from rich.console import Console

from tieline.api import create_app
from tieline.intake import ExitCode
from tieline.logging import get_logger
from tieline.settings import Settings
from tieline.store import Store

log = get_logger(__name__)

# The roles `tieline serve` can run; `all` means every one of them.
ROLES: frozenset[str] = frozenset({"api", "worker", "relay"})


def open_store(settings: Settings) -> Store:
    """The store named by the settings, schema brought up to date."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url)
    store.migrate()
    return store


def init_store(settings: Settings) -> None:
    """Create the data directory and migrate the database."""
    open_store(settings).close()


def run_import(
    settings: Settings,
    profile: str,
    paths: list[Path],
    *,
    dry_run: bool,
    console: Console,
) -> ExitCode:
    """Run one import and print its figures; returns the exit code."""
    raise NotImplementedError("file intake is being built")


def print_cost_report(
    settings: Settings, *, project: str | None, output: str, console: Console
) -> None:
    """Print the project cost report in the chosen format."""
    raise NotImplementedError("the cost report is being built")


def run_demo(
    settings: Settings, *, data: Path | None, serve_after: bool, console: Console
) -> None:
    """The main job: store, estate, report, then serve unless told not to."""
    raise NotImplementedError("the demo is being built")


def serve_hub(
    settings: Settings, *, host: str, port: int, roles: frozenset[str] = ROLES
) -> None:
    """Serve the API and/or run the relay and workers until interrupted."""
    from tieline.events._roles import start_backbone

    store = open_store(settings)
    stop = threading.Event()
    shut_down = start_backbone(store, settings, roles, stop)
    log.info("serve.started", host=host, port=port, roles=sorted(roles))
    try:
        if "api" in roles:
            uvicorn.run(create_app(store), host=host, port=port, log_config=None)
        else:
            _wait_for_interrupt(stop)
    finally:
        shut_down()
        store.close()
        log.info("serve.stopped")


def _wait_for_interrupt(stop: threading.Event) -> None:
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        stop.set()
