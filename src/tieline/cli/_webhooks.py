"""`tieline webhooks endpoints|messages|attempts|resend|recover`: outbound webhooks.

What each endpoint was sent and how each attempt went, from the shell; and
the two ways to send again: one message (`resend`, same `webhook-id`), or an
endpoint's held messages and those failed since a point in time (`recover`,
which also enables it). Both changes are written to the audit log as the
operating-system user who ran them (`cli:<user>`), in the change's own
transaction, like the same changes made through the API.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Column, Table
from rich.text import Text

from tieline.cli._console import console

if TYPE_CHECKING:
    from sqlalchemy import Connection

webhooks_app = typer.Typer(
    help=(
        "Outbound webhooks: endpoints, their messages and every attempt; "
        "re-send one message, or recover an endpoint from a point in time."
    ),
    no_args_is_help=True,
)

Status = Literal["pending", "delivered", "failed", "held"]


def _cell(value: object) -> Text:
    # Text, not markup: an answer's excerpt is the receiver's, not ours.
    return Text("-" if value is None else str(value))


def _stamp(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


def _read(work: Any) -> Any:
    """Run `work(connection)` on a read of the hub's store."""
    from tieline.cli._app import _settings
    from tieline.cli._commands import open_store

    store = open_store(_settings())
    try:
        with store.read() as tx:
            return _user_error(work, tx.connection)
    finally:
        store.close()


def _change(action: str, target: str, work: Any, describe: Any) -> Any:
    """Run `work(connection)` and audit it as `cli:<user>`, in one transaction.

    `describe(result)` gives the audit entry's details.
    """
    from tieline.cli._app import _settings
    from tieline.cli._commands import open_store
    from tieline.governance.runtime import build_governance

    settings = _settings()
    store, governance = open_store(settings), build_governance(settings)
    try:
        with governance.audit.transaction(store) as audited:
            result = _user_error(work, audited.transaction.connection)
            audited.record(
                actor=f"cli:{getpass.getuser()}",
                action=action,
                target=target,
                details=describe(result),
            )
        return result
    finally:
        store.close()


def _user_error(work: Any, connection: Connection) -> Any:
    """`work(connection)`, its refusals turned into one-line command errors."""
    from tieline.cli._app import CommandError
    from tieline.delivery.endpoints import EndpointDisabled
    from tieline.errors import RecordNotFound, ValidationFailed

    try:
        return work(connection)
    except (RecordNotFound, EndpointDisabled) as err:
        raise CommandError(str(err)) from err
    except ValidationFailed as err:
        shown = f"--{err.field}: {err.reason}" if err.field else str(err)
        raise CommandError(shown) from err


@webhooks_app.command("endpoints")
def endpoints() -> None:
    """List the endpoints: id, host, state and what they subscribe to."""
    from urllib.parse import urlsplit

    from tieline.delivery.endpoints import list_endpoints

    table = Table(
        Column("id", no_wrap=True, min_width=36),
        "host",
        "status",
        "event types",
        "disabled because",
    )
    for endpoint in _read(list_endpoints):
        table.add_row(
            _cell(endpoint.id),
            # The host only: a webhook URL often carries a token in its path.
            _cell(urlsplit(endpoint.url).hostname),
            _cell(endpoint.status),
            _cell(", ".join(endpoint.event_types)),
            _cell(endpoint.disabled_reason),
        )
    console.print(table)


@webhooks_app.command("messages")
def messages(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id.")],
    status: Annotated[
        Status | None,
        typer.Option(help="pending (first try or retry), delivered, failed, held."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.", min=1)] = 50,
) -> None:
    """An endpoint's messages, newest first, with their tries and last outcome."""
    from tieline.delivery.endpoints import get_endpoint_in
    from tieline.delivery.messages import list_messages

    def work(connection: Connection) -> Any:
        get_endpoint_in(connection, endpoint_id)
        return list_messages(connection, endpoint_id, status=status, limit=limit)

    table = Table(
        # Never shortened: the id is what `attempts` and `resend` take.
        Column("message (webhook-id)", no_wrap=True, min_width=36),
        "event type",
        Column("status", no_wrap=True, min_width=9),
        "tries",
        "next attempt",
        "last code",
        "last error",
        "created",
    )
    for message in _read(work):
        table.add_row(
            _cell(message.id),
            _cell(message.event_type),
            _cell(message.status),
            _cell(message.attempts),
            _cell(_stamp(message.next_attempt_at)),
            _cell(message.last_status_code),
            _cell(message.last_error),
            _cell(_stamp(message.created_at)),
        )
    console.print(table)


@webhooks_app.command("attempts")
def attempts(
    message_id: Annotated[str, typer.Argument(help="The message's webhook-id.")],
) -> None:
    """Every attempt at one message: time, status, latency, answer, error."""
    from tieline.delivery.messages import attempts_for, get_message

    def work(connection: Connection) -> Any:
        return get_message(connection, message_id), attempts_for(connection, message_id)

    message, tries = _read(work)
    console.print(
        Text(
            f"{message.id}: {message.status} after {message.attempts} attempt(s), "
            f"event {message.event_id} ({message.event_type}) "
            f"for endpoint {message.endpoint_id}"
        )
    )
    table = Table("#", "started", "status", "ms", "outcome", "error", "answer")
    for attempt in tries:
        table.add_row(
            _cell(attempt.attempt),
            _cell(_stamp(attempt.started_at)),
            _cell(attempt.status_code),
            _cell(f"{attempt.latency_ms:.1f}"),
            _cell(attempt.outcome),
            _cell(attempt.error),
            _cell(attempt.response_excerpt),
        )
    console.print(table)


@webhooks_app.command("resend")
def resend(
    message_id: Annotated[str, typer.Argument(help="The message's webhook-id.")],
) -> None:
    """Send one message again now, with its same webhook-id (audited)."""
    from tieline.delivery.endpoints import resend_in

    _change(
        "webhook.message_resent",
        f"webhook_message:{message_id}",
        lambda connection: resend_in(connection, message_id),
        lambda endpoint_id: {"endpoint_id": endpoint_id},
    )
    console.print(Text(f"{message_id}: queued"))


@webhooks_app.command("recover")
def recover(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id.")],
    since: Annotated[
        str,
        typer.Option(help="ISO 8601 time; failed messages created since then."),
    ],
) -> None:
    """Enable an endpoint; send its held messages and those failed since `--since`.

    A time without an offset is taken as UTC. Every message goes with its same
    webhook-id, so a receiver that de-duplicates takes each once (audited).
    """
    from tieline.delivery.endpoints import recover_in

    point = _since(since)
    queued = _change(
        "webhook.endpoint_recovered",
        f"webhook_endpoint:{endpoint_id}",
        lambda connection: recover_in(connection, endpoint_id, point),
        lambda queued: {"since": point.isoformat(), "queued": queued},
    )
    console.print(Text(f"{endpoint_id}: enabled, {queued} message(s) queued"))


def _since(text: str) -> datetime:
    from tieline.cli._app import CommandError

    try:
        point = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--since: {text!r} is not an ISO 8601 time (2026-05-04T08:00:00Z)"
        ) from None
    return point.replace(tzinfo=UTC) if point.tzinfo is None else point
