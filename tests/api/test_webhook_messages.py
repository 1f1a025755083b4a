"""Outbound webhook messages through the API: the log, attempts, re-send, recover.

A real receiver (the delivery tests' sink, verifying every signature with the
reference library) and a real dispatcher with a quick schedule; the store is
each back-end in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from tieline.delivery import RetrySchedule, WebhookDispatcher, create_endpoint
from tieline.delivery.signing import new_secret, sign_headers
from tieline.governance import Role
from tieline.governance._schema import audit_log
from tieline.store._delivery_schema import webhook_attempts, webhook_messages

from ..delivery.conftest import emit, fan_out, run_until
from ..delivery.sink import Sink, always_ok

QUICK = RetrySchedule(delays=(0.05, 0.05, 0.05), jitter=0.0)
PATH = "/erp"


@pytest.fixture
def secret() -> str:
    """The endpoint's secret, which the sink verifies with."""
    return new_secret()


@pytest.fixture
def sink(secret: str) -> Iterator[Sink]:
    """A receiver that refuses each message's first try (500), then takes it."""
    with Sink(secret, lambda _p, _id, nth: "error" if nth == 1 else "ok") as running:
        yield running


@pytest.fixture
def operator(hub: Any) -> dict[str, str]:
    """Headers of an integration operator on every legal entity."""
    headers: dict[str, str] = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))
    return headers


@pytest.fixture
def endpoint(hub: Any, sink: Sink, secret: str) -> str:
    """An endpoint for `tieline.probe.*` events, at the sink; its id."""
    made, _ = create_endpoint(
        hub.store, sink.url(PATH), event_types=["tieline.probe.>"], secret=secret
    )
    return made.id


def _queue(hub: Any, total: int) -> list[str]:
    """`total` probe events, fanned out to the endpoints; their event ids."""
    ids = emit(hub.store, total, kind="probe")
    fan_out(hub.store)
    return ids


def _rows(hub: Any) -> list[dict[str, Any]]:
    with hub.store.engine.connect() as connection:
        rows = connection.execute(
            select(webhook_messages).order_by(webhook_messages.c.id)
        ).all()
    return [dict(row._mapping) for row in rows]


def _deliver(hub: Any, condition: Callable[[], bool]) -> None:
    dispatcher = WebhookDispatcher(hub.store, schedule=QUICK, poll_interval=0.01)
    run_until(dispatcher, condition)


def _all_delivered(hub: Any) -> Callable[[], bool]:
    return lambda: all(row["status"] == "delivered" for row in _rows(hub))


def _audited(hub: Any, action: str) -> list[tuple[str, str, str]]:
    with hub.store.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log).where(audit_log.c.action == action)
        ).all()
    return [(row.actor, row.target, row.outcome) for row in rows]


def test_a_receiver_failing_then_succeeding_shows_each_attempt(
    hub: Any, endpoint: str, operator: dict[str, str], secret: str
) -> None:
    # Given two messages whose first tries got a 500, their second a 204
    events = _queue(hub, 2)
    _deliver(hub, _all_delivered(hub))

    # When an operator lists the endpoint's messages and reads one's attempts
    listed = hub.client.get(
        f"/v1/webhook-endpoints/{endpoint}/messages", headers=operator
    )
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    one = items[0]["id"]
    read = hub.client.get(f"/v1/webhook-messages/{one}", headers=operator)
    tried = hub.client.get(f"/v1/webhook-messages/{one}/attempts", headers=operator)

    # Then each message shows two tries and its last status; the attempts
    # show the 500 with the receiver's words, then the 204
    assert sorted(item["event_id"] for item in items) == sorted(events)
    for item in items:
        assert (item["status"], item["attempts"], item["last_status_code"]) == (
            "delivered",
            2,
            204,
        )
        assert item["next_attempt_at"] is None
        assert item["event_type"] == "tieline.probe.updated"
    assert read.json() == next(item for item in items if item["id"] == one)
    attempts = tried.json()["items"]
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in attempts] == [
        (1, 500, "failed"),
        (2, 204, "delivered"),
    ]
    assert attempts[0]["error"] == "HTTP 500"
    assert attempts[0]["response_excerpt"] == "upstream broke"
    assert all(a["latency_ms"] > 0 for a in attempts)
    for answer in (listed, read, tried):
        assert secret not in answer.text
        assert "webhook-signature" not in answer.text


def test_resend_delivers_again_with_the_same_webhook_id(
    hub: Any, endpoint: str, operator: dict[str, str], sink: Sink
) -> None:
    # Given a message delivered on its second try
    (event,) = _queue(hub, 1)
    _deliver(hub, _all_delivered(hub))
    (row,) = _rows(hub)
    webhook_id = row["message_id"]

    # When an operator re-sends it, and the dispatcher runs
    answer = hub.client.post(
        f"/v1/webhook-messages/{webhook_id}/resend", headers=operator
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["queued"] == 1
    assert answer.json()["message"]["status"] == "pending"
    _deliver(hub, lambda: sink.seen.tries[(PATH, webhook_id)] == 3)
    _deliver(hub, _all_delivered(hub))

    # Then the receiver got it a third time with the same webhook-id (so it
    # took it once), the log shows the third attempt, and the re-send is audited
    assert sink.seen.ids_by_event[PATH][event] == {webhook_id}
    assert sink.seen.taken_events[PATH] == [event]
    assert sink.seen.unverified == 0
    tried = hub.client.get(
        f"/v1/webhook-messages/{webhook_id}/attempts", headers=operator
    ).json()["items"]
    assert [a["status_code"] for a in tried] == [500, 204, 204]
    assert _audited(hub, "webhook.message_resent") == [
        ("service:op", f"webhook_message:{webhook_id}", "ok")
    ]


def test_recover_queues_what_failed_since_a_time_and_not_before(
    hub: Any, endpoint: str, operator: dict[str, str], sink: Sink
) -> None:
    # Given four messages that failed all four tries: two before the cut, two
    # after; the endpoint disabled; and a receiver taking every request now
    _queue(hub, 4)
    sink.behave = always_ok
    cut = datetime.now(UTC) - timedelta(hours=1)
    rows = _rows(hub)
    # (fan-out runs records in parallel: row order is not the events' order)
    old, recent = [r["event_id"] for r in rows[:2]], [r["event_id"] for r in rows[2:]]
    with hub.store.transaction() as tx:
        for row, created in zip(
            rows,
            [cut - timedelta(hours=1)] * 2 + [cut + timedelta(minutes=5)] * 2,
            strict=True,
        ):
            tx.connection.execute(
                update(webhook_messages)
                .where(webhook_messages.c.id == row["id"])
                .values(status="failed", created_at=created, attempts=4)
            )
    path = f"/v1/webhook-endpoints/{endpoint}"
    hub.client.post(f"{path}/disable", headers=operator, json={"reason": "down"})

    # When an operator recovers the endpoint from the cut
    answer = hub.client.post(
        f"{path}/recover", headers=operator, json={"since": cut.isoformat()}
    )

    # Then the two recent ones are queued and sent, the two old ones stay failed
    assert answer.status_code == 200, answer.text
    assert answer.json()["queued"] == 2
    assert answer.json()["endpoint"]["status"] == "enabled"
    _deliver(hub, lambda: len(sink.seen.taken_events[PATH]) == 2)
    assert sorted(sink.seen.taken_events[PATH]) == sorted(recent)
    failed = hub.client.get(
        f"{path}/messages", headers=operator, params={"status": "failed"}
    ).json()["items"]
    assert sorted(item["event_id"] for item in failed) == sorted(old)
    assert [a[1:] for a in _audited(hub, "webhook.endpoint_recovered")] == [
        (f"webhook_endpoint:{endpoint}", "ok")
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"since": "2999-01-01T00:00:00Z"},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},
        {},
    ],
    ids=["future", "malformed", "no-offset", "missing"],
)
def test_recover_refuses_a_bad_since_naming_the_field(
    hub: Any, endpoint: str, operator: dict[str, str], body: dict[str, str]
) -> None:
    answer = hub.client.post(
        f"/v1/webhook-endpoints/{endpoint}/recover", headers=operator, json=body
    )

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["since"]
    assert _audited(hub, "webhook.endpoint_recovered") == []


def test_recover_refuses_unknown_fields_and_unknown_endpoints(
    hub: Any, endpoint: str, operator: dict[str, str]
) -> None:
    since = "2026-01-01T00:00:00Z"
    extra = hub.client.post(
        f"/v1/webhook-endpoints/{endpoint}/recover",
        headers=operator,
        json={"since": since, "until": since},
    )
    missing = hub.client.post(
        "/v1/webhook-endpoints/nope/recover", headers=operator, json={"since": since}
    )

    assert extra.status_code == 422
    assert [e["field"] for e in extra.json()["errors"]] == ["until"]
    assert missing.status_code == 404


def test_an_endpoints_messages_filter_by_state_and_time_and_page_newest_first(
    hub: Any, endpoint: str, operator: dict[str, str]
) -> None:
    # Given five messages queued an hour apart, the oldest two delivered
    _queue(hub, 5)
    start = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    rows = _rows(hub)
    with hub.store.transaction() as tx:
        for n, row in enumerate(rows):
            tx.connection.execute(
                update(webhook_messages)
                .where(webhook_messages.c.id == row["id"])
                .values(
                    created_at=start + timedelta(hours=n),
                    status="delivered" if n < 2 else "pending",
                )
            )
    newest_first = [row["message_id"] for row in reversed(rows)]
    url = f"/v1/webhook-endpoints/{endpoint}/messages"

    def ids(**params: Any) -> list[str]:
        answer = hub.client.get(url, headers=operator, params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    # Pages of two, newest first, until the cursor runs out
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = hub.client.get(url, headers=operator, params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first
    assert ids(status="delivered") == newest_first[3:]
    assert ids(status="pending") == newest_first[:3]
    assert ids(since="2026-05-04T11:00:00+01:00") == newest_first[:3]
    assert ids(status="held") == []

    bad_status = hub.client.get(url, headers=operator, params={"status": "lost"})
    bad_cursor = hub.client.get(url, headers=operator, params={"cursor": "nope"})
    unknown = hub.client.get("/v1/webhook-endpoints/nope/messages", headers=operator)
    assert bad_status.status_code == 422
    assert [e["field"] for e in bad_status.json()["errors"]] == ["status"]
    assert bad_cursor.status_code == 400
    assert unknown.status_code == 404


def test_an_answer_echoing_a_signature_or_secret_is_masked(
    hub: Any, endpoint: str, operator: dict[str, str], secret: str
) -> None:
    # Given a receiver that echoed the signed headers and the secret back
    _queue(hub, 1)
    (row,) = _rows(hub)
    signed = sign_headers([secret], row["message_id"], row["payload"])
    echoed = f"bad signature {signed['webhook-signature']} for {secret}"
    with hub.store.transaction() as tx:
        tx.connection.execute(
            insert(webhook_attempts).values(
                message_id=row["message_id"],
                endpoint_id=endpoint,
                attempt=1,
                started_at=datetime.now(UTC),
                status_code=401,
                latency_ms=3.5,
                outcome="failed",
                error=f"HTTP 401 {signed['webhook-signature']}",
                response_excerpt=echoed,
            )
        )

    answer = hub.client.get(
        f"/v1/webhook-messages/{row['message_id']}/attempts", headers=operator
    )

    (attempt,) = answer.json()["items"]
    assert attempt["response_excerpt"] == "bad signature *** for ***"
    assert attempt["error"] == "HTTP 401 ***"
    assert secret not in answer.text
    assert signed["webhook-signature"].partition(",")[2] not in answer.text


def test_resend_of_a_disabled_endpoints_message_or_an_unknown_one_is_refused(
    hub: Any, endpoint: str, operator: dict[str, str]
) -> None:
    _queue(hub, 1)
    (row,) = _rows(hub)
    hub.client.post(
        f"/v1/webhook-endpoints/{endpoint}/disable",
        headers=operator,
        json={"reason": "receiver moving"},
    )

    held = hub.client.post(
        f"/v1/webhook-messages/{row['message_id']}/resend", headers=operator
    )
    unknown = [
        hub.client.post("/v1/webhook-messages/msg_nope/resend", headers=operator),
        hub.client.get("/v1/webhook-messages/msg_nope", headers=operator),
        hub.client.get("/v1/webhook-messages/msg_nope/attempts", headers=operator),
    ]

    assert held.status_code == 409
    assert "receiver moving" in held.json()["detail"]
    assert [e["field"] for e in held.json()["errors"]] == ["endpoint_id"]
    assert [answer.status_code for answer in unknown] == [404] * 3
    assert _rows(hub)[0]["status"] == "held"
    assert _audited(hub, "webhook.message_resent") == []


def test_a_retried_resend_with_its_idempotency_key_answers_as_the_first(
    hub: Any, endpoint: str, operator: dict[str, str]
) -> None:
    _queue(hub, 1)
    (row,) = _rows(hub)
    url = f"/v1/webhook-messages/{row['message_id']}/resend"
    keyed = {**operator, "Idempotency-Key": "resend-1"}

    first = hub.client.post(url, headers=keyed)
    again = hub.client.post(url, headers=keyed)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_audited(hub, "webhook.message_resent")) == 1


def test_a_resend_leaves_a_running_lease_alone(hub: Any, endpoint: str) -> None:
    # Given a message a dispatcher is sending right now (its lease runs)
    _queue(hub, 1)
    (row,) = _rows(hub)
    until = datetime.now(UTC) + timedelta(minutes=5)
    with hub.store.transaction() as tx:
        tx.connection.execute(
            update(webhook_messages).values(lease_owner="w1", lease_until=until)
        )
    operator = hub.caller("op", (Role.ADMIN, "*", None))

    hub.client.post(
        f"/v1/webhook-messages/{row['message_id']}/resend", headers=operator
    )

    # Then no second dispatcher may claim it beside the first
    assert WebhookDispatcher(hub.store).claim(10) == []


def test_messages_are_refused_to_roles_without_backbone_rights(
    hub: Any, estate: Any, endpoint: str
) -> None:
    _queue(hub, 1)
    (row,) = _rows(hub)
    callers = {
        "buyer": hub.caller("buyer", (Role.BUYER, "*", None)),
        "partner": hub.caller("partner", (Role.PARTNER, "*", estate["s1"])),
        "operator of A": hub.caller(
            "op-a", (Role.INTEGRATION_OPERATOR, estate["le_a"], None)
        ),
        "auditor": hub.caller("auditor", (Role.AUDITOR, "*", None)),
    }
    message = f"/v1/webhook-messages/{row['message_id']}"
    since = {"since": "2026-01-01T00:00:00Z"}

    def statuses(headers: dict[str, str]) -> list[int]:
        return [
            hub.client.get(
                f"/v1/webhook-endpoints/{endpoint}/messages", headers=headers
            ).status_code,
            hub.client.get(message, headers=headers).status_code,
            hub.client.get(f"{message}/attempts", headers=headers).status_code,
            hub.client.post(f"{message}/resend", headers=headers).status_code,
            hub.client.post(
                f"/v1/webhook-endpoints/{endpoint}/recover", headers=headers, json=since
            ).status_code,
        ]

    seen = {name: statuses(headers) for name, headers in callers.items()}

    assert seen == {
        "buyer": [403] * 5,
        "partner": [403] * 5,
        "operator of A": [403] * 5,
        "auditor": [200, 200, 200, 403, 403],
    }
    refused = _audited(hub, "permission.refused")
    assert len(refused) == 3 * 5 + 2
    assert _rows(hub)[0]["status"] == "pending"
