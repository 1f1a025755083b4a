"""Standard Webhooks signatures, made and checked with the reference library.

Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
The signed content is `<webhook-id>.<webhook-timestamp>.<body>`, HMAC-SHA256
with the endpoint's secret, sent as `v1,<base64>`. During a secret rotation
both the new and the previous secret sign, separated by a space, so a receiver
holding either one verifies (spec, "Signature scheme": multiple signatures).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
# A fixed namespace: message ids derive from (endpoint, event) and stay the
# same across retries, re-sends and worker restarts.
_MESSAGE_NAMESPACE = uuid.UUID("6f1c2a52-3d0e-4c51-9a7e-0b8f1d2e4c61")


def new_secret() -> str:
    """A fresh endpoint secret: 24 random bytes, `whsec_` and base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def message_id(endpoint_id: str, event_id: str) -> str:
    """The `webhook-id` of one event sent to one endpoint."""
    return "msg_" + uuid.uuid5(_MESSAGE_NAMESPACE, f"{endpoint_id}/{event_id}").hex


def sign_headers(
    secrets_in_force: Sequence[str],
    msg_id: str,
    body: str,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed by each secret."""
    stamp = (now or datetime.now(UTC)).replace(microsecond=0)
    signatures = " ".join(
        webhook_for(secret).sign(msg_id, stamp, body) for secret in secrets_in_force
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signatures,
    }


@lru_cache(maxsize=1024)
def webhook_for(secret: str) -> Webhook:
    """The reference library's signer for `secret`, made once per secret.

    Decoding the secret costs more than the HMAC itself; keep the decoded key.
    """
    return Webhook(secret)
