"""`tieline` commands: plain functions over one Settings object.

Users read what is printed; diagnostics go to the log (stderr). An error a
user can cause is one line (`error: ...`) and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from tieline.cli._console import console, err_console
from tieline.errors import TielineError
from tieline.logging import configure_logging
from tieline.settings import Settings, env_name, tls_problem

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
odoo_app = typer.Typer(
    help="Connect tieline to an Odoo database.", no_args_is_help=True
)
app.add_typer(odoo_app, name="odoo")

# Governance verbs live in their own module; two lines here wire them in.
from tieline.cli._governance import audit_app, identity_app  # noqa: E402

app.add_typer(audit_app, name="audit")
app.add_typer(identity_app, name="identity")


class CommandError(TielineError):
    """A user-facing failure of a command, printed as one line."""


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as err:
        raise CommandError(_settings_error(err)) from None
    problem = tls_problem(settings)
    if problem is not None:
        raise CommandError(problem)
    configure_logging(settings)
    return settings


def _settings_error(err: ValidationError) -> str:
    """Each wrong setting on one line, named by its environment variable."""
    problems = []
    for error in err.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = env_name(field) if field in Settings.model_fields else field
        reason = str(error["msg"]).removeprefix("Value error, ")
        # A database URL may carry a password: never echo it.
        shown = "" if field == "database_url" else f" (got {error.get('input')!r})"
        problems.append(f"{name}: {reason}{shown}")
    return "bad setting " + "; ".join(problems)


@odoo_app.command("check")
def odoo_check(
    url: Annotated[
        str | None, typer.Option(help="Odoo's URL [default: TIELINE_ODOO_URL].")
    ] = None,
    database: Annotated[
        str | None, typer.Option(help="Database [default: TIELINE_ODOO_DB].")
    ] = None,
    login: Annotated[
        str | None, typer.Option(help="Login [default: TIELINE_ODOO_LOGIN].")
    ] = None,
) -> None:
    """Say what tieline can and cannot do on an Odoo database (exit 1 if short).

    The secret is the one `tieline serve` uses (TIELINE_ODOO_API_KEY or
    TIELINE_ODOO_PASSWORD, their _FILE forms, or the secrets folder); at a
    terminal, it is asked for when none is set.
    """
    from tieline.cli._commands import check_odoo

    settings = _settings()
    overrides = {"odoo_url": url, "odoo_db": database, "odoo_login": login}
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        settings = settings.model_copy(update=given)
    raise typer.Exit(check_odoo(settings, console=console))


@odoo_app.command("webhook-url")
def odoo_webhook_url(
    base: Annotated[
        str, typer.Option(help="The hub's address as Odoo reaches it.")
    ] = "http://127.0.0.1:8080",
) -> None:
    """Print the URL to give Odoo's "Send Webhook Notification" action."""
    from tieline.cli._commands import print_odoo_webhook_url

    print_odoo_webhook_url(_settings(), base, console=console)


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
        str,
        typer.Argument(
            help="A shipped profile (port-of-portland, masterformat, ubl, "
            "demo-estate, demo-payments) or a profile .toml file."
        ),
    ],
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to import.")],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Read and check everything, store nothing."),
    ] = False,
) -> None:
    """Import exports as canonical records (exit 0: all in, 2: some rejected).

    Exit 1 when the run itself failed (an unknown or broken profile, no file
    matching a table, a missing column), with the reason on one line.
    """
    from tieline.cli._commands import run_import

    try:
        code = run_import(
            _settings(),
            profile,
            paths,
            dry_run=dry_run,
            console=console,
            err_console=err_console,
        )
    except TielineError as err:
        _print_error(err)
        raise typer.Exit(1) from None
    raise typer.Exit(int(code))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind.", min=1, max=65535)
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option(
            help="api, worker, relay, dispatcher or all (repeatable; default all)."
        ),
    ] = None,
) -> None:
    """Run the hub: the API, the outbox relay, the consumers and the dispatcher."""
    from tieline.cli._commands import ROLES, serve_hub

    chosen = set(role or ["all"])
    if chosen - ROLES - {"all"}:
        raise CommandError(f"unknown role {sorted(chosen - ROLES - {'all'})}")
    roles = ROLES if "all" in chosen else frozenset(chosen)
    settings = _settings()
    serve_hub(
        settings, host=host or settings.host, port=port or settings.port, roles=roles
    )


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


invoices_app = typer.Typer(
    help="Supplier invoices and credit notes.", no_args_is_help=True
)
app.add_typer(invoices_app, name="invoices")


@invoices_app.command("unmatched")
def invoices_unmatched() -> None:
    """Invoices waiting for a person: no known order, or a possible duplicate."""
    from tieline.cli._commands import print_unmatched_invoices

    print_unmatched_invoices(_settings(), console=console)


def _print_error(err: TielineError | str) -> None:
    err_console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)


suppliers_app = typer.Typer(
    help="Suppliers, and the near matches waiting for a person.", no_args_is_help=True
)
app.add_typer(suppliers_app, name="suppliers")


@suppliers_app.command("list")
def suppliers_list() -> None:
    """Every supplier with its aliases, tax id and status."""
    from tieline.cli._commands import list_suppliers

    list_suppliers(_settings(), console=console)


@suppliers_app.command("review")
def suppliers_review() -> None:
    """Near matches waiting for a decision, with their score and evidence."""
    from tieline.cli._commands import show_supplier_reviews

    show_supplier_reviews(_settings(), console=console)


@suppliers_app.command("decide")
def suppliers_decide(
    item_id: Annotated[int, typer.Argument(help="The review item's number.")],
    decision: Annotated[
        Literal["same", "different"],
        typer.Argument(help="same: merge the two; different: keep them apart."),
    ],
    by: Annotated[str, typer.Option("--by", help="Who takes the decision.")],
    note: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
) -> None:
    """Answer a near match; the answer is final and remembered."""
    from tieline.cli._commands import decide_supplier_match

    decide_supplier_match(
        _settings(), item_id, decision, by=by, note=note, console=console
    )


from tieline.cli._deadletters import deadletters_app  # noqa: E402 - needs `app` above

app.add_typer(deadletters_app, name="deadletters")
from tieline.cli._webhooks import webhooks_app  # noqa: E402 - beside deadletters

app.add_typer(webhooks_app, name="webhooks")
from tieline.cli._hooks import hooks_app  # noqa: E402 - needs `app` above

app.add_typer(hooks_app, name="hooks")
from tieline.cli._workflows import register_commands  # noqa: E402 - needs `app`

register_commands(app)


def main() -> None:
    """Entry point: run the app, turning user errors into one line.

    Exit codes: 0 done; 1 failed (a user error, a usage error, an unreachable
    database, a folder that cannot be written); 2 only from `import`, when
    some rows were rejected. Click's own usage errors would exit 2, which a
    script would take for "rows rejected", so they exit 1 here.
    """
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as err:
        # Usage errors, and `tieline` alone, which shows the help: typer's
        # exceptions know how to print themselves.
        show = getattr(err, "show", None)
        if callable(show):
            show()
        code = 0 if type(err).__name__ == "NoArgsIsHelpError" else 1
    except typer.Abort:
        code = 130
    except TielineError as err:
        _print_error(err)
        code = 1
    except (OSError, SQLAlchemyError) as err:
        _print_error(_environment_error(err))
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _environment_error(err: OSError | SQLAlchemyError) -> str:
    """One line for a fault of the machine or the database, not of tieline."""
    if isinstance(err, OSError):
        where = f": {err.filename}" if err.filename else ""
        return f"{err.strerror or err.__class__.__name__}{where}"
    cause = getattr(err, "orig", None) or err
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"the database refused: {first_line or err.__class__.__name__}"
