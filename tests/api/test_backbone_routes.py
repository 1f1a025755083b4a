"""The backbone's routes as every role: events, dead letters, webhooks.

Integration operators and admins (on every entity) read and act; auditors
read only; every other role, a partner and a new identity are refused.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from tieline.delivery import Scheme, add_source
from tieline.delivery.signing import message_id
from tieline.events import deadletters, parking
from tieline.events._inbox import handle_once
from tieline.governance import Role
from tieline.governance._schema import audit_log
from tieline.store import Transaction
from tieline.store._delivery_schema import webhook_messages
from tieline.store._schema import outbox

WRITERS = {Role.INTEGRATION_OPERATOR, Role.ADMIN}
READERS = WRITERS | {Role.AUDITOR}


class Counter:
    """A consumer handler that counts the events it handled."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, tx: Transaction, event: dict[str, Any]) -> None:
        self.seen.append(event["id"])


def _events(hub: Any) -> list[dict[str, Any]]:
    with hub.store.engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).order_by(outbox.c.seq))
        return [json.loads(row.envelope) for row in rows]


def _dead_letter(hub: Any, event: dict[str, Any], consumer: str = "counter") -> int:
    attempt = deadletters.Attempt(datetime.now(UTC), "KeyError: 'x'", "permanent")
    with hub.store.transaction() as tx:
        deadletters.record(tx.connection, consumer, event, [attempt], "gave up")
    letters = deadletters.list_dead_letters(
        hub.store, deadletters.DeadLetterFilter(consumer=consumer)
    )
    return max(letter.id for letter in letters)


def _endpoint(hub: Any, admin: dict[str, str]) -> dict[str, Any]:
    answer = hub.client.post(
        "/v1/webhook-endpoints",
        headers=admin,
        json={"url": "https://erp.example.test/hooks?token=abc", "description": "ERP"},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _message(hub: Any, endpoint_id: str, event: dict[str, Any]) -> str:
    """A webhook message of `event` queued for the endpoint; its webhook-id."""
    webhook_id = message_id(endpoint_id, event["id"])
    now = datetime.now(UTC)
    with hub.store.transaction() as tx:
        tx.connection.execute(
            insert(webhook_messages).values(
                message_id=webhook_id,
                endpoint_id=endpoint_id,
                event_id=event["id"],
                event_type=event["type"],
                event_time=now,
                payload=json.dumps(event),
                status="failed",
                attempts=8,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return webhook_id


def _actions(hub: Any) -> list[tuple[str, str, str]]:
    with hub.store.engine.connect() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.seq))
        return [(row.action, row.target, row.outcome) for row in rows]


@pytest.mark.parametrize("role", [*Role, None], ids=lambda r: str(r))
def test_every_backbone_route_gives_each_role_exactly_its_permissions(
    hub: Any, estate: Any, role: Role | None
) -> None:
    admin = hub.caller("boss", (Role.ADMIN, "*", None))
    hub.client.app.state.consumer_handlers = {"counter": Counter()}
    event = _events(hub)[0]
    letter = _dead_letter(hub, event)
    endpoint = _endpoint(hub, admin)
    message = f"/v1/webhook-messages/{_message(hub, endpoint['id'], event)}"
    supplier = estate["s1"] if role is Role.PARTNER else None
    headers = hub.caller(
        "caller", *([(role, "*", supplier)] if role is not None else [])
    )
    reads = [
        hub.client.get("/v1/events", headers=headers),
        hub.client.get(f"/v1/events/{event['id']}", headers=headers),
        hub.client.get("/v1/dead-letters", headers=headers),
        hub.client.get(f"/v1/dead-letters/{letter}", headers=headers),
        hub.client.get("/v1/parked-retries", headers=headers),
        hub.client.get("/v1/metrics", headers=headers),
        hub.client.get("/v1/webhook-endpoints", headers=headers),
        hub.client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=headers),
        hub.client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/messages", headers=headers
        ),
        hub.client.get(message, headers=headers),
        hub.client.get(f"{message}/attempts", headers=headers),
    ]
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    writes = [
        hub.client.post(f"/v1/dead-letters/{letter}/replay", headers=headers),
        hub.client.post(
            "/v1/webhook-endpoints",
            headers=headers,
            json={"url": "https://other.example.test/in"},
        ),
        hub.client.post(f"{path}/disable", headers=headers, json={"reason": "x"}),
        hub.client.post(f"{path}/enable", headers=headers),
        hub.client.post(f"{path}/rotate-secret", headers=headers),
        hub.client.post(f"{message}/resend", headers=headers),
        hub.client.post(
            f"{path}/recover", headers=headers, json={"since": "2026-01-01T00:00:00Z"}
        ),
    ]
    assert [r.status_code for r in reads] == [200 if role in READERS else 403] * 11
    wanted = [200, 201, 200, 200, 200, 200, 200] if role in WRITERS else [403] * 7
    assert [r.status_code for r in writes] == wanted
    refusals = [a for a in _actions(hub) if a[0] == "permission.refused"]
    assert len(refusals) == wanted.count(403) + (0 if role in READERS else 11)


def test_an_operator_of_one_entity_only_is_refused_the_backbone(
    hub: Any, estate: Any
) -> None:
    headers = hub.caller("op-a", (Role.INTEGRATION_OPERATOR, estate["le_a"], None))
    answer = hub.client.get("/v1/events", headers=headers)
    assert answer.status_code == 403
    assert "on every legal entity" in answer.json()["detail"]


def test_events_filter_by_type_subject_and_time_and_page_by_cursor(
    hub: Any, estate: Any
) -> None:
    headers = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))
    everything = _events(hub)
    commitments = [e for e in everything if e["subject"].startswith("commitment/")]
    assert len(commitments) == 3

    # Pages of two, in outbox order, until the cursor runs out.
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"type": "*commitment*", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = hub.client.get("/v1/events", headers=headers, params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in commitments]

    one = commitments[1]
    by_subject = hub.client.get(
        "/v1/events", headers=headers, params={"subject": one["subject"]}
    ).json()
    assert [item["id"] for item in by_subject["items"]] == [one["id"]]
    assert by_subject["items"][0]["data"] == one["data"]
    later = hub.client.get(
        "/v1/events", headers=headers, params={"since": "2999-01-01T00:00:00Z"}
    ).json()
    assert later == {"items": [], "next_cursor": None}


def test_a_bad_cursor_or_unknown_event_is_a_problem(hub: Any, estate: Any) -> None:
    headers = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))
    bad = hub.client.get("/v1/events", headers=headers, params={"cursor": "nope"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "cursor"
    missing = hub.client.get("/v1/events/no-such-event", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_dead_letters_filter_by_consumer_type_project_and_error(
    hub: Any, estate: Any
) -> None:
    headers = hub.caller("auditor", (Role.AUDITOR, "*", None))
    events = _events(hub)
    commitment = next(e for e in events if e["subject"].startswith("commitment/"))
    first = _dead_letter(hub, commitment, "erp-sync")
    second = _dead_letter(hub, events[0], "counter")

    def ids(**params: str) -> list[int]:
        answer = hub.client.get("/v1/dead-letters", headers=headers, params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert ids() == [first, second]
    assert ids(consumer="erp-sync") == [first]
    assert ids(type=commitment["type"]) == [first]
    assert ids(project_id=commitment["data"]["project_id"]) == [first]
    assert ids(error="KeyError") == [first, second]
    assert ids(error="Timeout") == []
    assert ids(status="discarded") == []


def test_replay_goes_through_the_inbox_so_an_event_is_never_handled_twice(
    hub: Any, estate: Any
) -> None:
    # Given an event the consumer handled, then dead-lettered by a redelivery
    handler = Counter()
    hub.client.app.state.consumer_handlers = {"counter": handler}
    event = _events(hub)[0]
    handle_once(hub.store, "counter", handler, event)
    letter = _dead_letter(hub, event)
    headers = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))

    # When an operator replays it
    answer = hub.client.post(f"/v1/dead-letters/{letter}/replay", headers=headers)

    # Then the inbox answers duplicate, the handler ran once, and it is audited
    assert answer.json() == {"id": letter, "outcome": "duplicate", "status": "replayed"}
    assert handler.seen == [event["id"]]
    assert ("deadletter.replayed", f"dead_letter:{letter}", "ok") in _actions(hub)
    again = hub.client.post(f"/v1/dead-letters/{letter}/replay", headers=headers)
    assert again.status_code == 409
    assert handler.seen == [event["id"]]


def test_replay_of_an_unhandled_event_handles_it_once(hub: Any, estate: Any) -> None:
    handler = Counter()
    hub.client.app.state.consumer_handlers = {"counter": handler}
    event = _events(hub)[1]
    letter = _dead_letter(hub, event)
    headers = hub.caller("op", (Role.ADMIN, "*", None))
    answer = hub.client.post(f"/v1/dead-letters/{letter}/replay", headers=headers)
    assert answer.json()["outcome"] == "handled"
    assert handler.seen == [event["id"]]


def test_discard_needs_a_note_and_is_audited_with_the_change(
    hub: Any, estate: Any
) -> None:
    hub.client.app.state.consumer_handlers = {}
    letter = _dead_letter(hub, _events(hub)[0])
    headers = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))
    path = f"/v1/dead-letters/{letter}/discard"

    missing = hub.client.post(path, headers=headers, json={})
    blank = hub.client.post(path, headers=headers, json={"note": "   "})
    assert (missing.status_code, blank.status_code) == (422, 422)
    assert [e["field"] for e in missing.json()["errors"]] == ["note"]
    assert [e["field"] for e in blank.json()["errors"]] == ["note"]

    done = hub.client.post(path, headers=headers, json={"note": "ERP fixed by hand"})
    assert done.status_code == 200
    body = done.json()
    assert (body["status"], body["note"], body["resolved_by"]) == (
        "discarded",
        "ERP fixed by hand",
        "service:op",
    )
    assert ("deadletter.discarded", f"dead_letter:{letter}", "ok") in _actions(hub)
    twice = hub.client.post(path, headers=headers, json={"note": "again"})
    assert twice.status_code == 409


def test_parked_retries_are_counted_per_consumer(hub: Any, estate: Any) -> None:
    # Given two events of one record parked by the ERP consumer, the first
    # due again in ten minutes, and one event parked by another consumer
    events = _events(hub)
    parked_at = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    retry_at = parked_at + timedelta(minutes=10)
    attempt = {"at": parked_at.isoformat(), "error": "OdooDown: 502", "class": "x"}
    with hub.store.transaction() as tx:
        same_record = [dict(events[0]), dict(events[1], subject=events[0]["subject"])]
        parking.park(
            tx.connection,
            "workflow-erp",
            same_record,
            now=parked_at,
            attempts=[attempt],
            retry_at=retry_at,
        )
        parking.park(tx.connection, "odoo-push", [events[2]], now=parked_at)
    headers = hub.caller("auditor", (Role.AUDITOR, "*", None))

    answer = hub.client.get("/v1/parked-retries", headers=headers)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "items": [
            {
                "consumer": "odoo-push",
                "parked": 1,
                "subjects": 1,
                "next_attempt_at": None,
                "oldest_parked_at": "2026-05-04T08:00:00Z",
            },
            {
                "consumer": "workflow-erp",
                "parked": 2,
                "subjects": 1,
                "next_attempt_at": "2026-05-04T08:10:00Z",
                "oldest_parked_at": "2026-05-04T08:00:00Z",
            },
        ]
    }


def test_an_endpoint_secret_is_shown_once_and_never_in_reads(
    hub: Any, estate: Any
) -> None:
    admin = hub.caller("boss", (Role.ADMIN, "*", None))
    created = _endpoint(hub, admin)
    secret = created["secret"]
    assert secret
    path = f"/v1/webhook-endpoints/{created['id']}"

    rotated = hub.client.post(
        f"{path}/rotate-secret", headers=admin, json={"overlap_hours": 1}
    )
    assert rotated.status_code == 200
    fresh = rotated.json()["secret"]
    assert fresh
    assert fresh != secret

    reads = [
        hub.client.get("/v1/webhook-endpoints", headers=admin),
        hub.client.get(path, headers=admin),
        hub.client.get("/v1/audit", headers=admin),
    ]
    for answer in reads:
        assert answer.status_code == 200
        assert secret not in answer.text
        assert fresh not in answer.text
        assert "secret" not in answer.json().get("items", [{}])[0]
    audited = [a for a in _actions(hub) if a[0] == "secret.rotated"]
    assert audited == [("secret.rotated", f"webhook_endpoint:{created['id']}", "ok")]


def test_an_endpoint_changes_only_with_the_etag_it_was_read_with(
    hub: Any, estate: Any
) -> None:
    admin = hub.caller("boss", (Role.ADMIN, "*", None))
    created = _endpoint(hub, admin)
    path = f"/v1/webhook-endpoints/{created['id']}"
    tag = hub.client.get(path, headers=admin).headers["ETag"]
    change = {"description": "ERP production"}

    unguarded = hub.client.patch(path, headers=admin, json=change)
    assert unguarded.status_code == 428
    first = hub.client.patch(path, headers={**admin, "If-Match": tag}, json=change)
    assert first.status_code == 200
    assert first.json()["description"] == "ERP production"
    stale = hub.client.patch(
        path, headers={**admin, "If-Match": tag}, json={"description": "lost"}
    )
    assert stale.status_code == 412
    cleared = hub.client.patch(
        path, headers={**admin, "If-Match": first.headers["ETag"]}, json={"url": None}
    )
    assert cleared.status_code == 422
    assert [e["field"] for e in cleared.json()["errors"]] == ["url"]
    unknown = hub.client.patch(
        path, headers={**admin, "If-Match": first.headers["ETag"]}, json={"secret": "x"}
    )
    assert unknown.status_code == 422
    anyway = hub.client.patch(
        path, headers={**admin, "If-Match": "*"}, json={"description": "any"}
    )
    assert (anyway.status_code, anyway.json()["description"]) == (200, "any")


def test_disable_holds_and_enable_resumes_an_endpoint(hub: Any, estate: Any) -> None:
    headers = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))
    created = _endpoint(hub, headers)
    path = f"/v1/webhook-endpoints/{created['id']}"
    off = hub.client.post(f"{path}/disable", headers=headers, json={"reason": "down"})
    assert (off.json()["status"], off.json()["disabled_reason"]) == (
        "disabled",
        "down",
    )
    on = hub.client.post(f"{path}/enable", headers=headers)
    assert on.json()["endpoint"]["status"] == "enabled"
    assert on.json()["queued"] == 0
    missing = hub.client.post("/v1/webhook-endpoints/nope/enable", headers=headers)
    assert missing.status_code == 404


def test_refused_inbound_requests_are_counted_in_the_metrics(hub: Any) -> None:
    # Given a source (named afresh: the counters belong to the process, which
    # runs this test once per store), and a request to it with the wrong token
    name = f"metered-{uuid.uuid4().hex[:8]}"
    source = add_source(hub.store, name, Scheme.TOKEN)
    refused = hub.client.post(f"/hooks/{name}/not-the-token", content=b"{}")
    accepted = hub.client.post(f"/hooks/{name}/{source.secret}", content=b"{}")
    headers = hub.caller("auditor", (Role.AUDITOR, "*", None))

    # When the metrics are read
    answer = hub.client.get("/v1/metrics", headers=headers)

    # Then the refusal and the acceptance are counted by source and reason,
    # and the token is nowhere in them
    assert (refused.status_code, accepted.status_code) == (401, 202)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert f'refused_total{{reason="bad_token",source="{name}"}} 1.0' in text
    assert f'tieline_inbound_accepted_total{{source="{name}"}} 1.0' in text
    assert source.secret not in text
