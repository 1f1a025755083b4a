"""No secret used in a run shows in a log line, an error body or an answer.

Given a run that signs in every way, fails to sign in, is refused, submits,
errs and crashes, with its logs captured at debug level as JSON, then none
of the secrets it used (the hub's keys, every API key's secret, every access
token, a database password in a crashing error) appears in the captured
logs, in any answer other than the one that shows a new credential once, or
in the audit log.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tieline.governance import Role
from tieline.governance.secrets import remember
from tieline.logging import configure_logging
from tieline.settings import Settings

DATABASE_PASSWORD = "db-password-that-must-never-show-7f3a"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line of the test, as JSON, at debug level."""
    previous = logging.getLogger().handlers[:]
    level = logging.getLogger().level
    stream = io.StringIO()
    configure_logging(Settings(log_level="DEBUG", log_format="json"))
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    logging.getLogger().handlers[:] = previous
    logging.getLogger().setLevel(level)


class Recorder:
    """Collects every answer's status, headers and body."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seen: list[str] = []

    def __call__(
        self, method: str, url: str, *, shows_secret: bool = False, **kwargs: Any
    ) -> Any:
        answer = self.client.request(method, url, **kwargs)
        if not shows_secret:
            self.seen.append(
                f"{answer.status_code} {dict(answer.headers)} {answer.text}"
            )
        return answer


def _queue_events(hub: Any) -> None:
    """Queue every event of the outbox for the webhook endpoints, as fan-out does."""
    from sqlalchemy import select

    from tieline.delivery.fanout import queue_many
    from tieline.store._schema import outbox

    with hub.store.transaction() as tx:
        rows = tx.connection.execute(select(outbox.c.envelope).order_by(outbox.c.seq))
        queue_many(tx, [json.loads(row.envelope) for row in rows])


def _run(
    hub: Any,
    estate: Any,
    sample: Any,
    call: Recorder,
    secrets: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = hub.caller("admin", (Role.ADMIN, "*", None))
    partner = hub.caller("p1", (Role.PARTNER, "*", estate["s1"]))
    secrets += [h["X-API-Key"].partition(".")[2] for h in (admin, partner)]

    # A service made, granted and keyed through the API; its key shown once.
    made = call(
        "POST", "/v1/identities", json={"kind": "service", "name": "erp"}, headers=admin
    ).json()
    call(
        "POST",
        f"/v1/identities/{made['id']}/grants",
        json={"role": "integration_operator", "legal_entity_id": "*"},
        headers=admin,
    )
    key = call(
        "POST",
        f"/v1/identities/{made['id']}/keys",
        json={"scopes": ["records:read", "records:write"]},
        headers=admin,
        shows_secret=True,
    ).json()
    key_id, _, key_secret = key["token"].partition(".")
    secrets.append(key_secret)
    rotated = call(
        "POST",
        f"/v1/keys/{key_id}/rotate",
        json={"overlap_hours": 1},
        headers=admin,
        shows_secret=True,
    ).json()
    secrets.append(rotated["token"].partition(".")[2])

    # A token bought with client credentials, used, then a wrong secret tried.
    bought = call(
        "POST",
        "/oauth/token",
        shows_secret=True,
        data={
            "grant_type": "client_credentials",
            "client_id": key_id,
            "client_secret": key_secret,
        },
    ).json()
    secrets.append(bought["access_token"])
    bearer = {"Authorization": f"Bearer {bought['access_token']}"}
    call("GET", "/v1/projects", headers=bearer)
    call(
        "POST",
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": key_id,
            "client_secret": "wrong",
        },
    )
    call("GET", "/v1/me", headers={"X-API-Key": f"{key_id}.{key_secret}x"})
    call(
        "GET", "/v1/me", headers={"Authorization": f"Bearer {bought['access_token']}x"}
    )

    # Writes, refusals and invalid input.
    call(
        "POST", "/v1/projects", json=sample("project", "p9", estate.ids), headers=bearer
    )
    call("GET", f"/v1/invoices/{estate['i2']}", headers=partner)
    call(
        "POST",
        "/v1/payments",
        json={**sample("payment", "x", estate.ids), "amount": 1.5},
        headers=bearer,
    )

    # A webhook endpoint: its secret shown at creation and at rotation only.
    hook = call(
        "POST",
        "/v1/webhook-endpoints",
        json={"url": "https://erp.example.test/in"},
        headers=admin,
        shows_secret=True,
    ).json()
    secrets.append(hook["secret"])
    hook_path = f"/v1/webhook-endpoints/{hook['id']}"
    fresh = call(
        "POST", f"{hook_path}/rotate-secret", headers=admin, shows_secret=True
    ).json()
    secrets.append(fresh["secret"])
    call("GET", "/v1/webhook-endpoints", headers=admin)
    tag = call("GET", hook_path, headers=admin).headers["ETag"]
    call(
        "PATCH",
        hook_path,
        json={"description": "ERP"},
        headers={**admin, "If-Match": tag},
    )
    call("POST", f"{hook_path}/disable", json={"reason": "test"}, headers=admin)
    call("POST", f"{hook_path}/enable", headers=admin)
    # Its messages (the estate's events queued for it) and their attempts.
    _queue_events(hub)
    listed = call("GET", f"{hook_path}/messages", headers=admin).json()
    message_path = f"/v1/webhook-messages/{listed['items'][0]['id']}"
    call("GET", message_path, headers=admin)
    call("GET", f"{message_path}/attempts", headers=admin)
    call("POST", f"{message_path}/resend", headers=admin)
    call(
        "POST",
        f"{hook_path}/recover",
        json={"since": "2026-01-01T00:00:00Z"},
        headers=admin,
    )

    # A crash whose exception quotes a database password.
    from tieline.governance.scope import ScopeResolver

    def crash(self: object, record: object) -> None:
        raise RuntimeError(f"postgresql://tieline:{DATABASE_PASSWORD}@db/tieline down")

    monkeypatch.setattr(ScopeResolver, "of", crash)
    call("GET", f"/v1/projects/{estate['p_a']}", headers=bearer)


def test_no_secret_reaches_logs_errors_answers_or_the_audit_log(
    hub: Any,
    estate: Any,
    sample: Any,
    captured_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: dict[str, str],
) -> None:
    # build_governance registers the configured database URL's password the
    # same way; this run's store has none, so the crash's is registered here.
    remember(DATABASE_PASSWORD)
    secrets = [*test_secrets.values(), DATABASE_PASSWORD]
    call = Recorder(hub.client)

    _run(hub, estate, sample, call, secrets, monkeypatch)

    with hub.store.transaction() as tx:
        audit = [
            entry.details + entry.target
            for entry in hub.governance.audit.entries(tx.connection)
        ]
    logs = captured_logs.getvalue()
    places = {"logs": logs, "answers": "\n".join(call.seen), "audit": "\n".join(audit)}
    leaks = [
        (secret[:6], place)
        for secret in secrets
        for place, text in places.items()
        if secret in text
    ]
    assert leaks == []
    # The run did what it claims: sign-ins failed, a refusal and a crash logged.
    assert logs.count("api.auth_failed") >= 2
    assert "api.unhandled_error" in logs
    assert "***" in logs
    assert len(call.seen) >= 10
