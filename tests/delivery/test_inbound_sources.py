"""Inbound sources as an operator manages them: forwarded messages, processors
bound by name, filters on the source, rotation with an overlap, removal."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from tieline.api import create_app
from tieline.delivery import create_endpoint, inbound
from tieline.delivery.inbound import (
    InboundMessage,
    Scheme,
    SourceExists,
    add_source,
    declare_processor,
    inbound_consumer,
    register_processor,
    remove_source,
    reset_processors,
    rotate_source_secret,
    summarise_sources,
)
from tieline.errors import RecordNotFound, ValidationFailed
from tieline.events import ConsumerWorker, SqlLogBus
from tieline.events.deadletters import DeadLetterFilter, list_dead_letters
from tieline.store import Store, Transaction
from tieline.store._delivery_schema import inbound_messages
from tieline.store._schema import outbox
from tieline.testing.waiting import drain

from .conftest import fan_out, run_until
from .sink import Sink
from .test_dispatch import _delivered, _dispatcher

BODY = json.dumps({"diary": "D-12", "weather": "rain"}).encode()


@pytest.fixture
def client(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The API over `store`; no processor left registered or declared after."""
    monkeypatch.setattr(inbound, "_declared", dict(inbound.known_processors()))
    with TestClient(create_app(store)) as running:
        yield running
    reset_processors()


def standard(secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    """Headers signed by the reference Standard Webhooks library."""
    when = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
        "content-type": "application/json",
    }


def hmac_signed(secret: str, body: bytes) -> dict[str, str]:
    """Headers of a plain HMAC-SHA256 sender."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-signature": f"sha256={digest}", "content-type": "application/json"}


def process_all(store: Store) -> None:
    """Run the inbound consumer until it handled every event it has."""
    bus = SqlLogBus(store, poll_interval=0.01)
    consumer = inbound_consumer()
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.05)
    (feed,) = bus.feeds(consumer.subscription)
    try:
        drain(store, worker, consumer, feed)
    finally:
        worker.close()


def states(store: Store) -> dict[str, str]:
    """Each inbox message's state, by source."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(inbound_messages)).all()
    return {row.source: row.status for row in rows}


def received_events(store: Store) -> list[dict[str, Any]]:
    """Every `tieline.inbound.received` event, oldest first."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(outbox.c.envelope)
            .where(outbox.c.type == "tieline.inbound.received")
            .order_by(outbox.c.seq)
        ).all()
    return [json.loads(row.envelope) for row in rows]


class TestForwarding:
    def test_a_message_of_a_source_without_processor_is_forwarded_as_its_event(
        self, store: Store, client: TestClient
    ) -> None:
        # Given a source added with no processor
        source = add_source(store, "site-diary", Scheme.STANDARD)

        # When it sends a signed message and the inbound consumer runs
        answer = client.post(
            "/hooks/site-diary",
            content=BODY,
            headers=standard(source.secret, BODY, "m1"),
        )
        process_all(store)

        # Then it is forwarded, not dead-lettered, and its event names the source
        assert answer.status_code == 202
        assert states(store) == {"site-diary": "forwarded"}
        assert list_dead_letters(store, DeadLetterFilter(consumer="inbound")) == []
        (event,) = received_events(store)
        assert event["data"]["source"] == "site-diary"
        assert event["data"]["body"] == json.loads(BODY)
        assert event["subject"] == f"inbound/site-diary/{event['data']['inbound_id']}"

    def test_an_endpoint_filtered_on_a_source_receives_only_that_sources_events(
        self, store: Store, client: TestClient, sink: Sink, secret: str
    ) -> None:
        # Given two senders and an endpoint that wants one of them
        diary = add_source(store, "site-diary", Scheme.STANDARD)
        portal = add_source(store, "supplier-portal", Scheme.HMAC)
        create_endpoint(
            store,
            sink.url("/diary"),
            event_types=["tieline.inbound.received"],
            filters={"source": "site-diary"},
            secret=secret,
        )

        # When both send
        answers = [
            client.post(
                "/hooks/site-diary",
                content=BODY,
                headers=standard(diary.secret, BODY, "d1"),
            ),
            client.post(
                "/hooks/supplier-portal",
                content=BODY,
                headers=hmac_signed(portal.secret, BODY),
            ),
        ]
        process_all(store)
        fan_out(store)
        run_until(_dispatcher(store), lambda: _delivered(store, 1))

        # Then the endpoint gets the diary's message only
        assert [a.status_code for a in answers] == [202, 202]
        diary_id = answers[0].json()["id"]
        assert sink.seen.taken_events["/diary"] == [diary_id]
        (data,) = sink.seen.taken_data["/diary"]
        assert data["body"] == json.loads(BODY)
        assert states(store) == {
            "site-diary": "forwarded",
            "supplier-portal": "forwarded",
        }


class TestProcessors:
    def test_a_source_bound_to_an_unknown_processor_is_refused(
        self, store: Store
    ) -> None:
        with pytest.raises(ValidationFailed) as refused:
            add_source(store, "procore", Scheme.HMAC, processor="no-such-thing")

        assert refused.value.field == "processor"
        assert "no-such-thing" in refused.value.reason
        assert summarise_sources(store) == []

    def test_a_source_bound_to_a_declared_processor_goes_through_it(
        self, store: Store, client: TestClient
    ) -> None:
        seen: list[InboundMessage] = []

        def remember(_tx: Transaction, message: InboundMessage) -> None:
            seen.append(message)

        declare_processor("test-diary", "remembers diaries (tests)")
        register_processor("test-diary", remember)
        source = add_source(store, "diary", Scheme.HMAC, processor="test-diary")

        client.post(
            "/hooks/diary", content=BODY, headers=hmac_signed(source.secret, BODY)
        )
        process_all(store)

        assert [m.json()["diary"] for m in seen] == ["D-12"]
        assert states(store) == {"diary": "processed"}

    def test_a_worker_without_the_bound_processor_dead_letters_with_the_reason(
        self, store: Store, client: TestClient
    ) -> None:
        declare_processor("test-absent", "runs nowhere (tests)")
        source = add_source(store, "absent", Scheme.HMAC, processor="test-absent")

        client.post(
            "/hooks/absent", content=BODY, headers=hmac_signed(source.secret, BODY)
        )
        process_all(store)

        (letter,) = list_dead_letters(store, DeadLetterFilter(consumer="inbound"))
        assert "bound to the processor test-absent" in letter.reason
        assert states(store) == {"absent": "accepted"}


class TestRotation:
    def test_the_old_secret_works_during_the_overlap_and_the_new_one_at_once(
        self, store: Store, client: TestClient
    ) -> None:
        old = add_source(store, "diary", Scheme.STANDARD).secret
        client.post("/hooks/diary", content=BODY, headers=standard(old, BODY, "warm"))

        new = rotate_source_secret(store, "diary", overlap=timedelta(hours=1)).secret

        with_old = client.post(
            "/hooks/diary", content=BODY, headers=standard(old, BODY, "m-old")
        )
        with_new = client.post(
            "/hooks/diary", content=BODY, headers=standard(new, BODY, "m-new")
        )
        assert (with_old.status_code, with_new.status_code) == (202, 202)
        assert new != old

    def test_the_old_secret_is_refused_once_the_overlap_ended(
        self, store: Store, client: TestClient
    ) -> None:
        old = add_source(store, "diary", Scheme.HMAC).secret
        new = rotate_source_secret(store, "diary", overlap=timedelta(0)).secret

        with_old = client.post(
            "/hooks/diary", content=BODY, headers=hmac_signed(old, BODY)
        )
        with_new = client.post(
            "/hooks/diary", content=BODY, headers=hmac_signed(new, BODY)
        )

        assert (with_old.status_code, with_new.status_code) == (401, 202)

    def test_a_secret_rotated_by_another_process_works_without_waiting(
        self, store: Store, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        old = add_source(store, "diary", Scheme.HMAC).secret
        client.post("/hooks/diary", content=BODY, headers=hmac_signed(old, BODY))
        receiver = client.app.hooks.receiver  # type: ignore[attr-defined]
        seen = inbound._generation

        new = rotate_source_secret(store, "diary").secret
        monkeypatch.setattr(inbound, "_generation", seen)
        receiver._loaded = time.monotonic() - 2
        body = b'{"n": 2}'
        answer = client.post(
            "/hooks/diary", content=body, headers=hmac_signed(new, body)
        )

        assert answer.status_code == 202


class TestRegistry:
    def test_a_removed_source_is_refused_at_once(
        self, store: Store, client: TestClient
    ) -> None:
        source = add_source(store, "diary", Scheme.HMAC)
        first = client.post(
            "/hooks/diary", content=BODY, headers=hmac_signed(source.secret, BODY)
        )

        remove_source(store, "diary")
        body = b'{"n": 2}'
        after = client.post(
            "/hooks/diary", content=body, headers=hmac_signed(source.secret, body)
        )

        assert (first.status_code, after.status_code) == (202, 404)
        with pytest.raises(RecordNotFound):
            remove_source(store, "diary")

    @pytest.mark.parametrize(
        "name", ["", "-lead", "has space", "slash/in", "é-accent", "x" * 64, "a.b"]
    )
    def test_a_name_that_is_not_a_url_segment_is_refused(
        self, store: Store, name: str
    ) -> None:
        with pytest.raises(ValidationFailed) as refused:
            add_source(store, name, Scheme.HMAC)

        assert refused.value.field == "name"

    def test_a_second_source_of_the_same_name_is_refused(self, store: Store) -> None:
        first = add_source(store, "diary", Scheme.HMAC)

        with pytest.raises(SourceExists) as refused:
            add_source(store, "diary", Scheme.STANDARD)

        assert refused.value.field == "name"
        (kept,) = summarise_sources(store)
        assert (kept.name, kept.scheme) == ("diary", Scheme.HMAC)
        assert inbound.load_sources(store)["diary"].secret == first.secret

    def test_sources_are_listed_with_their_messages_by_state_and_no_secret(
        self, store: Store, client: TestClient
    ) -> None:
        source = add_source(store, "diary", Scheme.HMAC, id_header="X-Diary-Id")
        add_source(store, "idle", Scheme.TOKEN)
        for n in range(3):
            body = json.dumps({"n": n}).encode()
            client.post(
                "/hooks/diary", content=body, headers=hmac_signed(source.secret, body)
            )
        process_all(store)

        diary, idle = summarise_sources(store)

        assert (diary.name, diary.messages, diary.id_header) == (
            "diary",
            {"forwarded": 3},
            "x-diary-id",
        )
        assert diary.last_received_at is not None
        assert (idle.name, idle.messages, idle.last_received_at) == ("idle", {}, None)
        assert source.secret not in repr(diary) + repr(source)
