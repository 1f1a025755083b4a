"""`save_many` leaves what a `save` per record would: rows, versions, events."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tieline._context import unit_of_work
from tieline.model import (
    CanonicalRecord,
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    Origin,
)
from tieline.store import Action, Store
from tieline.store._schema import outbox, records


def _code(code: str, name: str) -> CostCode:
    return CostCode(
        origin=Origin(system="test", key=code), system="wbs", code=code, name=name
    )


def _order(status: CommitmentStatus) -> Commitment:
    return Commitment(
        origin=Origin(system="test", key="PO-7"),
        number="PO-7",
        commitment_type=CommitmentType.PURCHASE_ORDER,
        legal_entity_id="entity",
        project_id="project",
        supplier_id="supplier",
        currency="EUR",
        status=status,
        lines=[
            CommitmentLine(
                line_key="1",
                project_id="project",
                cost_code="1.1",
                amount=Decimal("1234.50"),
            )
        ],
    )


# Batches as an import would send them: new records, a record given twice
# (changed the second time), an unchanged one, a status change.
BATCHES: list[list[CanonicalRecord]] = [
    [_code("1", "Site"), _code("1.1", "Earth"), _order(CommitmentStatus.DRAFT)],
    [
        _code("1", "Site"),
        _code("1.1", "Earthworks"),
        _code("1.2", "Drains"),
        _code("1.2", "Drainage"),
        _code("1.3", "Paving"),
        _code("1.3", "Paving"),
        _order(CommitmentStatus.APPROVED),
    ],
]


def _state(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows and events without the times and random ids that differ per run."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(records).order_by(records.c.id)).all()
        events = connection.execute(select(outbox).order_by(outbox.c.seq)).all()
    kept_rows = [
        {k: v for k, v in r._mapping.items() if k not in ("changed_at", "created_at")}
        for r in rows
    ]
    kept_events = []
    for event in events:
        envelope = json.loads(event.envelope)
        kept_events.append(
            {k: envelope[k] for k in ("type", "subject", "data", "correlationid")}
        )
    return kept_rows, kept_events


def _actions(store: Store, *, batched: bool) -> list[list[Action]]:
    actions = []
    for batch in BATCHES:
        with unit_of_work("corr"), store.transaction() as tx:
            if batched:
                changes = tx.save_many(batch, actor="import:test")
            else:
                changes = [tx.save(r, actor="import:test") for r in batch]
        actions.append([c.action for c in changes])
    return actions


def test_save_many_matches_one_save_per_record(store: Store, tmp_path: Path) -> None:
    # Given the same batches saved one by one into a second, empty store
    reference = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.migrate()
    expected_actions = _actions(reference, batched=False)

    # When they are saved with save_many
    actions = _actions(store, batched=True)

    # Then the actions, the rows and the events are the same
    assert actions == expected_actions
    assert actions[1] == [
        Action.UNCHANGED,
        Action.UPDATED,
        Action.CREATED,
        Action.UPDATED,
        Action.CREATED,
        Action.UNCHANGED,
        Action.UPDATED,
    ]
    assert _state(store) == _state(reference)
    reference.close()


def test_save_many_writes_one_event_per_change_in_order(store: Store) -> None:
    for batch in BATCHES:
        with store.transaction() as tx:
            tx.save_many(batch, actor="import:test")

    _, events = _state(store)

    assert [e["type"] for e in events] == [
        "tieline.cost_code.created",
        "tieline.cost_code.created",
        "tieline.commitment.created",
        "tieline.cost_code.updated",
        "tieline.cost_code.created",
        "tieline.cost_code.updated",
        "tieline.cost_code.created",
        "tieline.commitment.approved",
    ]
    drainage = events[5]["data"]
    assert (drainage["name"], drainage["version"]) == ("Drainage", 2)
    assert events[7]["data"]["previous_status"] == "draft"


def test_save_many_reads_stored_hashes_beyond_one_lookup_chunk(store: Store) -> None:
    # More records than one IN (...) lookup holds (500)
    batch = [_code(f"9.{i}", f"Code {i}") for i in range(1203)]
    with store.transaction() as tx:
        first = tx.save_many(batch, actor="import:test")
    with store.transaction() as tx:
        second = tx.save_many(batch, actor="import:test")

    assert {c.action for c in first} == {Action.CREATED}
    assert {c.action for c in second} == {Action.UNCHANGED}
    _, events = _state(store)
    assert len(events) == 1203
