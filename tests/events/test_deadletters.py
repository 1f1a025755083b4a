"""Dead letters: filtered, inspected, replayed once, discarded with a note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table

from tieline.errors import RecordNotFound, ValidationFailed
from tieline.events import handle_once
from tieline.events.deadletters import (
    Attempt,
    DeadLetterFilter,
    discard,
    get_dead_letter,
    list_dead_letters,
    record,
    replay,
)
from tieline.store import Store, Transaction

from .conftest import count_effects, record_effect


def _event(n: int, kind: str = "commitment", project: str = "p-1") -> dict[str, Any]:
    return {
        "id": f"event-{n}",
        "type": f"tieline.{kind}.approved",
        "subject": f"{kind}/{n}",
        "data": {"n": n, "project_id": project},
    }


def _bury(store: Store, consumer: str, event: dict[str, Any], error: str) -> int:
    attempt = Attempt(datetime.now(UTC), error, "retryable")
    with store.transaction() as tx:
        record(tx.connection, consumer, event, [attempt], f"gave up: {error}")
    (letter,) = list_dead_letters(
        store, DeadLetterFilter(consumer=consumer, status=None, limit=1000)
    )[-1:]
    return letter.id


def test_dead_letters_filter_by_consumer_type_project_time_and_error(
    store: Store,
) -> None:
    _bury(store, "odoo-push", _event(1), "OdooDown: 502")
    _bury(store, "odoo-push", _event(2, "supplier_invoice", "p-2"), "Mapping: tax")
    _bury(store, "webhooks", _event(3), "Timeout: 30s")

    def ids(**where: Any) -> list[str]:
        return [d.event_id for d in list_dead_letters(store, DeadLetterFilter(**where))]

    assert ids() == ["event-1", "event-2", "event-3"]
    assert ids(consumer="odoo-push") == ["event-1", "event-2"]
    assert ids(event_type="tieline.supplier_invoice.*") == ["event-2"]
    assert ids(project_id="p-1") == ["event-1", "event-3"]
    assert ids(error="Timeout") == ["event-3"]
    assert ids(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert ids(until=datetime.now(UTC) + timedelta(minutes=1)) == ids()


def test_a_dead_letter_shows_its_event_and_attempts(store: Store) -> None:
    letter_id = _bury(store, "odoo-push", _event(1), "OdooDown: 502")
    # A second failure of the same event adds its attempt to the same letter.
    _bury(store, "odoo-push", _event(1), "OdooDown: 503")

    letter = get_dead_letter(store, letter_id)

    assert letter.event == _event(1)
    assert [a["error"] for a in letter.attempts] == ["OdooDown: 502", "OdooDown: 503"]
    assert letter.reason == "gave up: OdooDown: 503"
    assert letter.error_type == "OdooDown"
    assert letter.status == "open"
    with pytest.raises(RecordNotFound):
        get_dead_letter(store, letter_id + 99)


def test_replay_goes_through_the_inbox_and_never_posts_twice(
    store: Store, effects_table: Table
) -> None:
    handler = record_effect("odoo-push")
    # Given an event that was in fact handled after its dead letter was written
    letter_id = _bury(store, "odoo-push", _event(1), "OdooDown: 502")
    handle_once(store, "odoo-push", handler, _event(1))

    # When it is replayed
    outcome = replay(store, {"odoo-push": handler}, letter_id, actor="ops@site")

    # Then the inbox recognised it: one effect, and the letter is closed
    assert outcome == "duplicate"
    assert count_effects(store) == 1
    letter = get_dead_letter(store, letter_id)
    assert (letter.status, letter.resolved_by) == ("replayed", "ops@site")


def test_a_failed_replay_keeps_the_letter_open_with_the_attempt(store: Store) -> None:
    def still_down(tx: Transaction, event: dict[str, Any]) -> None:
        raise ConnectionError("Odoo refused the connection")

    letter_id = _bury(store, "odoo-push", _event(1), "OdooDown: 502")

    outcome = replay(store, {"odoo-push": still_down}, letter_id, actor="ops")

    assert outcome == "failed: ConnectionError: Odoo refused the connection"
    letter = get_dead_letter(store, letter_id)
    assert letter.status == "open"
    assert len(letter.attempts) == 2
    with pytest.raises(ValidationFailed, match="no consumer named odoo-push"):
        replay(store, {}, letter_id, actor="ops")


def test_a_discard_needs_a_note_and_closes_the_letter(store: Store) -> None:
    letter_id = _bury(store, "webhooks", _event(3), "Timeout: 30s")

    with pytest.raises(ValidationFailed, match="needs a note"):
        discard(store, letter_id, note="  ", actor="ops")
    discard(store, letter_id, note="endpoint retired by the supplier", actor="ops")

    letter = get_dead_letter(store, letter_id)
    assert (letter.status, letter.note) == (
        "discarded",
        "endpoint retired by the supplier",
    )
    assert list_dead_letters(store, DeadLetterFilter()) == []
    with pytest.raises(ValidationFailed, match="discarded, not open"):
        discard(store, letter_id, note="again", actor="ops")
