"""What the CLI verbs do, as plain functions over the settings object."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from tieline import demo, intake
from tieline.api import create_app
from tieline.cli._app import CommandError
from tieline.governance.secrets import EnvSecrets, SecretResolver, default_resolver
from tieline.intake import ExitCode, RunReport
from tieline.intake.matching import invoices_with_variances, unmatched_invoices
from tieline.logging import get_logger
from tieline.model import InvoiceType, Supplier
from tieline.model.invoices import SupplierInvoice
from tieline.reports import (
    REPORT_FORMATS,
    load_cost_report,
    render_csv,
    render_json,
    render_tables,
)
from tieline.settings import Settings
from tieline.store import Store
from tieline.suppliers import Decision, ReviewItem, SupplierReviews

if TYPE_CHECKING:
    from tieline.connectors.odoo._check import StoredEntity

log = get_logger(__name__)

# The roles `tieline serve` can run; `all` means every one of them.
ROLES: frozenset[str] = frozenset({"api", "worker", "relay", "dispatcher"})


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
    err_console: Console | None = None,
) -> ExitCode:
    """Run one import and print its figures; returns the exit code.

    A failed run prints only its reason, as one `error:` line on
    `err_console` (the run folder still holds its `summary.json`).
    """
    store = open_store(settings)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            # A bar is for a person at a terminal, not for a pipe or a log.
            disable=not console.is_terminal,
        ) as bar:
            task = bar.add_task("starting", total=None)

            def show(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total or None)

            report = intake.run_import(
                store,
                profile,
                paths,
                runs_dir=settings.runs_dir,
                dry_run=dry_run,
                progress=show,
            )
    finally:
        store.close()
    if report.failure is not None and err_console is not None:
        err_console.print(
            f"error: {report.failure}", markup=False, highlight=False, soft_wrap=True
        )
    else:
        print_run_report(report, console)
    return report.exit_code


def print_run_report(report: RunReport, console: Console) -> None:
    """The figures of an import run, and where its reports were written."""
    summary = report.summary()
    title = "dry run (nothing stored)" if report.dry_run else "import"

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    # Rows are what the files held; records are what the store holds (one
    # order is many rows; one row may touch a project and a supplier).
    say(
        "{title} {profile}: rows read {read}, rejected {rejected}, flagged "
        "{flagged}".format(title=title, **summary)
    )
    say(
        "  records created {created}, updated {updated}, unchanged {unchanged}".format(
            **summary
        )
    )
    for note in report.notes:
        say(f"  note: {note}")
    if report.failure:
        say(f"  failed: {report.failure}")
    say(f"  run folder: {report.run_dir}")
    if report.rejects:
        say(f"  rejected rows, with their reasons: {report.run_dir / 'rejects.csv'}")
    if report.flags:
        say(f"  flagged rows, with their reasons: {report.run_dir / 'flags.csv'}")


def print_cost_report(
    settings: Settings, *, project: str | None, output: str, console: Console
) -> None:
    """Print the project cost report in the chosen format.

    JSON carries its warnings inside; with CSV they go to stderr, so that the
    CSV on stdout stays clean for a spreadsheet; the tables print them below.
    """
    if output not in REPORT_FORMATS:
        raise CommandError(
            f"unknown report format {output!r}; choose {', '.join(REPORT_FORMATS)}"
        )
    store = open_store(settings)
    try:
        report = load_cost_report(store, project_code=project)
    finally:
        store.close()
    if project is not None and not report.projects:
        raise CommandError(f"no project has the code {project!r}")

    if output == "json":
        console.out(render_json(report), highlight=False)
    elif output == "csv":
        console.out(render_csv(report), highlight=False, end="")
        warnings = [w for p in report.projects for w in p.warnings]
        for warning in [*warnings, *report.warnings]:
            Console(stderr=True).print(f"warning: {warning}", markup=False)
    else:
        console.print(render_tables(report))


def run_demo(
    settings: Settings, *, data: Path | None, serve_after: bool, console: Console
) -> None:
    """The main job: store, estate, report, then serve unless told not to.

    Without `data` it imports the shipped example estate; with it, the shared
    data sets in that folder. Importing again changes nothing, so the demo
    can be run as often as one likes on the same data directory.
    """
    reports, waiting, variances = _demo_imports(settings, data, console)
    for report in reports:
        print_run_report(report, console)
    failed = [r for r in reports if r.failure is not None]
    if failed:
        raise CommandError(f"import {failed[0].profile} failed: {failed[0].failure}")
    console.print()
    print_cost_report(settings, project=None, output="table", console=console)
    _print_invoices("Unmatched invoices waiting for a person", waiting, console)
    _print_invoices("Matched invoices with variances to approve", variances, console)
    if serve_after:
        console.print(f"serving the hub on http://{settings.host}:{settings.port}")
        serve_hub(settings, host=settings.host, port=settings.port)


def _demo_imports(
    settings: Settings, data: Path | None, console: Console
) -> tuple[list[RunReport], list[SupplierInvoice], list[SupplierInvoice]]:
    store = open_store(settings)
    try:
        with _import_progress(console) as show:
            runs = settings.runs_dir
            reports = (
                demo.import_estate(store, runs_dir=runs, progress=show)
                if data is None
                else demo.import_shared_data(store, data, runs_dir=runs, progress=show)
            )
        with store.transaction() as tx:
            return reports, unmatched_invoices(tx), invoices_with_variances(tx)
    finally:
        store.close()


@contextmanager
def _import_progress(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def show(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        yield show


def print_unmatched_invoices(settings: Settings, *, console: Console) -> None:
    """Print the invoices waiting for a person, each with its reason."""
    store = open_store(settings)
    try:
        with store.transaction() as tx:
            waiting = unmatched_invoices(tx)
    finally:
        store.close()
    if not waiting:
        console.print("no invoice is waiting unmatched")
    _print_invoices("Unmatched invoices waiting for a person", waiting, console)


def _print_invoices(
    title: str, waiting: list[SupplierInvoice], console: Console
) -> None:
    if not waiting:
        return
    table = Table(title=f"{title} ({len(waiting)})")
    for column in ("Supplier", "Invoice", "Issued", "Gross", "Why"):
        table.add_column(column, justify="right" if column == "Gross" else "left")
    for invoice in waiting:
        kind = "credit note " if invoice.invoice_type is InvoiceType.CREDIT_NOTE else ""
        table.add_row(
            Text(invoice.supplier_name),
            Text(kind + invoice.supplier_reference),
            invoice.issue_date.isoformat(),
            f"{invoice.gross_total:,} {invoice.currency}",
            Text(invoice.status_reason or ""),
        )
    console.print(table)


def serve_hub(
    settings: Settings,
    *,
    host: str,
    port: int,
    roles: frozenset[str] = ROLES,
) -> None:
    """Serve the API and/or run the relay, workers and jobs until interrupted.

    What runs besides them (Odoo, workflows, periodic jobs) follows from the
    settings: see `tieline.cli._hub`.
    """
    from tieline.cli._hub import running_hub

    with running_hub(settings, roles) as hub:
        for _event, notice in hub.assembly.notices:
            Console(stderr=True).print(
                f"warning: {notice}", markup=False, highlight=False, soft_wrap=True
            )
        log.info("serve.started", host=host, port=port, roles=sorted(roles))
        try:
            if "api" in roles:
                _run_api(hub.store, settings, host, port, hub.assembly.health)
            else:
                _wait_for_interrupt(hub.stop)
        finally:
            log.info("serve.stopped")


# Supplier identity: list, review, decide.


def list_suppliers(settings: Settings, *, console: Console) -> None:
    """Print every supplier with its aliases, tax id and status."""
    store = open_store(settings)
    try:
        with store.transaction() as tx:
            suppliers = tx.list(Supplier)
    finally:
        store.close()
    names = {s.id: s.legal_name for s in suppliers}
    table = Table("Supplier", "Status", "Aliases", "Tax id", "Id")
    for supplier in suppliers:
        status = supplier.status.value
        if supplier.merged_into is not None:
            status += f" into {names.get(supplier.merged_into, supplier.merged_into)}"
        table.add_row(
            Text(supplier.legal_name),
            Text(status),
            Text("; ".join(supplier.aliases)),
            Text(supplier.tax_id or "-"),
            Text(supplier.id),
        )
    console.print(table)
    console.print(f"{len(suppliers)} suppliers")


def show_supplier_reviews(settings: Settings, *, console: Console) -> None:
    """Print the near matches waiting for a decision, with score and evidence."""
    store = open_store(settings)
    try:
        with store.transaction() as tx:
            items = SupplierReviews(tx).list()
    finally:
        store.close()
    if not items:
        console.print("no near matches are waiting for a decision")
        return
    for item in items:
        score = "-" if item.score is None else f"{item.score:.1f}"
        console.print(
            Text(f"item {item.id}  score {score}  rule {item.evidence['rule']}")
        )
        console.print(_evidence_line("known supplier", item.evidence["existing"]))
        console.print(_evidence_line("new spelling  ", item.evidence["new"]))
    console.print(
        f"{len(items)} waiting; answer with: tieline suppliers decide ITEM "
        "same|different --by NAME"
    )


def decide_supplier_match(
    settings: Settings,
    item_id: int,
    decision: str,
    *,
    by: str,
    note: str | None,
    console: Console,
) -> ReviewItem:
    """Record a person's answer on a near match and print what it did."""
    store = open_store(settings)
    try:
        with store.transaction() as tx:
            item = SupplierReviews(tx).decide(
                item_id, decision=decision, by=by, note=note
            )
    finally:
        store.close()
    new, existing = item.evidence["new"]["name"], item.evidence["existing"]["name"]
    outcome = (
        f"{new} is now part of {existing}"
        if item.decision is Decision.SAME
        else f"{new} and {existing} stay apart"
    )
    console.print(Text(f"review item {item.id}: {outcome} (by {item.decided_by})"))
    return item


def _evidence_line(label: str, side: dict[str, object]) -> Text:
    misspelt = side.get("misspelt_legal_form")
    form = side.get("legal_form") or (f"{misspelt} (misspelt?)" if misspelt else "-")
    return Text(
        f"  {label}  {side['name']}  (normalised {side['normalised']}; "
        f"legal form {form}; tax id {side.get('tax_id') or '-'})"
    )


def _run_api(
    store: Store,
    settings: Settings,
    host: str,
    port: int,
    health: Callable[[], dict[str, dict[str, Any]]] | None = None,
) -> None:
    try:
        uvicorn.run(
            create_app(store, settings=settings, health=health),
            host=host,
            port=port,
            log_config=None,
            # HTTPS when given a certificate and key; plain HTTP otherwise.
            ssl_certfile=settings.tls_cert_file,
            ssl_keyfile=settings.tls_key_file,
        )
    except SystemExit as err:
        # uvicorn exits (code 1 or 3) when it cannot bind; the reason is in
        # its log line just above.
        if err.code not in (0, None):
            raise CommandError(
                f"could not serve on {host}:{port} (address in use or not "
                "this machine's; see the log line above)"
            ) from err


def _wait_for_interrupt(stop: threading.Event) -> None:
    """Wait for Ctrl-C or SIGTERM (as a service manager sends), then stop."""
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        stop.set()


def check_odoo(settings: Settings, *, console: Console) -> int:
    """Print what tieline can do on the settings' Odoo; 1 when something is missing."""
    from tieline.cli._hub import odoo_config
    from tieline.connectors.odoo import OdooClient, OdooRejected, OdooUnavailable
    from tieline.connectors.odoo._check import (
        check,
        check_companies,
        check_legal_entities,
    )

    config = odoo_config(settings, _secrets(settings))
    if config is None:
        raise CommandError(
            "no Odoo is configured: set TIELINE_ODOO_URL, TIELINE_ODOO_DB and "
            "TIELINE_ODOO_LOGIN (or give --url, --database, --login)"
        )
    entities = _stored_entities(settings, config.instance)
    try:
        with OdooClient.connect(
            config.url,
            config.database,
            config.login,
            config.secret.get_secret_value(),
            limits=config.limits,
        ) as client:
            report = check(client)
            check_companies(client, config.companies, report)
            check_legal_entities(client, entities, config.companies, report)
    except (OdooRejected, OdooUnavailable) as err:
        # Most of the client's errors name the URL already: say it once.
        where = "" if config.url.rstrip("/") in str(err) else f" at {config.url}"
        raise CommandError(f"cannot connect to Odoo{where}: {err}") from err
    lines = [f"reachable: {config.url}, database {config.database}", *report.facts]
    lines += [f"missing: {problem}" for problem in report.problems]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 1 if report.problems else 0


def _stored_entities(settings: Settings, instance: str) -> list[StoredEntity]:
    """The legal entities `check_odoo` looks at: none while tieline has no
    database yet (the check creates none)."""
    from tieline.connectors.odoo._check import stored_entities

    embedded = settings.data_dir / "tieline.db"
    if settings.database_url is None and not embedded.exists():
        return []
    store = open_store(settings)
    try:
        return stored_entities(store, instance)
    finally:
        store.close()


def _secrets(settings: Settings) -> SecretResolver:
    """The secrets; at a terminal, the Odoo secret is asked for if none is set."""
    import sys

    import typer

    resolver = default_resolver(settings.resolved_secrets_dir)
    if not settings.odoo_configured or not sys.stdin.isatty():
        return resolver
    if resolver.get("odoo_api_key") or resolver.get("odoo_password"):
        return resolver
    entered = typer.prompt("Odoo password or API key", hide_input=True)
    return SecretResolver([EnvSecrets({"TIELINE_ODOO_API_KEY": entered})])


def print_odoo_webhook_url(settings: Settings, base: str, *, console: Console) -> None:
    """Print where Odoo's notifications go, making the source if need be."""
    from tieline.cli._hub import odoo_config, webhook_token
    from tieline.delivery.inbound import Scheme, ensure_source

    config = odoo_config(settings)
    if config is None:
        raise CommandError("no Odoo is configured: set TIELINE_ODOO_URL first")
    token = webhook_token(settings)
    store = open_store(settings)
    try:
        ensure_source(store, config.source, Scheme.TOKEN, token)
    finally:
        store.close()
    console.print(
        f"{base.rstrip('/')}/hooks/{config.source}/{token}",
        markup=False,
        soft_wrap=True,
    )
    console.print(
        'In Odoo: an automation rule on Contacts, action "Send Webhook '
        'Notification" to this URL, with write_date among the fields sent.',
        markup=False,
    )
