"""Signing in: API keys, hub tokens, people's OIDC tokens; limits and headers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import select

from tieline.api import create_app
from tieline.governance import IdentityKind, Role, create_identity, grant_role
from tieline.governance._schema import audit_log
from tieline.governance.identities import disable_identity, find_identity
from tieline.settings import Settings
from tieline.store import Store

ISSUER = "https://idp.example.test"
AUDIENCE = "tieline-console"


def _token(hub: Any, key: str, **form: str) -> Any:
    key_id, _, secret = key.partition(".")
    data = {
        "grant_type": "client_credentials",
        "client_id": key_id,
        "client_secret": secret,
        **form,
    }
    return hub.client.post("/oauth/token", data=data)


def test_client_credentials_buy_a_short_lived_token(hub: Any, estate: Any) -> None:
    headers = hub.caller(
        "erp", (Role.AUDITOR, "*", None), scopes=("records:read", "audit:read")
    )

    answer = _token(hub, headers["X-API-Key"], scope="records:read")
    token = answer.json()["access_token"]
    projects = hub.client.get(
        "/v1/projects", headers={"Authorization": f"Bearer {token}"}
    )
    audit = hub.client.get("/v1/audit", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer"
    assert answer.json()["expires_in"] == 600
    assert projects.status_code == 200
    # The token asked for less than the key holds, and gets only that.
    assert audit.status_code == 403


def test_an_api_key_is_accepted_as_a_bearer_token(hub: Any) -> None:
    headers = hub.caller("erp", (Role.AUDITOR, "*", None))
    key = headers["X-API-Key"]

    me = hub.client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
    wrong = hub.client.get(
        "/v1/me", headers={"Authorization": f"Bearer {key[:-4]}AAAA"}
    )

    assert me.status_code == 200, me.text
    assert me.json()["identity"]["name"] == "erp"
    assert wrong.status_code == 401
    with hub.store.transaction() as tx:
        row = tx.connection.execute(
            select(audit_log).where(audit_log.c.action == "auth.failed")
        ).one()
    # The failure is audited as a key's, with its id and without its secret.
    assert json.loads(row.details)["key_id"] == key.partition(".")[0]
    assert key.partition(".")[2][:-4] not in row.details


def test_the_openapi_document_names_both_ways_to_present_a_key(hub: Any) -> None:
    schemes = hub.client.get("/openapi.json").json()["components"]["securitySchemes"]

    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["BearerToken"]["scheme"] == "bearer"
    assert "tlk_" in schemes["BearerToken"]["description"]


def test_a_token_dies_with_its_key(hub: Any) -> None:
    headers = hub.caller("erp", (Role.AUDITOR, "*", None))
    token = _token(hub, headers["X-API-Key"]).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert hub.client.get("/v1/me", headers=bearer).status_code == 200

    admin = hub.caller("admin", (Role.ADMIN, "*", None))
    key_id = headers["X-API-Key"].partition(".")[0]
    revoked = hub.client.post(f"/v1/keys/{key_id}/revoke", headers=admin)

    assert revoked.status_code == 204
    assert hub.client.get("/v1/me", headers=bearer).status_code == 401
    assert hub.client.get("/v1/me", headers=headers).status_code == 401


def test_a_disabled_identity_is_refused_at_once(hub: Any) -> None:
    headers = hub.caller("erp", (Role.AUDITOR, "*", None))
    with hub.store.transaction() as tx:
        identity = find_identity(tx.connection, "erp")
        assert identity is not None
        disable_identity(tx.connection, identity.id)

    assert hub.client.get("/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password"},
        {
            "grant_type": "client_credentials",
            "client_id": "tlk_0",
            "client_secret": "x",
        },
    ],
)
def test_bad_client_credentials_get_oauth_errors(
    hub: Any, form: dict[str, str]
) -> None:
    answer = hub.client.post("/oauth/token", data=form)

    assert answer.status_code in (400, 401)
    assert answer.json()["error"] in ("unsupported_grant_type", "invalid_client")


def test_a_token_cannot_ask_for_more_than_its_key(hub: Any) -> None:
    headers = hub.caller("erp", (Role.ADMIN, "*", None), scopes=("records:read",))

    answer = _token(hub, headers["X-API-Key"], scope="records:write")

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"


def test_a_forged_hub_token_is_refused(hub: Any) -> None:
    forged = jwt.encode(
        {
            "iss": "tieline",
            "aud": "tieline-api",
            "sub": "x",
            "client_id": "tlk_1",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        "a-key-that-is-not-the-hubs-signing-key-000000",
        algorithm="HS256",
    )

    answer = hub.client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_failed_sign_in_is_audited_without_the_secret(hub: Any) -> None:
    headers = hub.caller("erp", (Role.AUDITOR, "*", None))
    wrong = headers["X-API-Key"][:-4] + "AAAA"

    hub.client.get("/v1/me", headers={"X-API-Key": wrong})

    with hub.store.transaction() as tx:
        row = tx.connection.execute(
            select(audit_log).where(audit_log.c.action == "auth.failed")
        ).one()
    assert row.outcome == "refused"
    assert json.loads(row.details)["key_id"] == headers["X-API-Key"].partition(".")[0]
    assert wrong.partition(".")[2] not in row.details


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An identity provider's key pair and its JWKS file."""
    tmp_path = tmp_path_factory.mktemp("idp")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return {"private": private, "jwks": path}


@pytest.fixture
def oidc_client(
    store: Store, tmp_path: Path, idp: dict[str, Any]
) -> Iterator[TestClient]:
    """An API that accepts people's tokens from the test identity provider."""
    settings = Settings(
        data_dir=tmp_path / "var",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks=str(idp["jwks"]),
    )
    with TestClient(create_app(store, settings=settings)) as client:
        yield client


def _person_token(idp: dict[str, Any], subject: str, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return jwt.encode(body, idp["private"], algorithm="RS256", headers={"kid": "k1"})


def test_a_registered_person_signs_in_with_the_providers_token(
    store: Store, oidc_client: TestClient, idp: dict[str, Any]
) -> None:
    with store.transaction() as tx:
        ana = create_identity(
            tx.connection, IdentityKind.HUMAN, "ana", issuer=ISSUER, subject="ana-123"
        )
        grant_role(
            tx.connection, ana, Role.AUDITOR, legal_entity_id="*", granted_by="t"
        )
    bearer = {"Authorization": f"Bearer {_person_token(idp, 'ana-123')}"}

    me = oidc_client.get("/v1/me", headers=bearer)

    assert me.status_code == 200
    assert me.json()["identity"]["kind"] == "human"
    assert me.json()["grants"] == [
        {"role": "auditor", "legal_entity_id": "*", "supplier_id": None}
    ]


@pytest.mark.parametrize(
    "claims",
    [{"aud": "someone-else"}, {"exp": int(time.time()) - 10}, {"sub": "stranger"}],
    ids=["audience", "expired", "unregistered"],
)
def test_a_wrong_person_token_is_refused(
    store: Store, oidc_client: TestClient, idp: dict[str, Any], claims: dict[str, Any]
) -> None:
    with store.transaction() as tx:
        create_identity(
            tx.connection, IdentityKind.HUMAN, "ana", issuer=ISSUER, subject="ana-123"
        )
    token = _person_token(idp, "ana-123", **claims)

    answer = oidc_client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 401


def test_the_providers_public_key_as_an_hmac_secret_is_refused(
    store: Store, oidc_client: TestClient, idp: dict[str, Any]
) -> None:
    # The "algorithm confusion" attack: sign HS256 with the public key's PEM.
    with store.transaction() as tx:
        create_identity(
            tx.connection, IdentityKind.HUMAN, "ana", issuer=ISSUER, subject="ana-123"
        )
    pem = (
        idp["private"]
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ana-123", "exp": now + 60}
    token = _forge_hs256(claims, pem)

    answer = oidc_client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 401


def _forge_hs256(claims: dict[str, Any], secret: bytes) -> str:
    import base64
    import hashlib
    import hmac

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    signing = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'})}.{part(claims)}"
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def test_a_person_cannot_hold_an_api_key(hub: Any) -> None:
    admin = hub.caller("admin", (Role.ADMIN, "*", None))
    person = hub.client.post(
        "/v1/identities",
        json={"kind": "human", "name": "bo", "issuer": ISSUER, "subject": "bo-1"},
        headers=admin,
    )

    key = hub.client.post(
        f"/v1/identities/{person.json()['id']}/keys",
        json={"scopes": ["records:read"]},
        headers=admin,
    )

    assert person.status_code == 201
    assert key.status_code == 422


def test_keys_issued_and_rotated_through_the_api_work_once_shown(hub: Any) -> None:
    admin = hub.caller("admin", (Role.ADMIN, "*", None))
    service = hub.client.post(
        "/v1/identities", json={"kind": "service", "name": "bi"}, headers=admin
    ).json()
    hub.client.post(
        f"/v1/identities/{service['id']}/grants",
        json={"role": "auditor", "legal_entity_id": "*"},
        headers=admin,
    )
    issued = hub.client.post(
        f"/v1/identities/{service['id']}/keys",
        json={"scopes": ["records:read"], "days": 1},
        headers=admin,
    ).json()

    rotated = hub.client.post(
        f"/v1/keys/{issued['key_id']}/rotate", json={"overlap_hours": 0}, headers=admin
    ).json()

    assert (
        hub.client.get("/v1/me", headers={"X-API-Key": issued["token"]}).status_code
        == 401
    )
    me = hub.client.get("/v1/me", headers={"X-API-Key": rotated["token"]})
    assert me.status_code == 200
    assert me.json()["identity"]["name"] == "bi"
    listed = hub.client.get("/v1/identities", headers=admin).text
    assert rotated["token"].partition(".")[2] not in listed


def test_a_new_identity_can_do_nothing(hub: Any) -> None:
    headers = hub.caller("fresh")

    assert hub.client.get("/v1/me", headers=headers).status_code == 200
    assert hub.client.get("/v1/projects", headers=headers).status_code == 403
    assert hub.client.get("/v1/audit", headers=headers).status_code == 403


def _limited(store: Store, tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(
        create_app(store, settings=Settings(data_dir=tmp_path / "var", **settings))
    )


def test_callers_over_the_rate_limit_get_429_per_route(
    store: Store, tmp_path: Path
) -> None:
    client = _limited(store, tmp_path, rate_limit=60)  # a burst of 6
    with store.transaction() as tx:
        from tieline.governance import issue_api_key

        identity = create_identity(tx.connection, IdentityKind.SERVICE, "busy")
        key = issue_api_key(tx.connection, identity, scopes=["records:read"]).token
    headers = {"X-API-Key": key}

    answers = [client.get("/v1/me", headers=headers).status_code for _ in range(8)]
    other_route = client.get("/v1/projects", headers=headers)

    assert answers[:6] == [200] * 6
    assert answers[6:] == [429, 429]
    assert other_route.status_code == 403  # its own bucket, and no role
    limited = client.get("/v1/me", headers=headers)
    assert int(limited.headers["retry-after"]) >= 1


def test_repeated_failed_sign_ins_are_throttled(store: Store, tmp_path: Path) -> None:
    client = _limited(store, tmp_path, auth_failure_limit=5)

    answers = [
        client.get("/v1/me", headers={"X-API-Key": "tlk_x.y"}).status_code
        for _ in range(7)
    ]

    assert answers == [401] * 5 + [429] * 2


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    store: Store, tmp_path: Path
) -> None:
    client = _limited(store, tmp_path, max_request_bytes=2048)

    answer = client.post(
        "/v1/projects",
        content=b"{" + b" " * 4096 + b"}",
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


def test_every_answer_carries_the_security_headers(hub: Any) -> None:
    for answer in (hub.client.get("/health"), hub.client.get("/v1/me")):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"


def test_an_unexpected_error_shows_no_stack_trace(
    hub: Any, estate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tieline.governance.scope import ScopeResolver

    def explode(self: object, record: object) -> None:
        raise RuntimeError("secret internals at /srv/app/module.py line 42")

    monkeypatch.setattr(ScopeResolver, "of", explode)
    headers = hub.caller("auditor", (Role.AUDITOR, "*", None))

    answer = hub.client.get(f"/v1/projects/{estate['p_a']}", headers=headers)

    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "internals" not in answer.text
    assert "Traceback" not in answer.text
    assert answer.json()["correlation_id"] == answer.headers["x-correlation-id"]


def test_a_revoked_grant_or_a_disabled_identity_stops_at_once(hub: Any) -> None:
    admin = hub.caller("admin", (Role.ADMIN, "*", None))
    auditor = hub.caller("aud", (Role.AUDITOR, "*", None))
    me = hub.client.get("/v1/me", headers=auditor).json()["identity"]
    grant = {"role": "auditor", "legal_entity_id": "*"}
    assert hub.client.get("/v1/projects", headers=auditor).status_code == 200

    revoked = hub.client.post(
        f"/v1/identities/{me['id']}/grants/revoke", json=grant, headers=admin
    )
    again = hub.client.post(
        f"/v1/identities/{me['id']}/grants/revoke", json=grant, headers=admin
    )
    after_revoke = hub.client.get("/v1/projects", headers=auditor).status_code
    disabled = hub.client.post(f"/v1/identities/{me['id']}/disable", headers=admin)

    assert (revoked.status_code, again.status_code) == (204, 404)
    assert after_revoke == 403
    assert disabled.status_code == 204
    assert hub.client.get("/v1/me", headers=auditor).status_code == 401
