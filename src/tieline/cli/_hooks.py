"""`tieline hooks add-source|sources|rotate-secret|remove-source`: inbound senders.

A thin shell over `tieline.delivery.inbound` (whose docstring says what a
source is and what becomes of its messages). A secret is printed once, by the
command that made it, and never again; no command logs one. Every change is
written to the audit log as the operating-system user who ran it
(`cli:<user>`), as changes made through `/v1/inbound-sources` are.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from tieline.cli._console import console

if TYPE_CHECKING:
    from tieline.delivery.inbound import Source, SourceSummary

hooks_app = typer.Typer(
    help="Inbound webhook sources: who may send to /hooks/NAME, and how they sign.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The source's name (its URL segment).")]
FORMATS = ("table", "json")
SCHEMES = ("standard", "hmac", "token")


def _open() -> tuple[Any, Any]:
    from tieline.cli._app import _settings
    from tieline.cli._commands import open_store
    from tieline.governance.runtime import build_governance

    settings = _settings()
    return open_store(settings), build_governance(settings)


def _echo(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _audit(governance: Any, store: Any, action: str, name: str, **details: Any) -> None:
    governance.audit.record(
        store,
        actor=f"cli:{getpass.getuser()}",
        action=action,
        target=f"inbound_source:{name}",
        details=details,
    )


def _user_error(err: Exception) -> Exception:
    """The delivery module's refusal as the CLI's one-line error."""
    from tieline.cli._app import CommandError
    from tieline.errors import RecordNotFound, ValidationFailed

    if isinstance(err, RecordNotFound):
        return CommandError(
            f"no inbound source named {err.key!r} (see: tieline hooks sources)"
        )
    if isinstance(err, ValidationFailed):
        return CommandError(f"{err.field or 'source'}: {err.reason}")
    return err


@hooks_app.command("add-source")
def add_source(
    name: Name,
    scheme: Annotated[
        str,
        typer.Option(
            help="standard (Standard Webhooks), hmac (HMAC-SHA256 of the body, "
            "hex) or token (a token in the URL or x-tieline-token)."
        ),
    ],
    tolerance: Annotated[
        float,
        typer.Option(help="standard: seconds a timestamp may be off (1 to 86400)."),
    ] = 300.0,
    id_header: Annotated[
        str | None,
        typer.Option(help="hmac: the header with the sender's message id."),
    ] = None,
    signature_header: Annotated[
        str | None,
        typer.Option(help="hmac: the header with the signature [x-signature]."),
    ] = None,
    processor: Annotated[
        str | None,
        typer.Option(
            help="A processor to run on each message (e.g. odoo); without one, "
            "each message is forwarded as a tieline.inbound.received event."
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(help="The hub's address as the sender reaches it."),
    ] = None,
) -> None:
    """Register a sender; prints its secret, once, and where it posts."""
    from tieline.cli._app import CommandError
    from tieline.connectors.odoo import webhooks as _odoo  # noqa: F401 - declares "odoo"
    from tieline.delivery import inbound
    from tieline.errors import ValidationFailed

    if scheme not in SCHEMES:
        raise CommandError(f"unknown scheme {scheme!r}; choose {', '.join(SCHEMES)}")
    store, governance = _open()
    try:
        source = inbound.add_source(
            store,
            name,
            inbound.Scheme(scheme),
            tolerance=tolerance,
            id_header=id_header,
            signature_header=signature_header,
            processor=processor,
        )
        _audit(
            governance,
            store,
            "inbound.source_added",
            name,
            scheme=scheme,
            processor=processor,
        )
    except ValidationFailed as err:
        raise _user_error(err) from None
    finally:
        store.close()
    _print_secret(source, "added", base)


def _print_secret(source: Source, what: str, base: str | None) -> None:
    _echo(f"inbound source {source.name} {what} (scheme {source.scheme.value})")
    _echo(f"secret (shown this once, keep it with the sender): {source.secret}")
    url = (base or "<hub address>").rstrip("/") + source.path
    if source.scheme.value == "token":
        _echo(f"the sender posts to: {url}/<secret> (or sends x-tieline-token)")
    else:
        _echo(f"the sender posts to: {url}")


@hooks_app.command("sources")
def sources(
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List the sources: scheme, processor, created, messages; never a secret."""
    from tieline.cli._app import CommandError
    from tieline.delivery.inbound import summarise_sources

    if output not in FORMATS:
        raise CommandError(f"unknown format {output!r}; choose {', '.join(FORMATS)}")
    store, _governance = _open()
    try:
        found = summarise_sources(store)
    finally:
        store.close()
    if output == "json":
        console.out(json.dumps([_data(s) for s in found], indent=2), highlight=False)
        return
    if not found:
        _echo("no inbound source yet; add one with: tieline hooks add-source NAME")
        return
    table = Table(
        "name",
        "scheme",
        "processor",
        "created (UTC)",
        "messages",
        "last received (UTC)",
    )
    for summary in found:
        table.add_row(
            summary.name,
            summary.scheme.value,
            summary.processor or "events only",
            _stamp(summary.created_at),
            _counts(summary.messages),
            _stamp(summary.last_received_at),
        )
    console.print(table)


def _data(summary: SourceSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "scheme": summary.scheme.value,
        "processor": summary.processor,
        "tolerance": summary.tolerance,
        "id_header": summary.id_header,
        "signature_header": summary.signature_header,
        "path": f"/hooks/{summary.name}",
        "created_at": _iso(summary.created_at),
        "previous_secret_until": _iso(summary.previous_until),
        "messages": summary.messages,
        "last_received_at": _iso(summary.last_received_at),
    }


def _counts(messages: dict[str, int]) -> str:
    if not messages:
        return "0"
    return ", ".join(f"{state} {count}" for state, count in sorted(messages.items()))


def _stamp(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@hooks_app.command("rotate-secret")
def rotate_secret(
    name: Name,
    overlap_hours: Annotated[
        float,
        typer.Option(help="Hours the previous secret still verifies (0 to 720)."),
    ] = 24.0,
) -> None:
    """Give a source a new secret (printed once); the old one works for the overlap."""
    from datetime import timedelta

    from tieline.cli._app import CommandError
    from tieline.delivery.inbound import rotate_source_secret
    from tieline.errors import RecordNotFound

    if not 0 <= overlap_hours <= 720:
        raise CommandError(f"--overlap-hours {overlap_hours}: use 0 to 720")
    store, governance = _open()
    try:
        source = rotate_source_secret(
            store, name, overlap=timedelta(hours=overlap_hours)
        )
        _audit(
            governance,
            store,
            "secret.rotated",
            name,
            secret="inbound_source",  # noqa: S106 - which kind of secret, not one
            overlap_hours=overlap_hours,
        )
    except RecordNotFound as err:
        raise _user_error(err) from None
    finally:
        store.close()
    _print_secret(source, "has a new secret", None)
    until = source.previous_until
    _echo(f"the previous secret still verifies until {_iso(until)}")


@hooks_app.command("remove-source")
def remove_source(name: Name) -> None:
    """Forget a source: its requests are refused from now on (404)."""
    from tieline.delivery.inbound import remove_source as remove
    from tieline.errors import RecordNotFound

    store, governance = _open()
    try:
        remove(store, name)
        _audit(governance, store, "inbound.source_removed", name)
    except RecordNotFound as err:
        raise _user_error(err) from None
    finally:
        store.close()
    _echo(f"inbound source {name} removed; messages it sent before are kept")
