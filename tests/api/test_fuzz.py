"""Property-based fuzzing of the published OpenAPI document with schemathesis.

Every operation gets a bounded number of generated requests, as an admin
(who may do the most) and unauthenticated. No answer may be a server error,
and every answer must match the document: status code, content type and
body schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tieline.api import create_app
from tieline.governance import IdentityKind, Role, create_identity, grant_role
from tieline.governance.identities import issue_api_key
from tieline.governance.roles import ALL_SCOPES
from tieline.settings import Settings
from tieline.store import Store

EXAMPLES_PER_OPERATION = 15
# 13 kinds x 4 routes, 12 governance routes, /health; events 2, dead letters
# 4, parked retries 1, webhook endpoints 7, workflow actions 4, exceptions 5,
# requisitions (submit, read) 2, webhook messages (an endpoint's list, read,
# attempts, resend, an endpoint's recover) 5; project closeout (checklist,
# close) and retention release 3; inbound sources 5; metrics 1.
OPERATIONS = 13 * 4 + 12 + 1 + 2 + 4 + 1 + 7 + 4 + 5 + 2 + 5 + 3 + 5 + 1
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzzed_app(store: Store, tmp_path: Path) -> FastAPI:
    """The API, with limits raised so that the fuzzer is never throttled."""
    settings_ = Settings(
        data_dir=tmp_path / "var", rate_limit=1_000_000, auth_failure_limit=1_000_000
    )
    return create_app(store, settings=settings_)


@pytest.fixture
def admin(store: Store) -> dict[str, str]:
    """Headers of an admin on every entity, holding every scope."""
    with store.transaction() as tx:
        identity = create_identity(tx.connection, IdentityKind.SERVICE, "fuzz-admin")
        grant_role(
            tx.connection, identity, Role.ADMIN, legal_entity_id="*", granted_by="tests"
        )
        key = issue_api_key(
            tx.connection, identity, scopes=[s.value for s in ALL_SCOPES]
        )
    return {"X-API-Key": key.token}


FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def _fuzz(app: FastAPI, headers: dict[str, str]) -> int:
    """Run every operation's examples; returns how many operations ran.

    Driven by hand rather than through schemathesis' pytest plugin, whose
    lazy loader does not work with this pytest; the checks are the same.
    """
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @FUZZ
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
        operations += 1
    return operations


def test_fuzzing_as_an_admin_finds_no_server_error(
    fuzzed_app: FastAPI, admin: dict[str, str]
) -> None:
    assert _fuzz(fuzzed_app, admin) == OPERATIONS


# Refusing a caller without credentials happens before any storage is read, so
# one back-end is enough here; the admin run above covers both.
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_fuzzing_unauthenticated_finds_no_server_error(fuzzed_app: FastAPI) -> None:
    assert _fuzz(fuzzed_app, {}) == OPERATIONS
