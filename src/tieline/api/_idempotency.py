"""Idempotency keys for writes: a retry gets the first answer, not a second write.

The first successful answer to (identity, `Idempotency-Key`) is stored with
a hash of the request (method, path and the parsed body) in the same
transaction as the write. The same key with the same request replays that
answer (`Idempotent-Replayed: true`); the same key with another request is
refused with 422, as the IETF draft "The Idempotency-Key HTTP Header Field"
(section 2.7) suggests. Keys are per identity, so two callers never collide.
TODO: stored answers are kept forever; a purge of keys older than a day is
missing, which costs a row per keyed write until it is added.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Connection, insert, select

from tieline.api._problems import FieldError, Problem
from tieline.governance._schema import idempotency_keys

_ACCEPTABLE = re.compile(r"^[\x21-\x7e]{1,200}$")


def request_hash(method: str, path: str, payload: Any) -> str:
    """A hash of what the request asks for, whitespace and key order aside."""
    blob = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def check_key(key: str) -> str:
    """The key if it is 1 to 200 visible ASCII characters; else 400."""
    if not _ACCEPTABLE.match(key):
        raise Problem(
            400,
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
            errors=[FieldError(field="Idempotency-Key", message="malformed")],
        )
    return key


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """A first answer, kept for replay."""

    status_code: int
    body: Any
    headers: dict[str, str]

    def response(self) -> JSONResponse:
        """The answer again, marked as a replay."""
        return JSONResponse(
            self.body,
            status_code=self.status_code,
            headers={**self.headers, "Idempotent-Replayed": "true"},
        )


def lookup(
    connection: Connection, identity_id: str, key: str, fingerprint: str
) -> StoredAnswer | None:
    """The stored answer for this key, or None; 422 if it served another request."""
    row = connection.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.identity_id == identity_id,
            idempotency_keys.c.key == key,
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Problem(
            422,
            "this Idempotency-Key was used for a different request; use a new key",
            slug="idempotency-key-reused",
            errors=[FieldError(field="Idempotency-Key", message="reused")],
        )
    return StoredAnswer(row.status_code, json.loads(row.response), dict(row.headers))


def remember(
    connection: Connection,
    identity_id: str,
    key: str,
    fingerprint: str,
    answer: StoredAnswer,
) -> None:
    """Keep the first answer; a concurrent twin fails on the primary key."""
    connection.execute(
        insert(idempotency_keys).values(
            identity_id=identity_id,
            key=key,
            request_hash=fingerprint,
            status_code=answer.status_code,
            response=json.dumps(answer.body),
            headers=answer.headers,
            created_at=datetime.now(UTC),
        )
    )
