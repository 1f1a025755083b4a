"""Endpoints: subscriptions and filters, held messages, enable, recover, resend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tieline.delivery import (
    EndpointDisabled,
    create_endpoint,
    disable,
    enable,
    get_endpoint,
    recover,
    resend,
    rotate_secret,
)
from tieline.delivery.endpoints import secrets_in_force
from tieline.delivery.signing import message_id
from tieline.errors import RecordNotFound, ValidationFailed
from tieline.store import Store
from tieline.store._delivery_schema import webhook_endpoints, webhook_messages

from .conftest import emit, fan_out, message_states, messages


def test_each_event_is_queued_once_per_endpoint_whose_subscription_matches(
    store: Store,
) -> None:
    # Given one endpoint for everything, one for project p1 only, one for suppliers
    every, _ = create_endpoint(store, "http://127.0.0.1:9/all")
    p1, _ = create_endpoint(
        store, "http://127.0.0.1:9/p1", filters={"project_id": "p1"}
    )
    create_endpoint(store, "http://127.0.0.1:9/s", event_types=["tieline.supplier.>"])
    # When 30 commitment events over three projects are fanned out (twice)
    ids = emit(store, 30, projects=3)
    fan_out(store)
    fan_out(store)
    # Then the first endpoint has 30 messages, the second 10, the third none
    rows = messages(store)
    by_endpoint = {
        e.id: [r for r in rows if r["endpoint_id"] == e.id] for e in (every, p1)
    }
    assert len(rows) == 40
    # (lanes of different records run in parallel, so compare as sets)
    assert sorted(r["event_id"] for r in by_endpoint[every.id]) == sorted(ids)
    assert sorted(r["event_id"] for r in by_endpoint[p1.id]) == sorted(ids[1::3])
    assert all(
        r["message_id"] == message_id(r["endpoint_id"], r["event_id"]) for r in rows
    )
    assert message_states(store) == {"pending": 40}


def test_a_disabled_endpoint_holds_its_messages_until_enabled(store: Store) -> None:
    endpoint, _ = create_endpoint(store, "http://127.0.0.1:9/x")
    emit(store, 3)
    fan_out(store)

    disable(store, endpoint.id, reason="receiver moving")
    emit(store, 2)
    fan_out(store)
    assert message_states(store) == {"held": 5}
    assert get_endpoint(store, endpoint.id).disabled_reason == "receiver moving"

    assert enable(store, endpoint.id) == 5
    assert message_states(store) == {"pending": 5}


def test_recover_sends_again_what_failed_since_a_point_in_time(store: Store) -> None:
    endpoint, _ = create_endpoint(store, "http://127.0.0.1:9/x")
    emit(store, 4)
    fan_out(store)
    rows = messages(store)
    cut = datetime.now(UTC) - timedelta(hours=1)
    with store.transaction() as tx:
        # Two failed long ago, two failed within the hour.
        for row, created in zip(
            rows,
            [cut - timedelta(hours=1)] * 2 + [cut + timedelta(minutes=5)] * 2,
            strict=True,
        ):
            tx.connection.execute(
                webhook_messages.update()
                .where(webhook_messages.c.id == row["id"])
                .values(status="failed", created_at=created)
            )
    disable(store, endpoint.id, reason="kept failing")

    assert recover(store, endpoint.id, since=cut) == 2
    assert message_states(store) == {"failed": 2, "pending": 2}
    assert get_endpoint(store, endpoint.id).status == "enabled"


def test_resend_queues_one_message_again_with_its_id(store: Store) -> None:
    create_endpoint(store, "http://127.0.0.1:9/x")
    emit(store, 2)
    fan_out(store)
    first = messages(store)[0]
    with store.transaction() as tx:
        tx.connection.execute(
            webhook_messages.update().values(status="delivered", attempts=1)
        )

    resend(store, first["message_id"])

    again = messages(store)
    assert [r["status"] for r in again] == ["pending", "delivered"]
    assert again[0]["message_id"] == first["message_id"]
    with pytest.raises(RecordNotFound):
        resend(store, "msg_nope")


def test_resend_refuses_a_message_of_a_disabled_endpoint(store: Store) -> None:
    endpoint, _ = create_endpoint(store, "http://127.0.0.1:9/x")
    emit(store, 1)
    fan_out(store)
    disable(store, endpoint.id, reason="receiver moving")

    with pytest.raises(EndpointDisabled) as caught:
        resend(store, messages(store)[0]["message_id"])

    assert "receiver moving" in str(caught.value)
    assert message_states(store) == {"held": 1}


def test_recover_refuses_a_time_in_the_future(store: Store) -> None:
    endpoint, _ = create_endpoint(store, "http://127.0.0.1:9/x")
    disable(store, endpoint.id, reason="down")

    with pytest.raises(ValidationFailed) as caught:
        recover(store, endpoint.id, since=datetime.now(UTC) + timedelta(hours=1))

    assert caught.value.field == "since"
    assert get_endpoint(store, endpoint.id).status == "disabled"


def test_rotation_keeps_the_old_secret_signing_for_the_overlap(store: Store) -> None:
    endpoint, old = create_endpoint(store, "http://127.0.0.1:9/x")

    new = rotate_secret(store, endpoint.id, overlap=timedelta(hours=1))

    with store.engine.connect() as connection:
        row = (
            connection.execute(
                webhook_endpoints.select().where(webhook_endpoints.c.id == endpoint.id)
            )
            .one()
            ._mapping
        )
    now = datetime.now(UTC)
    assert secrets_in_force(row, now) == [new, old]
    assert secrets_in_force(row, now + timedelta(hours=2)) == [new]


@pytest.mark.parametrize(
    ("url", "options", "field"),
    [
        ("ftp://host/x", {}, "url"),
        ("http://h/x", {"event_types": []}, "event_types"),
        ("http://h/x", {"filters": {"colour": "red"}}, "filters"),
        ("http://h/x", {"rate_limit": 0.0}, "rate_limit"),
    ],
)
def test_a_bad_endpoint_is_refused_naming_the_field(
    store: Store, url: str, options: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create_endpoint(store, url, **options)  # type: ignore[arg-type]

    assert caught.value.field == field
