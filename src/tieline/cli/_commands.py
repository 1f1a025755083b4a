"""What the CLI verbs do, as plain functions over the settings object."""

from __future__ import annotations

import threading
from pathlib import Path

import uvicorn
from rich.console import Console

from tieline.api import create_app
from tieline.events import OutboxRelay
from tieline.intake import ExitCode
from tieline.logging import get_logger
from tieline.settings import Settings
from tieline.store import Store

log = get_logger(__name__)


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


def serve_hub(settings: Settings, *, host: str, port: int) -> None:
    """Serve the API and run the outbox relay until interrupted."""
    store = open_store(settings)
    stop = threading.Event()
    relay = OutboxRelay(store)
    relay_thread = threading.Thread(
        target=relay.run_forever,
        args=(stop,),
        kwargs={"interval": settings.relay_interval},
        name="outbox-relay",
        daemon=True,
    )
    relay_thread.start()
    log.info("serve.started", host=host, port=port)
    try:
        uvicorn.run(create_app(store), host=host, port=port, log_config=None)
    finally:
        stop.set()
        relay_thread.join(timeout=5)
        store.close()
        log.info("serve.stopped")


def check_odoo(
    url: str, database: str, login: str, secret: str, *, console: Console
) -> int:
    """Print what tieline can do on an Odoo database; 1 when something is missing."""
    from tieline.connectors.odoo import OdooClient, OdooRejected, OdooUnavailable
    from tieline.connectors.odoo._check import check

    try:
        with OdooClient.connect(url, database, login, secret) as client:
            report = check(client)
    except (OdooRejected, OdooUnavailable) as err:
        from tieline.cli._app import CommandError

        raise CommandError(f"cannot connect to Odoo: {err}") from err
    for fact in report.facts:
        console.print(fact)
    for problem in report.problems:
        console.print(f"missing: {problem}")
    return 1 if report.problems else 0
