"""The outbox holds exactly one event per change, written in the same transaction."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tieline._context import unit_of_work
from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    LegalEntity,
    Origin,
)
from tieline.store import Action, Store
from tieline.store._schema import outbox, records


def _entity(name: str = "Harbour Civil Ltd") -> LegalEntity:
    return LegalEntity(
        origin=Origin(system="test", key="HC"),
        code="HC",
        name=name,
        base_currency="GBP",
    )


def _commitment(status: CommitmentStatus = CommitmentStatus.DRAFT) -> Commitment:
    return Commitment(
        origin=Origin(system="test", key="PO-1"),
        number="PO-1",
        commitment_type=CommitmentType.PURCHASE_ORDER,
        legal_entity_id="entity",
        project_id="project",
        supplier_id="supplier",
        currency="GBP",
        status=status,
        lines=[
            CommitmentLine(
                line_key="1",
                project_id="project",
                cost_code="03 30 00",
                quantity=Decimal("12.5"),
                unit="m3",
                unit_price=Decimal("98.40"),
                amount=Decimal("1230.00"),
            )
        ],
    )


def _events(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).order_by(outbox.c.seq))
        return [json.loads(row.envelope) for row in rows]


def test_each_change_writes_exactly_one_event(store: Store) -> None:
    # Given a new record, saved, then saved again unchanged, then changed
    with unit_of_work("corr-1"), store.transaction() as tx:
        first = tx.save(_entity(), actor="test")
        again = tx.save(_entity(), actor="test")
        renamed = tx.save(_entity("Harbour Civil Group Ltd"), actor="test")

    # Then the outbox holds one event for the creation and one for the change
    assert (first.action, again.action, renamed.action) == (
        Action.CREATED,
        Action.UNCHANGED,
        Action.UPDATED,
    )
    events = _events(store)
    assert [e["type"] for e in events] == [
        "tieline.legal_entity.created",
        "tieline.legal_entity.updated",
    ]
    assert all(e["correlationid"] == "corr-1" for e in events)
    assert events[1]["subject"] == f"legal_entity/{first.record.id}"
    assert events[1]["data"]["name"] == "Harbour Civil Group Ltd"  # type: ignore[index]
    assert events[1]["data"]["version"] == 2  # type: ignore[index]


def test_events_carry_the_cloudevents_attributes(store: Store) -> None:
    with unit_of_work("corr-2", causation_id="request-9"), store.transaction() as tx:
        tx.save(_entity(), actor="test")

    (event,) = _events(store)
    assert event["specversion"] == "1.0"
    assert event["source"] == "urn:tieline"
    assert event["causationid"] == "request-9"
    assert event["datacontenttype"] == "application/json"
    assert str(event["time"]).endswith("Z")
    assert {"id", "type", "subject", "data"} <= set(event)


def test_a_status_change_emits_the_status_event(store: Store) -> None:
    with store.transaction() as tx:
        tx.save(_commitment(), actor="buyer")
    with store.transaction() as tx:
        tx.save(_commitment(CommitmentStatus.APPROVED), actor="approver")

    types = [e["type"] for e in _events(store)]
    assert types == ["tieline.commitment.created", "tieline.commitment.approved"]
    approved = _events(store)[1]["data"]
    assert approved["previous_status"] == "draft"  # type: ignore[index]
    assert approved["lines"][0]["amount"] == "1230.00"  # type: ignore[index]


def test_emit_many_writes_what_emit_would_in_order(store: Store) -> None:
    with unit_of_work("corr-batch"), store.transaction() as tx:
        one = tx.emit("tieline.import.completed", "import/1", {"rows": 1})
        batch = tx.emit_many(
            ("tieline.import.completed", f"import/{n}", {"rows": n}) for n in (2, 3)
        )
        assert tx.emit_many([]) == []

    events = _events(store)
    assert [e["id"] for e in events] == [one.id, *(e.id for e in batch)]
    assert [e["subject"] for e in events] == ["import/1", "import/2", "import/3"]
    assert [e["data"] for e in events] == [{"rows": 1}, {"rows": 2}, {"rows": 3}]
    assert {e["correlationid"] for e in events} == {"corr-batch"}
    assert events[1] == json.loads(batch[0].to_json())


def test_a_failed_transaction_leaves_no_record_and_no_event(store: Store) -> None:
    # Given a transaction that saves two records and then fails
    def save_two_then_fail() -> None:
        with store.transaction() as tx:
            tx.save(_entity(), actor="test")
            tx.save(_commitment(), actor="test")
            raise RuntimeError("failure midway")

    with pytest.raises(RuntimeError, match="midway"):
        save_two_then_fail()

    # Then neither the records nor their events were kept
    with store.engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(outbox)).scalar() == 0
        )
        assert (
            connection.execute(select(func.count()).select_from(records)).scalar() == 0
        )


def test_a_record_reads_back_with_its_provenance(store: Store) -> None:
    with store.transaction() as tx:
        saved = tx.save(_commitment(), actor="import:test").record
    with store.transaction() as tx:
        loaded = tx.get(Commitment, saved.id)

    assert loaded is not None
    assert loaded.origin == Origin(system="test", key="PO-1")
    assert loaded.changed_by == "import:test"
    assert loaded.changed_at is not None
    assert loaded.changed_at.tzinfo is not None
    assert loaded.lines[0].unit_price == Decimal("98.40")
