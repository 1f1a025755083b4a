"""`/v1/inbound-sources` as every role, and a source made through it at work.

Sources belong to no legal entity, so they are managed as the backbone is:
integration operators and admins on every entity (`*`) write, auditors on
`*` read, everyone else is refused and the refusal audited.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from tieline.delivery.inbound import inbound_consumer
from tieline.events import ConsumerWorker, SqlLogBus
from tieline.governance import Role
from tieline.governance._schema import audit_log
from tieline.store import Store
from tieline.store._schema import outbox
from tieline.testing.waiting import drain

from .test_no_secret_leaks import captured_logs  # noqa: F401 - a fixture

WRITERS = {Role.INTEGRATION_OPERATOR, Role.ADMIN}
READERS = WRITERS | {Role.AUDITOR}
BODY = json.dumps({"diary": "D-12", "crew": 7}).encode()


def _signed(secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    when = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
        "content-type": "application/json",
    }


def _hmac(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-signature": digest, "content-type": "application/json"}


def _create(hub: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = hub.client.post(
        "/v1/inbound-sources", headers=headers, json={"scheme": "standard", **body}
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _actions(hub: Any) -> list[tuple[str, str, str, str]]:
    with hub.store.engine.connect() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.seq))
        return [
            (row.action, row.target, row.outcome, json.dumps(row.details))
            for row in rows
        ]


def _process_all(store: Store) -> None:
    bus = SqlLogBus(store, poll_interval=0.01)
    consumer = inbound_consumer()
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.05)
    (feed,) = bus.feeds(consumer.subscription)
    try:
        drain(store, worker, consumer, feed)
    finally:
        worker.close()


@pytest.mark.parametrize("role", [*Role, None], ids=lambda r: str(r))
def test_every_inbound_source_route_gives_each_role_exactly_its_permissions(
    hub: Any, estate: Any, role: Role | None
) -> None:
    admin = hub.caller("boss", (Role.ADMIN, "*", None))
    _create(hub, admin, name="kept")
    _create(hub, admin, name="doomed")
    supplier = estate["s1"] if role is Role.PARTNER else None
    headers = hub.caller(
        "caller", *([(role, "*", supplier)] if role is not None else [])
    )
    reads = [
        hub.client.get("/v1/inbound-sources", headers=headers),
        hub.client.get("/v1/inbound-sources/kept", headers=headers),
    ]
    writes = [
        hub.client.post(
            "/v1/inbound-sources",
            headers=headers,
            json={"name": "new", "scheme": "hmac"},
        ),
        hub.client.post("/v1/inbound-sources/kept/rotate-secret", headers=headers),
        hub.client.delete("/v1/inbound-sources/doomed", headers=headers),
    ]
    assert [r.status_code for r in reads] == [200 if role in READERS else 403] * 2
    wanted = [201, 200, 204] if role in WRITERS else [403] * 3
    assert [r.status_code for r in writes] == wanted
    refusals = [a for a in _actions(hub) if a[0] == "permission.refused"]
    assert len(refusals) == wanted.count(403) + (0 if role in READERS else 2)
    assert all(a[1] == "inbound sources" for a in refusals)


def test_an_operator_of_one_entity_only_is_refused_the_sources(
    hub: Any, estate: Any
) -> None:
    headers = hub.caller("op-a", (Role.INTEGRATION_OPERATOR, estate["le_a"], None))

    answer = hub.client.post(
        "/v1/inbound-sources", headers=headers, json={"name": "x", "scheme": "hmac"}
    )

    assert answer.status_code == 403
    assert "on every legal entity" in answer.json()["detail"]


def test_a_source_made_here_accepts_signed_messages_and_forwards_them(
    hub: Any,
    estate: Any,
    captured_logs: io.StringIO,  # noqa: F811 - the fixture
) -> None:
    # Given a source made through the API
    operator = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))
    created = _create(hub, operator, name="site-diary", tolerance=120)
    secret = created["secret"]
    assert created["path"] == "/hooks/site-diary"

    # When the sender posts a message signed by the reference library
    answer = hub.client.post(
        created["path"], content=BODY, headers=_signed(secret, BODY, "msg-1")
    )
    _process_all(hub.store)

    # Then it is accepted, forwarded as an event naming the source, and counted
    assert answer.status_code == 202, answer.text
    read = hub.client.get("/v1/inbound-sources/site-diary", headers=operator)
    assert read.json()["messages"] == {"forwarded": 1}
    assert read.json()["tolerance"] == 120
    with hub.store.engine.connect() as connection:
        (envelope,) = connection.execute(
            select(outbox.c.envelope).where(outbox.c.type == "tieline.inbound.received")
        ).scalars()
    assert json.loads(envelope)["data"]["source"] == "site-diary"
    # And the secret is in no read, no audit entry and no log line
    shown = [
        hub.client.get("/v1/inbound-sources", headers=operator).text,
        read.text,
        json.dumps(_actions(hub)),
        captured_logs.getvalue(),
    ]
    assert all(secret not in text for text in shown)
    assert "inbound.source_added" in json.dumps(_actions(hub))


def test_rotation_keeps_the_old_secret_for_the_overlap_and_shows_the_new_once(
    hub: Any,
    estate: Any,
    captured_logs: io.StringIO,  # noqa: F811 - the fixture
) -> None:
    operator = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))
    old = _create(hub, operator, name="portal", scheme="hmac")["secret"]

    rotated = hub.client.post(
        "/v1/inbound-sources/portal/rotate-secret",
        headers=operator,
        json={"overlap_hours": 2},
    )
    new = rotated.json()["secret"]
    second = b'{"n": 2}'
    with_old = hub.client.post("/hooks/portal", content=BODY, headers=_hmac(old, BODY))
    with_new = hub.client.post(
        "/hooks/portal", content=second, headers=_hmac(new, second)
    )

    assert rotated.status_code == 200
    assert rotated.headers["Cache-Control"] == "no-store"
    assert new != old
    assert (with_old.status_code, with_new.status_code) == (202, 202)
    read = hub.client.get("/v1/inbound-sources/portal", headers=operator)
    assert read.json()["previous_secret_until"] is not None
    audited = [a for a in _actions(hub) if a[0] == "secret.rotated"]
    assert [a[1:3] for a in audited] == [("inbound_source:portal", "ok")]
    seen = read.text + json.dumps(_actions(hub)) + captured_logs.getvalue()
    assert old not in seen
    assert new not in seen


def test_a_removed_source_is_refused_and_gone_from_reads(hub: Any, estate: Any) -> None:
    operator = hub.caller("op", (Role.INTEGRATION_OPERATOR, "*", None))
    secret = _create(hub, operator, name="portal", scheme="hmac")["secret"]

    removed = hub.client.delete("/v1/inbound-sources/portal", headers=operator)
    posted = hub.client.post("/hooks/portal", content=BODY, headers=_hmac(secret, BODY))
    read = hub.client.get("/v1/inbound-sources/portal", headers=operator)
    again = hub.client.delete("/v1/inbound-sources/portal", headers=operator)
    rotated = hub.client.post(
        "/v1/inbound-sources/portal/rotate-secret", headers=operator
    )

    assert removed.status_code == 204
    assert posted.status_code == 404
    assert [read.status_code, again.status_code, rotated.status_code] == [404] * 3
    assert read.headers["content-type"] == "application/problem+json"
    removals = [a for a in _actions(hub) if a[0] == "inbound.source_removed"]
    assert [a[1] for a in removals] == ["inbound_source:portal"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "has space", "scheme": "hmac"}, "name"),
        ({"name": "-lead", "scheme": "hmac"}, "name"),
        ({"name": "x" * 64, "scheme": "hmac"}, "name"),
        ({"name": "ok", "scheme": "rot13"}, "scheme"),
        ({"name": "ok", "scheme": "standard", "tolerance": 0}, "tolerance"),
        ({"name": "ok", "scheme": "hmac", "secret": "mine"}, "secret"),
        ({"name": "ok", "scheme": "hmac", "id_header": "x y"}, "id_header"),
        ({"name": "ok", "scheme": "hmac", "processor": "nope"}, "processor"),
    ],
)
def test_a_bad_source_is_refused_naming_the_field(
    hub: Any, estate: Any, body: dict[str, Any], field: str
) -> None:
    admin = hub.caller("boss", (Role.ADMIN, "*", None))

    answer = hub.client.post("/v1/inbound-sources", headers=admin, json=body)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in answer.json()["errors"]]
    listed = hub.client.get("/v1/inbound-sources", headers=admin)
    assert listed.json()["items"] == []


def test_a_second_source_of_one_name_is_a_conflict(hub: Any, estate: Any) -> None:
    admin = hub.caller("boss", (Role.ADMIN, "*", None))
    first = _create(hub, admin, name="portal", scheme="hmac")

    again = hub.client.post(
        "/v1/inbound-sources", headers=admin, json={"name": "portal", "scheme": "token"}
    )

    assert again.status_code == 409
    assert [e["field"] for e in again.json()["errors"]] == ["name"]
    (kept,) = hub.client.get("/v1/inbound-sources", headers=admin).json()["items"]
    assert kept["scheme"] == "hmac"
    assert first["secret"] not in again.text


def test_a_source_may_be_bound_to_the_odoo_processor(hub: Any, estate: Any) -> None:
    admin = hub.caller("boss", (Role.ADMIN, "*", None))

    created = _create(hub, admin, name="odoo-second", scheme="token", processor="odoo")

    assert created["processor"] == "odoo"
