"""`tieline exceptions list|show|assign|comment|resolve`: the exception queue.

A thin shell over `tieline.workflows.exception_queue` (whose docstring says
who may do what). The policy file is `<data dir>/workflows.toml` unless
`--policies` names another, as for `tieline tasks`. `list` and `show` print
tables, or JSON with `--format json` for scripts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tieline.cli._console import console
from tieline.store import Store
from tieline.workflows import Hub, WorkflowException
from tieline.workflows.exception_queue import (
    ExceptionDetail,
    assign,
    comment,
    exception_detail,
    exception_queue,
    resolve,
)

exceptions_app = typer.Typer(
    help="Late workflow steps on the exception queue: list, show, assign, "
    "comment, resolve.",
    no_args_is_help=True,
)

ExceptionId = Annotated[int, typer.Argument(help="The exception's number.")]
As = Annotated[str, typer.Option("--as", help="Who acts: system:login, or an id.")]
Policies = Annotated[
    Path | None,
    typer.Option(help="The policy file (default <data dir>/workflows.toml)."),
]
Format = Annotated[str, typer.Option("--format", help="table or json.")]
FORMATS = ("table", "json")


def _hub(policies: Path | None) -> tuple[Store, Hub]:
    from tieline.cli._app import CommandError
    from tieline.cli._app import _settings as settings_
    from tieline.cli._commands import open_store
    from tieline.cli._workflows import _hub as hub_of
    from tieline.cli._workflows import policy_path

    settings = settings_()
    path = policy_path(settings, policies)
    if not path.is_file():
        raise CommandError(f"no workflow policy file at {path}")
    return open_store(settings), hub_of(path)


def _check_format(output: str) -> None:
    from tieline.cli._app import CommandError

    if output not in FORMATS:
        raise CommandError(f"unknown format {output!r}; choose {', '.join(FORMATS)}")


@exceptions_app.command("list")
def list_(
    owner: Annotated[
        str | None, typer.Option(help="Only this owner (system:login, or an id).")
    ] = None,
    status: Annotated[str, typer.Option(help="open, resolved or all.")] = "open",
    output: Format = "table",
    policies: Policies = None,
) -> None:
    """List exceptions, oldest first."""
    from tieline.cli._app import CommandError

    _check_format(output)
    if status not in ("open", "resolved", "all"):
        raise CommandError(f"unknown status {status!r}; choose open, resolved, all")
    store, hub = _hub(policies)
    try:
        found = exception_queue(
            store, hub, owner=owner, status=None if status == "all" else status
        )
    finally:
        store.close()
    if output == "json":
        console.out(json.dumps([_data(e) for e in found], indent=2), highlight=False)
        return
    table = Table("id", "document", "owner", "status", "opened", "reason")
    for item in found:
        table.add_row(
            str(item.id),
            item.document_ref,
            item.owner,
            item.status,
            item.created_at.isoformat(timespec="minutes"),
            item.reason,
        )
    console.print(table)


@exceptions_app.command()
def show(exception_id: ExceptionId, output: Format = "table") -> None:
    """Show one exception: its document, where that stands, and every note."""
    from tieline.cli._app import _settings as settings_
    from tieline.cli._commands import open_store

    _check_format(output)
    store = open_store(settings_())
    try:
        detail = exception_detail(store, exception_id)
    finally:
        store.close()
    if output == "json":
        console.out(json.dumps(_detail_data(detail), indent=2), highlight=False)
        return
    item = detail.exception
    lines = [
        f"exception {item.id} ({item.status}), owner {item.owner}",
        f"document: {item.document_ref} ({detail.workflow}, "
        f"now {detail.document_state})",
        f"opened: {item.created_at.isoformat(timespec='seconds')}",
        f"reason: {item.reason}",
    ]
    if item.resolved_at is not None:
        at = item.resolved_at.isoformat(timespec="seconds")
        lines.append(f"resolved: {at} by {item.resolved_by}")
    for note in item.entries:
        at = note.at.isoformat(timespec="seconds")
        lines.append(f"  {at}  {note.author}: {note.text}")
    for line in lines:
        console.print(line, markup=False, highlight=False)


@exceptions_app.command("assign")
def assign_(
    exception_id: ExceptionId,
    to: Annotated[str, typer.Option("--to", help="The new owner: system:login or id.")],
    who: As,
    policies: Policies = None,
) -> None:
    """Hand an exception to another person (its owner or the supervisor)."""
    store, hub = _hub(policies)
    try:
        item = assign(store, hub, exception_id, to, who)
    finally:
        store.close()
    console.print(f"{item.id}: assigned to {item.owner}", markup=False)


@exceptions_app.command("comment")
def comment_(
    exception_id: ExceptionId,
    text: Annotated[str, typer.Argument(help="The note.")],
    who: As,
    policies: Policies = None,
) -> None:
    """Add a note to an exception."""
    store, hub = _hub(policies)
    try:
        item = comment(store, hub, exception_id, who, text)
    finally:
        store.close()
    console.print(f"{item.id}: {len(item.entries)} note(s)", markup=False)


@exceptions_app.command("resolve")
def resolve_(
    exception_id: ExceptionId,
    note: Annotated[str, typer.Option(help="How it was resolved (kept with it).")],
    who: As,
    policies: Policies = None,
) -> None:
    """Close an exception with a note (its owner or the supervisor)."""
    store, hub = _hub(policies)
    try:
        item = resolve(store, hub, exception_id, who, note)
    finally:
        store.close()
    console.print(f"{item.id}: resolved by {item.resolved_by}", markup=False)


def _data(item: WorkflowException) -> dict[str, Any]:
    return {
        "id": item.id,
        "document_ref": item.document_ref,
        "reason": item.reason,
        "owner": item.owner,
        "status": item.status,
        "created_at": item.created_at.isoformat(),
        "resolved_by": item.resolved_by,
        "resolved_at": None
        if item.resolved_at is None
        else item.resolved_at.isoformat(),
        "notes": [
            {"author": n.author, "text": n.text, "at": n.at.isoformat()}
            for n in item.entries
        ],
    }


def _detail_data(detail: ExceptionDetail) -> dict[str, Any]:
    return {
        **_data(detail.exception),
        "workflow": detail.workflow,
        "document_id": detail.document_id,
        "document_state": detail.document_state,
    }
