"""`tieline tasks|approve|reject|history|closeout|retention|sla-sweep`.

The exception queue's commands (`tieline exceptions ...`) are in `_exceptions`
and `tieline requisition submit` in `_requisitions`; both are added here.

Each command is a thin shell over `tieline.workflows.people` (the functions an
API route or a console page calls too). The policy file is
`<data dir>/workflows.toml` unless `--policies` names another.

The workflow consumers of a running hub (with Odoo as their ERP when it is
configured) are registered by `tieline.cli._hub.assemble_hub`, which
`tieline serve` and `tieline deadletters replay` call.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tieline.cli._console import console
from tieline.settings import Settings
from tieline.workflows import Hub, load_policies, sweep
from tieline.workflows.closeout import (
    Blocker,
    Check,
    close_project,
    closeout_checklist,
    find_project,
)
from tieline.workflows.people import approve, history, reject, tasks_for
from tieline.workflows.valuations import find_commitment, release_retention

As = Annotated[str, typer.Option("--as", help="Who acts: system:login, or an id.")]
Comment = Annotated[str | None, typer.Option(help="Why, kept in the history.")]
# A rejection always says why, as the API's reject route requires.
Reason = Annotated[str, typer.Option(help="Why it is rejected, kept in the history.")]
Document = Annotated[str, typer.Argument(help="The document's number or id.")]
Certify = Annotated[
    list[str] | None,
    typer.Option(
        help="A progress claim line's work certified to date, LINE=AMOUNT "
        "(repeat per line; lines not named are certified as claimed).",
    ),
]
AllowReduction = Annotated[
    bool,
    typer.Option(
        "--allow-reduction",
        help="Let a claim line's certified to date fall below its last certificate.",
    ),
]
Policies = Annotated[
    Path | None,
    typer.Option(help="The policy file (default <data dir>/workflows.toml)."),
]


def _settings() -> Settings:
    from tieline.cli._app import _settings as settings

    return settings()


def policy_path(settings: Settings, given: Path | None) -> Path:
    """The policy file in force."""
    return given if given is not None else settings.data_dir / "workflows.toml"


@lru_cache(maxsize=4)
def _hub(path: Path) -> Hub:
    return Hub(load_policies(path))


def served_hub(settings: Settings) -> Hub | None:
    """The hub of the default policy file, or None when there is none."""
    path = policy_path(settings, None)
    return _hub(path) if path.is_file() else None


def tasks(who: As, policies: Policies = None) -> None:
    """What waits for you: decisions assigned to you and exceptions you own."""
    from tieline.cli._commands import open_store

    settings = _settings()
    store = open_store(settings)
    found = tasks_for(store, _hub(policy_path(settings, policies)), who)
    store.close()
    table = Table("document", "workflow", "state", "why", "due")
    for task in found:
        due = task.due_at.isoformat(timespec="minutes") if task.due_at else ""
        why = "\n".join([task.reason, *task.details])
        table.add_row(task.document_ref, task.workflow, task.state, why, due)
    console.print(table)


def approve_(
    document: Document,
    who: As,
    comment: Comment = None,
    certify: Certify = None,
    allow_reduction: AllowReduction = False,
    policies: Policies = None,
) -> None:
    """Approve (or certify, or release payment of) what a document waits for.

    A progress claim is certified as claimed, or at `--certify LINE=AMOUNT`
    (work certified to date on that line, repeat per line).
    """
    from tieline.cli._commands import open_store

    certified = certified_lines(certify or [])
    settings = _settings()
    store = open_store(settings)
    try:
        console.print(
            approve(
                store,
                _hub(policy_path(settings, policies)),
                document,
                who,
                comment,
                certified=certified,
                allow_reduction=allow_reduction,
            ),
            markup=False,
        )
    finally:
        store.close()


def certified_lines(given: list[str]) -> dict[str, Decimal]:
    """`LINE=AMOUNT` options as amounts by line key; CommandError if malformed."""
    from tieline.cli._app import CommandError

    found: dict[str, Decimal] = {}
    for option in given:
        key, sep, amount = option.partition("=")
        key = key.strip()
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not sep or not key or not value.is_finite():
            raise CommandError(
                f"--certify {option!r}: give LINE=AMOUNT, e.g. --certify 1=38000.00"
            )
        if key in found:
            raise CommandError(f"--certify names line {key} twice")
        found[key] = value
    return found


def reject_(
    document: Document, who: As, comment: Reason, policies: Policies = None
) -> None:
    """Reject what a document waits for, saying why (--comment is required)."""
    from tieline.cli._commands import open_store

    settings = _settings()
    store = open_store(settings)
    try:
        console.print(
            reject(store, _hub(policy_path(settings, policies)), document, who, comment)
        )
    finally:
        store.close()


def history_(document: Document) -> None:
    """Every transition of a document: when, from, to, who, via which system."""
    from tieline.cli._commands import open_store

    store = open_store(_settings())
    try:
        entries = history(store, document)
    finally:
        store.close()
    table = Table("at", "workflow", "from", "to", "by", "via", "comment", "correlation")
    for entry in entries:
        via = f"{entry.system}:{entry.login}" if entry.login else entry.system
        table.add_row(
            entry.at.isoformat(timespec="seconds"),
            entry.workflow,
            entry.from_state or "",
            entry.to_state,
            f"{entry.actor} ({entry.actor_kind})",
            via,
            entry.comment or "",
            entry.correlation_id,
        )
    console.print(table)


def sla_sweep(policies: Policies = None) -> None:
    """Fire every SLA timer that is due (`tieline serve` runs this on a schedule)."""
    from tieline.cli._commands import open_store

    settings = _settings()
    store = open_store(settings)
    try:
        opened = sweep(store, _hub(policy_path(settings, policies)))
    finally:
        store.close()
    for exception in opened:
        console.print(
            f"{exception.id}: {exception.reason} (owner {exception.owner})",
            markup=False,
        )
    console.print(f"{len(opened)} breach(es)")


retention_app = typer.Typer(
    help="A subcontract's retention: release it at completion.", no_args_is_help=True
)


def closeout(
    project: Annotated[str, typer.Argument(help="The project's code or id.")],
    check: Annotated[
        bool, typer.Option("--check", help="Show the checklist; close nothing.")
    ] = False,
    who: Annotated[
        str | None, typer.Option("--as", help="Who closes: system:login, or an id.")
    ] = None,
    comment: Comment = None,
    policies: Policies = None,
) -> None:
    """Close a project whose closeout checklist is clear, or show the checklist.

    Closing exits 1 naming every blocker (open commitments, receipts not
    invoiced, claims not certified, retention held) while any is left;
    `--check` prints the checklist and exits 0 either way.
    """
    from tieline.cli._app import CommandError
    from tieline.cli._commands import open_store

    settings = _settings()
    store = open_store(settings)
    try:
        with store.transaction() as tx:
            found = find_project(tx, project)
            blockers = closeout_checklist(tx, found.id)
        if check or blockers:
            _print_checklist(found.code, blockers)
        if check:
            said = f"{len(blockers)} blocker(s)" if blockers else "ready to close"
            console.print(f"{found.code}: {said}", markup=False)
            return
        if who is None:
            raise CommandError("closing a project needs --as (or use --check)")
        hub = _hub(policy_path(settings, policies))
        actor = hub.policies.directory.parse(who)
        with store.transaction() as tx:
            close_project(tx, hub, found.id, actor, comment)
    finally:
        store.close()
    console.print(f"{found.code}: closed", markup=False)


def _print_checklist(code: str, blockers: list[Blocker]) -> None:
    table = Table("check", "clear", "document", "why", title=f"{code} closeout")
    for item in Check:
        mine = [b for b in blockers if b.check is item]
        if not mine:
            table.add_row(item.value, "yes", "", "")
        for blocker in mine:
            table.add_row(item.value, "no", blocker.document, blocker.detail)
    console.print(table)


def release(
    commitment: Annotated[str, typer.Argument(help="The subcontract's number or id.")],
    who: As,
    comment: Comment = None,
    policies: Policies = None,
) -> None:
    """Release a completed subcontract's retention (a `retention_release` decision)."""
    from tieline.cli._commands import open_store

    settings = _settings()
    store = open_store(settings)
    hub = _hub(policy_path(settings, policies))
    actor = hub.policies.directory.parse(who)
    try:
        with store.transaction() as tx:
            number = find_commitment(tx, commitment).number
            amount = release_retention(tx, hub, commitment, actor, comment)
    finally:
        store.close()
    console.print(f"{number}: retention {amount} released", markup=False)


def register_commands(app: typer.Typer) -> None:
    """Add the workflow commands to the `tieline` app."""
    from tieline.cli._exceptions import exceptions_app
    from tieline.cli._requisitions import requisition_app

    app.add_typer(exceptions_app, name="exceptions")
    app.add_typer(requisition_app, name="requisition")
    app.command("tasks")(tasks)
    app.command("approve")(approve_)
    app.command("reject")(reject_)
    app.command("history")(history_)
    app.command("sla-sweep")(sla_sweep)
    app.command("closeout")(closeout)
    retention_app.command("release")(release)
    app.add_typer(retention_app, name="retention")
