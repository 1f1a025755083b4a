"""Inbound webhooks: verified on the raw body, de-duplicated, answered fast,
processed after by the inbound consumer."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from tieline.api import create_app
from tieline.delivery import Scheme, add_source, inbound_consumer, register_processor
from tieline.delivery.inbound import InboundMessage, reset_processors
from tieline.delivery.signing import new_secret
from tieline.events import ConsumerWorker, SqlLogBus
from tieline.events.deadletters import DeadLetterFilter, list_dead_letters
from tieline.store import Store, Transaction
from tieline.store._delivery_schema import inbound_messages
from tieline.store._schema import outbox
from tieline.testing.waiting import drain

BODY = json.dumps({"type": "invoice.paid", "invoice": "INV-7"}).encode()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    """The API over `store`."""
    with TestClient(create_app(store)) as running:
        yield running


def _signed(secret: str, msg_id: str, body: bytes, when: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def _stored(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(inbound_messages).order_by(inbound_messages.c.received_at)
        ).all()
    return [dict(row._mapping) for row in rows]


def _events(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.type == "tieline.inbound.received")
            ).scalar_one()
        )


def _refused(source: str, reason: str) -> float:
    labels = {"source": source, "reason": reason}
    return REGISTRY.get_sample_value("tieline_inbound_refused_total", labels) or 0.0


def test_a_message_signed_by_the_reference_library_is_accepted_and_stored(
    store: Store, client: TestClient
) -> None:
    source = add_source(store, "billing", Scheme.STANDARD)
    now = datetime.now(UTC)

    response = client.post(
        "/hooks/billing", content=BODY, headers=_signed(source.secret, "m-1", BODY, now)
    )

    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    (row,) = _stored(store)
    assert (row["source"], row["dedup_key"], row["body"]) == ("billing", "m-1", BODY)
    assert row["id"] == response.json()["id"]
    assert _events(store) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("tampered_body", "bad_signature"),
        ("wrong_secret", "bad_signature"),
        ("stale_timestamp", "stale_timestamp"),
        ("future_timestamp", "stale_timestamp"),
        ("no_signature", "missing_headers"),
    ],
)
def test_a_request_failing_verification_is_refused_counted_and_not_stored(
    store: Store, client: TestClient, change: str, reason: str
) -> None:
    source = add_source(store, "billing", Scheme.STANDARD, tolerance=300)
    now = datetime.now(UTC)
    secret = new_secret() if change == "wrong_secret" else source.secret
    when = {
        "stale_timestamp": now - timedelta(minutes=6),
        "future_timestamp": now + timedelta(minutes=6),
    }.get(change, now)
    headers = _signed(secret, "m-2", BODY, when)
    body = BODY.replace(b"INV-7", b"INV-8") if change == "tampered_body" else BODY
    if change == "no_signature":
        del headers["webhook-signature"]
    before = _refused("billing", reason)

    response = client.post("/hooks/billing", content=body, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"status": "refused", "reason": reason}
    assert _refused("billing", reason) == before + 1
    assert _stored(store) == []
    assert _events(store) == 0


def test_a_replayed_id_is_answered_as_a_duplicate_and_stored_once(
    store: Store, client: TestClient
) -> None:
    source = add_source(store, "billing", Scheme.STANDARD)
    headers = _signed(source.secret, "m-3", BODY, datetime.now(UTC))

    first = client.post("/hooks/billing", content=BODY, headers=headers)
    again = client.post("/hooks/billing", content=BODY, headers=headers)

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"status": "duplicate"}
    assert len(_stored(store)) == 1
    assert _events(store) == 1


def test_plain_hmac_over_the_raw_body_with_the_senders_id(
    store: Store, client: TestClient
) -> None:
    source = add_source(
        store,
        "estimating",
        Scheme.HMAC,
        id_header="X-Delivery",
        signature_header="X-Hub",
    )
    good = hmac.new(source.secret.encode(), BODY, hashlib.sha256).hexdigest()

    ok = client.post(
        "/hooks/estimating",
        content=BODY,
        headers={"x-hub": f"sha256={good}", "x-delivery": "d-1"},
    )
    bad = client.post(
        "/hooks/estimating",
        content=BODY + b" ",
        headers={"x-hub": f"sha256={good}", "x-delivery": "d-2"},
    )

    assert (ok.status_code, bad.status_code) == (202, 401)
    assert [r["dedup_key"] for r in _stored(store)] == ["d-1"]


def _odoo_body(email: str, write_date: str) -> bytes:
    # The shape Odoo's "Send Webhook Notification" posts: sorted keys, no id.
    return json.dumps(
        {
            "_action": "Send Webhook Notification(#9)",
            "_id": 41,
            "_model": "res.partner",
            "email": email,
            "id": 41,
            "name": "Test Vendor",
            "write_date": write_date,
        },
        sort_keys=True,
    ).encode()


def test_odoo_repeats_of_one_change_are_kept_once_by_a_key_from_the_body(
    store: Store, client: TestClient
) -> None:
    source = add_source(store, "odoo", Scheme.TOKEN)
    create = _odoo_body("a@vendor.test", "2026-12-03 15:50:03.541269")
    write = _odoo_body("b@vendor.test", "2026-12-03 15:50:04.663165")
    url = f"/hooks/odoo/{source.secret}"

    answers = [client.post(url, content=create).status_code for _ in range(14)]
    answers += [client.post(url, content=write).status_code for _ in range(2)]

    assert answers == [202] + [200] * 13 + [202, 200]
    assert [r["body"] for r in _stored(store)] == [create, write]


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/hooks/odoo/not-the-token", 401, "bad_token"),
        ("/hooks/odoo", 401, "missing_token"),
        ("/hooks/nobody/x", 404, "unknown_source"),
    ],
)
def test_a_wrong_missing_token_or_unknown_source_is_refused(
    store: Store, client: TestClient, path: str, status: int, reason: str
) -> None:
    add_source(store, "odoo", Scheme.TOKEN)

    response = client.post(path, content=_odoo_body("x@y.test", "now"))

    assert (response.status_code, response.json()["reason"]) == (status, reason)
    assert _stored(store) == []


def test_the_token_may_come_in_a_header_and_bad_json_is_refused_after_it(
    store: Store, client: TestClient
) -> None:
    source = add_source(store, "field", Scheme.TOKEN)
    headers = {"x-tieline-token": source.secret, "content-type": "application/json"}

    ok = client.post("/hooks/field", content=b'{"n": 1}', headers=headers)
    broken = client.post("/hooks/field", content=b'{"n": ', headers=headers)
    not_a_number = client.post("/hooks/field", content=b'{"n": NaN}', headers=headers)
    too_deep = client.post("/hooks/field", content=b"[" * 100_000, headers=headers)

    assert (ok.status_code, broken.status_code) == (202, 400)
    assert (not_a_number.status_code, too_deep.status_code) == (400, 400)
    assert len(_stored(store)) == 1


def test_a_body_over_the_limit_is_refused(store: Store, client: TestClient) -> None:
    source = add_source(store, "field", Scheme.TOKEN)

    response = client.post(
        f"/hooks/field/{source.secret}", content=b"[" + b"1," * (1 << 20) + b"1]"
    )

    assert response.status_code == 413
    assert _stored(store) == []


def _process_all(store: Store) -> ConsumerWorker:
    bus = SqlLogBus(store, poll_interval=0.01)
    consumer = inbound_consumer()
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.05)
    (feed,) = bus.feeds(consumer.subscription)
    try:
        drain(store, worker, consumer, feed)
    finally:
        worker.close()
    return worker


def test_the_inbound_consumer_runs_the_sources_processor_once(
    store: Store, client: TestClient
) -> None:
    seen: list[InboundMessage] = []

    def remember(_tx: Transaction, message: InboundMessage) -> None:
        seen.append(message)

    register_processor("odoo", remember)
    source = add_source(store, "odoo", Scheme.TOKEN)
    add_source(store, "orphan", Scheme.TOKEN, secret="orphan-token")
    try:
        client.post(f"/hooks/odoo/{source.secret}", content=_odoo_body("a@b.c", "1"))
        client.post("/hooks/orphan/orphan-token", content=b"{}")

        _process_all(store)
        _process_all(store)
    finally:
        reset_processors()

    # A source without a processor is forwarded as its event, not dead-lettered.
    assert [m.json()["email"] for m in seen] == ["a@b.c"]
    assert [r["status"] for r in _stored(store)] == ["processed", "forwarded"]
    assert list_dead_letters(store, DeadLetterFilter(consumer="inbound")) == []


@pytest.mark.shared_data
def test_what_odoo_really_sent_is_kept_once_per_change(
    store: Store, client: TestClient, shared_data: Path
) -> None:
    recording = shared_data.parent / "odoo-recordings" / "090-webhook-outgoing.json"
    if not recording.exists():
        pytest.skip(f"no Odoo recording at {recording}")
    sent = [
        e["request_body_raw"].encode()
        for e in json.loads(recording.read_text())
        if e.get("direction") == "odoo-to-listener" and e["path"] == "/hooks/vendor"
    ]
    source = add_source(store, "odoo", Scheme.TOKEN)

    answers = [
        client.post(f"/hooks/odoo/{source.secret}", content=body).status_code
        for body in sent
    ]

    # 14 notifications for one create, then 2 for one write: two changes.
    assert len(sent) == 16
    assert answers.count(202) == 2
    assert [r["body"] for r in _stored(store)] == sorted(set(sent), key=sent.index)
