"""Outbound signatures verify with the reference Standard Webhooks library."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tieline.delivery.signing import message_id, new_secret, sign_headers

BODY = json.dumps({"id": "e-1", "type": "tieline.commitment.approved"})


def test_a_message_signed_by_tieline_verifies_with_the_reference_library() -> None:
    secret = new_secret()

    headers = sign_headers([secret], "msg_1", BODY)

    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    assert headers["webhook-id"] == "msg_1"


def test_during_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()

    headers = sign_headers([new, old], "msg_2", BODY)

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers) == json.loads(BODY)
    assert Webhook(new).verify(BODY, headers) == json.loads(BODY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace("approved", "rejected")),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: (
            {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)},
            b,
        ),
    ],
    ids=["body", "id", "timestamp"],
)
def test_a_changed_body_id_or_timestamp_no_longer_verifies(tamper: object) -> None:
    secret = new_secret()
    headers, body = tamper(sign_headers([secret], "msg_3", BODY), BODY)  # type: ignore[operator]

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_another_secret_does_not_verify() -> None:
    headers = sign_headers([new_secret()], "msg_4", BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_the_timestamp_is_whole_seconds_of_the_signing_time() -> None:
    when = datetime(2026, 12, 4, 10, 0, 0, 700000, tzinfo=UTC)

    headers = sign_headers([new_secret()], "msg_5", BODY, now=when)

    assert headers["webhook-timestamp"] == str(int(when.timestamp()))
    # Verification is relative to now: an old stamp is refused as a replay.
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(new_secret()).verify(
            BODY,
            sign_headers([new_secret()], "m", BODY, now=when - timedelta(days=400)),
        )


def test_the_message_id_is_stable_per_event_and_endpoint() -> None:
    assert message_id("ep-1", "e-1") == message_id("ep-1", "e-1")
    assert message_id("ep-1", "e-1") != message_id("ep-2", "e-1")
    assert message_id("ep-1", "e-1") != message_id("ep-1", "e-2")
    assert message_id("ep-1", "e-1").startswith("msg_")
