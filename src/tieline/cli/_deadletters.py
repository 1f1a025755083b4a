"""`tieline deadletters list|show|replay|discard|parked`: what is stuck, and why."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from tieline.cli._console import console
from tieline.events import deadletters as dl
from tieline.events import parking
from tieline.events.registry import registered
from tieline.settings import Settings

deadletters_app = typer.Typer(
    help=(
        "Events a consumer gave up on: list, inspect, replay, discard; "
        "and those parked to be retried later."
    ),
    no_args_is_help=True,
)

Consumer = Annotated[str | None, typer.Option(help="Only this consumer.")]
EventType = Annotated[
    str | None, typer.Option("--type", help="Event type; '*' matches any part.")
]
Project = Annotated[str | None, typer.Option(help="Only this project id.")]
Since = Annotated[
    datetime | None, typer.Option(help="Dead-lettered at or after (ISO 8601, UTC).")
]
Until = Annotated[
    datetime | None, typer.Option(help="Dead-lettered before (ISO 8601).")
]
Error = Annotated[str | None, typer.Option(help="Text in the error or the reason.")]
Status = Annotated[str, typer.Option(help="open, replayed, discarded or all.")]


def _settings() -> Settings:
    from tieline.cli._app import _settings as settings

    return settings()


def _filter(
    consumer: str | None,
    event_type: str | None,
    project: str | None,
    since: datetime | None,
    until: datetime | None,
    error: str | None,
    status: str,
    limit: int,
) -> dl.DeadLetterFilter:
    return dl.DeadLetterFilter(
        consumer=consumer,
        event_type=event_type,
        project_id=project,
        since=since,
        until=until,
        error=error,
        status=None if status == "all" else status,
        limit=limit,
    )


@deadletters_app.command("list")
def list_(
    consumer: Consumer = None,
    event_type: EventType = None,
    project: Project = None,
    since: Since = None,
    until: Until = None,
    error: Error = None,
    status: Status = "open",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
) -> None:
    """List dead letters, oldest first."""
    from tieline.cli._commands import open_store

    store = open_store(_settings())
    where = _filter(consumer, event_type, project, since, until, error, status, limit)
    table = Table("id", "consumer", "type", "subject", "tries", "status", "reason")
    for letter in dl.list_dead_letters(store, where):
        table.add_row(
            str(letter.id),
            letter.consumer,
            letter.event_type,
            letter.subject,
            str(len(letter.attempts)),
            letter.status,
            letter.reason,
        )
    console.print(table)
    store.close()


@deadletters_app.command()
def show(
    letter_id: Annotated[int, typer.Argument(help="The dead letter's id.")],
) -> None:
    """Show one dead letter: its event, every attempt, and the reason."""
    from tieline.cli._commands import open_store

    store = open_store(_settings())
    letter = dl.get_dead_letter(store, letter_id)
    store.close()
    console.print(f"dead letter {letter.id} ({letter.status}) of {letter.consumer}")
    console.print(f"reason: {letter.reason}", markup=False)
    for attempt in letter.attempts:
        console.print(f"  {attempt['at']}  {attempt['error']}", markup=False)
    if letter.note:
        console.print(f"note: {letter.note} ({letter.resolved_by})", markup=False)
    console.print_json(json.dumps(letter.event))


@deadletters_app.command()
def replay(
    letter_ids: Annotated[
        list[int] | None, typer.Argument(help="Ids; none means every open match.")
    ] = None,
    consumer: Consumer = None,
    event_type: EventType = None,
    project: Project = None,
    error: Error = None,
) -> None:
    """Replay dead letters through their consumer's inbox (never twice)."""
    from tieline.cli._commands import open_store
    from tieline.cli._hub import assemble_hub

    settings = _settings()
    store = open_store(settings)
    # The consumers a worker of this hub runs (Odoo's and the workflows'
    # included), so that their letters can be replayed here.
    assembly = assemble_hub(settings, store, {"worker"})
    ids = letter_ids or [
        letter.id
        for letter in dl.list_dead_letters(
            store,
            _filter(consumer, event_type, project, None, None, error, "open", 10_000),
        )
    ]
    handlers = {name: c.handler for name, c in registered().items()}
    for letter_id in ids:
        outcome = dl.replay(store, handlers, letter_id, actor=getpass.getuser())
        console.print(f"{letter_id}: {outcome}", markup=False)
    assembly.close()
    store.close()


@deadletters_app.command()
def discard(
    letter_id: Annotated[int, typer.Argument(help="The dead letter's id.")],
    note: Annotated[str, typer.Option(help="Why it is discarded (kept with it).")],
) -> None:
    """Close a dead letter without handling it, with a note saying why."""
    from tieline.cli._commands import open_store

    store = open_store(_settings())
    dl.discard(store, letter_id, note=note, actor=getpass.getuser())
    store.close()
    console.print(f"{letter_id}: discarded")


@deadletters_app.command()
def parked(
    consumer: Annotated[
        str | None, typer.Option(help="List this consumer's parked events.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 100,
) -> None:
    """Show what consumers parked to retry later: counts, or one's events.

    A parked event is retried when due; the events of its subject wait behind
    it, in order. Nothing here needs a person unless it keeps failing: it
    becomes a dead letter when its consumer's retry policy gives up.
    """
    from tieline.cli._commands import open_store

    store = open_store(_settings())
    if consumer is None:
        table = Table("consumer", "parked", "subjects", "next attempt", "oldest")
        for summary in parking.summarise(store):
            table.add_row(
                summary.consumer,
                str(summary.parked),
                str(summary.subjects),
                _stamp(summary.next_attempt_at),
                _stamp(summary.oldest_parked_at),
            )
    else:
        table = Table("event", "type", "subject", "tries", "next attempt", "last error")
        for event in parking.list_parked(store, consumer, limit=limit):
            last = event.attempts[-1]["error"] if event.attempts else "(waits its turn)"
            table.add_row(
                event.event["id"],
                event.event["type"],
                event.subject,
                str(len(event.attempts)),
                _stamp(event.next_attempt_at),
                last,
            )
    store.close()
    console.print(table)


def _stamp(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")
