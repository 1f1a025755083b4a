"""`tieline` commands: plain functions over one Settings object.

Users read what is printed; diagnostics go to the log (stderr). An error a
user can cause is one line (`error: ...`) and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from tieline.errors import TielineError
from tieline.logging import configure_logging
from tieline.settings import Settings

app = typer.Typer(
    name="tieline",
    help="The integration hub for construction companies that run Odoo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
report_app = typer.Typer(
    help="Reports over the canonical records.", no_args_is_help=True
)
app.add_typer(report_app, name="report")

# Governance verbs live in their own module; two lines here wire them in.
from tieline.cli._governance import audit_app, identity_app  # noqa: E402

app.add_typer(audit_app, name="audit")
app.add_typer(identity_app, name="identity")

console = Console()
err_console = Console(stderr=True)


class CommandError(TielineError):
    """A user-facing failure of a command, printed as one line."""


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings)
    return settings


@app.command()
def init() -> None:
    """Create the data directory and bring the database schema up to date."""
    from tieline.cli._commands import init_store

    settings = _settings()
    init_store(settings)
    # Never print the URL's password.
    shown = make_url(settings.resolved_database_url).render_as_string(
        hide_password=True
    )
    console.print(f"store ready: {shown}")


@app.command("import")
def import_(
    profile: Annotated[
        str, typer.Argument(help="A shipped profile's name or a profile file.")
    ],
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to import.")],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Read and check everything, store nothing."),
    ] = False,
) -> None:
    """Import exports as canonical records (exit 0: all in, 2: some rejected)."""
    from tieline.cli._commands import run_import

    code = run_import(_settings(), profile, paths, dry_run=dry_run, console=console)
    raise typer.Exit(int(code))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
) -> None:
    """Run the hub in one process: the API and the outbox relay."""
    from tieline.cli._commands import serve_hub

    settings = _settings()
    serve_hub(settings, host=host or settings.host, port=port or settings.port)


@report_app.command("cost")
def report_cost(
    project: Annotated[
        str | None, typer.Option(help="Only the project with this code.")
    ] = None,
    format_: Annotated[
        str, typer.Option("--format", help="table, csv or json.")
    ] = "table",
) -> None:
    """Budget, committed, received, invoiced and paid per project and cost code."""
    from tieline.cli._commands import print_cost_report

    print_cost_report(_settings(), project=project, output=format_, console=console)


@app.command()
def demo(
    data: Annotated[
        Path | None,
        typer.Option(
            help="The shared data folder (Port of Portland, MasterFormat, Peppol)."
        ),
    ] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the hub after the report.")
    ] = True,
) -> None:
    """The main job: set up a store, import an estate, report, serve."""
    from tieline.cli._commands import run_demo

    run_demo(_settings(), data=data, serve_after=serve_after, console=console)


def main() -> None:
    """Entry point: run the app, turning user errors into one line."""
    try:
        app()
    except TielineError as err:
        err_console.print(f"error: {err}", markup=False, highlight=False)
        sys.exit(1)
