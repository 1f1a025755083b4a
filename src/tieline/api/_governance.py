"""Routes for identities, keys, grants, the audit log and OAuth 2 tokens.

`/oauth/token` implements the client-credentials grant (RFC 6749 section
4.4): the client id is an API key's id, the secret its secret, and the
answer and its errors follow sections 5.1 and 5.2 (not problem details,
because OAuth clients parse that shape). Identity administration needs the
admin role and the `governance:admin` scope; reading the audit log needs the
admin or auditor role and `audit:read`. Every change is audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tieline.api._auth import ApiContext, Caller, api_context, client_address
from tieline.api._problems import Problem, problem_responses
from tieline.governance import identities as ids
from tieline.governance.identities import AuthenticationFailed, Principal
from tieline.governance.roles import AUDIT_ROLES, GOVERNANCE_ROLES, Grant, Role, Scope

router = APIRouter()
IdentityId = Annotated[str, Path(min_length=1, max_length=64)]
KeyId = Annotated[str, Path(min_length=1, max_length=40)]


class Strict(BaseModel):
    """Bodies refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class IdentityIn(Strict):
    """A new identity."""

    kind: ids.IdentityKind
    name: str = Field(min_length=1, max_length=200)
    issuer: str | None = Field(default=None, max_length=300)
    subject: str | None = Field(default=None, max_length=300)


class IdentityOut(BaseModel):
    """An identity as the API shows it."""

    id: str
    kind: ids.IdentityKind
    name: str
    disabled: bool


class GrantIn(Strict):
    """A role to give, in one legal entity ('*' for all)."""

    role: Role
    legal_entity_id: str = Field(min_length=1, max_length=36)
    supplier_id: str | None = Field(default=None, min_length=1, max_length=36)


class GrantOut(BaseModel):
    """A grant as the API shows it."""

    role: Role
    legal_entity_id: str
    supplier_id: str | None


class KeyIn(Strict):
    """A new API key's scopes and lifetime."""

    scopes: list[Scope] = Field(min_length=1)
    days: int = Field(default=90, ge=1, le=366)


class KeyOut(BaseModel):
    """A new key: `token` is shown this once and never again."""

    key_id: str
    token: str
    expires_at: datetime
    scopes: list[str]


class RotateIn(Strict):
    """How long the old key keeps working after rotation."""

    overlap_hours: int = Field(default=24, ge=0, le=24 * 30)


class MeOut(BaseModel):
    """Who the caller is and what it holds."""

    identity: IdentityOut
    grants: list[GrantOut]
    scopes: list[str]


class AuditEntryOut(BaseModel):
    """One audit entry."""

    seq: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    target: str
    outcome: str
    source: str
    correlation_id: str
    details: dict[str, Any]
    prev_mac: str
    mac: str


class AuditPage(BaseModel):
    """Audit entries after a sequence number."""

    items: list[AuditEntryOut]
    next_after: int | None


class VerificationOut(BaseModel):
    """The result of checking the chain."""

    intact: bool
    entries: int
    head: int
    first_bad: int | None
    problem: str | None
    anchored: bool


class TokenOut(BaseModel):
    """An access token (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    """An OAuth error (RFC 6749 section 5.2)."""

    error: str
    error_description: str | None = None


def _require(
    context: ApiContext,
    request: Request,
    caller: Principal,
    roles: frozenset[Role],
    scope: Scope,
) -> None:
    if caller.has_role(roles) and scope in caller.scopes:
        return
    context.governance.audit.record(
        context.store,
        actor=caller.actor,
        action="permission.refused",
        target=f"{request.method} {request.url.path}",
        outcome="refused",
        source=client_address(request),
        details={"wanted": scope.value},
    )
    raise Problem(403, "your roles or credential scopes do not allow this")


def _identity_out(identity: ids.Identity) -> IdentityOut:
    return IdentityOut(
        id=identity.id,
        kind=identity.kind,
        name=identity.name,
        disabled=identity.disabled,
    )


def _admin_change(
    context: ApiContext,
    request: Request,
    caller: Principal,
    action: str,
    target: str,
    work: Any,
    details: dict[str, Any],
) -> Any:
    with context.governance.audit.transaction(context.store) as audited:
        result = work(audited.transaction.connection)
        audited.record(
            actor=caller.actor,
            action=action,
            target=target,
            source=client_address(request),
            details=details,
        )
    return result


@router.get(
    "/v1/me",
    response_model=MeOut,
    tags=["governance"],
    responses=problem_responses(401, 429),
)
def me(caller: Caller) -> MeOut:
    """The caller's identity, grants and credential scopes."""
    return MeOut(
        identity=_identity_out(caller.identity),
        grants=[
            GrantOut(
                role=g.role,
                legal_entity_id=g.legal_entity_id,
                supplier_id=g.supplier_id,
            )
            for g in caller.grants
        ],
        scopes=sorted(s.value for s in caller.scopes),
    )


@router.get(
    "/v1/identities",
    response_model=list[IdentityOut],
    tags=["governance"],
    responses=problem_responses(401, 403, 429),
)
def list_identities(request: Request, caller: Caller) -> list[IdentityOut]:
    """Every identity (admin)."""
    context = api_context(request)
    _require(context, request, caller, GOVERNANCE_ROLES, Scope.GOVERNANCE_ADMIN)
    with context.store.transaction() as tx:
        return [_identity_out(i) for i in ids.list_identities(tx.connection)]


@router.post(
    "/v1/identities",
    response_model=IdentityOut,
    status_code=201,
    tags=["governance"],
    responses=problem_responses(401, 403, 413, 422, 429),
)
def create_identity(request: Request, caller: Caller, body: IdentityIn) -> IdentityOut:
    """Register a service or a person; it can do nothing until granted a role."""
    context = api_context(request)
    _require(context, request, caller, GOVERNANCE_ROLES, Scope.GOVERNANCE_ADMIN)
    identity = _admin_change(
        context,
        request,
        caller,
        "identity.created",
        f"identity/{body.name}",
        lambda c: ids.create_identity(
            c, body.kind, body.name, issuer=body.issuer, subject=body.subject
        ),
        {"kind": body.kind.value},
    )
    return _identity_out(identity)


def _find(context: ApiContext, identity_id: str) -> ids.Identity:
    with context.store.transaction() as tx:
        identity = ids.get_identity(tx.connection, identity_id)
    if identity is None:
        raise Problem(404, f"no identity {identity_id}")
    return identity


@router.post(
    "/v1/identities/{identity_id}/grants",
    response_model=GrantOut,
    status_code=201,
    tags=["governance"],
    responses=problem_responses(401, 403, 404, 413, 422, 429),
)
def grant(
    request: Request, caller: Caller, identity_id: IdentityId, body: GrantIn
) -> GrantOut:
    """Give an identity a role in one legal entity (admin)."""
    context = api_context(request)
    _require(context, request, caller, GOVERNANCE_ROLES, Scope.GOVERNANCE_ADMIN)
    identity = _find(context, identity_id)
    given = _admin_change(
        context,
        request,
        caller,
        "role.granted",
        f"identity/{identity.id}",
        lambda c: ids.grant_role(
            c,
            identity,
            body.role,
            legal_entity_id=body.legal_entity_id,
            supplier_id=body.supplier_id,
            granted_by=caller.actor,
        ),
        body.model_dump(mode="json"),
    )
    return GrantOut(
        role=given.role,
        legal_entity_id=given.legal_entity_id,
        supplier_id=given.supplier_id,
    )


@router.post(
    "/v1/identities/{identity_id}/grants/revoke",
    status_code=204,
    tags=["governance"],
    responses=problem_responses(401, 403, 404, 413, 422, 429),
)
def revoke_grant(
    request: Request, caller: Caller, identity_id: IdentityId, body: GrantIn
) -> None:
    """Take a role back (admin); 404 when the identity did not hold it."""
    context = api_context(request)
    _require(context, request, caller, GOVERNANCE_ROLES, Scope.GOVERNANCE_ADMIN)
    identity = _find(context, identity_id)
    taken = _admin_change(
        context,
        request,
        caller,
        "role.revoked",
        f"identity/{identity.id}",
        lambda c: ids.revoke_role(
            c, identity, Grant(body.role, body.legal_entity_id, body.supplier_id)
        ),
        body.model_dump(mode="json"),
    )
    if not taken:
        raise Problem(404, f"identity {identity.name} holds no such grant")


@router.post(
    "/v1/identities/{identity_id}/disable",
    status_code=204,
    tags=["governance"],
    responses=problem_responses(401, 403, 404, 429),
)
def disable(request: Request, caller: Caller, identity_id: IdentityId) -> None:
    """Stop an identity: all its keys and tokens fail from the next request."""
    context = api_context(request)
    _require(context, request, caller, GOVERNANCE_ROLES, Scope.GOVERNANCE_ADMIN)
    identity = _find(context, identity_id)
    _admin_change(
        context,
        request,
        caller,
        "identity.disabled",
        f"identity/{identity.id}",
        lambda c: ids.disable_identity(c, identity.id),
        {},
    )


def _key_out(issued: ids.IssuedKey) -> KeyOut:
    return KeyOut(
        key_id=issued.key_id,
        token=issued.token,
        expires_at=issued.expires_at,
        scopes=list(issued.scopes),
    )


@router.post(
    "/v1/identities/{identity_id}/keys",
    response_model=KeyOut,
    status_code=201,
    tags=["governance"],
    responses=problem_responses(401, 403, 404, 413, 422, 429),
)
def issue_key(
    request: Request, caller: Caller, identity_id: IdentityId, body: KeyIn
) -> KeyOut:
    """Issue an API key to a service; the answer is the only time it is shown."""
    context = api_context(request)
    _require(context, request, caller, GOVERNANCE_ROLES, Scope.GOVERNANCE_ADMIN)
    identity = _find(context, identity_id)
    scopes = [scope.value for scope in body.scopes]
    issued = _admin_change(
        context,
        request,
        caller,
        "api_key.issued",
        f"identity/{identity.id}",
        lambda c: ids.issue_api_key(
            c, identity, scopes=scopes, lifetime=timedelta(days=body.days)
        ),
        {"scopes": scopes, "days": body.days},
    )
    return _key_out(issued)


@router.post(
    "/v1/keys/{key_id}/rotate",
    response_model=KeyOut,
    status_code=201,
    tags=["governance"],
    responses=problem_responses(401, 403, 413, 422, 429),
)
def rotate_key(
    request: Request, caller: Caller, key_id: KeyId, body: RotateIn
) -> KeyOut:
    """Issue a successor key; the old one works for the overlap, then stops."""
    context = api_context(request)
    _require(context, request, caller, GOVERNANCE_ROLES, Scope.GOVERNANCE_ADMIN)
    issued = _admin_change(
        context,
        request,
        caller,
        "api_key.rotated",
        f"api_key/{key_id}",
        lambda c: ids.rotate_api_key(
            c, key_id, overlap=timedelta(hours=body.overlap_hours)
        ),
        {"overlap_hours": body.overlap_hours},
    )
    return _key_out(issued)


@router.post(
    "/v1/keys/{key_id}/revoke",
    status_code=204,
    tags=["governance"],
    responses=problem_responses(401, 403, 404, 429),
)
def revoke_key(request: Request, caller: Caller, key_id: KeyId) -> None:
    """Stop a key at once."""
    context = api_context(request)
    _require(context, request, caller, GOVERNANCE_ROLES, Scope.GOVERNANCE_ADMIN)
    revoked = _admin_change(
        context,
        request,
        caller,
        "api_key.revoked",
        f"api_key/{key_id}",
        lambda c: ids.revoke_api_key(c, key_id),
        {},
    )
    if not revoked:
        raise Problem(404, f"no live key {key_id}")


@router.get(
    "/v1/audit",
    response_model=AuditPage,
    tags=["governance"],
    responses=problem_responses(401, 403, 422, 429),
)
def audit_entries(
    request: Request,
    caller: Caller,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Audit entries after sequence number `after` (admin, auditor)."""
    context = api_context(request)
    _require(context, request, caller, AUDIT_ROLES, Scope.AUDIT_READ)
    items: list[AuditEntryOut] = []
    with context.store.transaction() as tx:
        for entry in context.governance.audit.entries(tx.connection, after=after):
            items.append(AuditEntryOut.model_validate(entry.to_dict()))
            if len(items) == limit:
                break
    next_after = items[-1].seq if len(items) == limit else None
    return AuditPage(items=items, next_after=next_after)


@router.get(
    "/v1/audit/verification",
    response_model=VerificationOut,
    tags=["governance"],
    responses=problem_responses(401, 403, 429),
)
def audit_verification(request: Request, caller: Caller) -> VerificationOut:
    """Check the audit chain and its anchor now (admin, auditor)."""
    context = api_context(request)
    _require(context, request, caller, AUDIT_ROLES, Scope.AUDIT_READ)
    with context.store.transaction() as tx:
        result = context.governance.audit.verify(tx.connection)
    return VerificationOut(
        intact=result.intact,
        entries=result.entries,
        head=result.head,
        first_bad=result.first_bad,
        problem=result.problem,
        anchored=result.anchored,
    )


_FORM = {
    "application/x-www-form-urlencoded": {
        "schema": {
            "type": "object",
            "required": ["grant_type", "client_id", "client_secret"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                "client_id": {"type": "string"},
                "client_secret": {"type": "string"},
                "scope": {"type": "string"},
            },
        }
    }
}
_OAUTH_ERROR = {
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}
    }
}


@router.post(
    "/oauth/token",
    response_model=TokenOut,
    tags=["governance"],
    openapi_extra={"requestBody": {"required": True, "content": _FORM}},
    responses={
        400: {"description": "Bad grant", **_OAUTH_ERROR},
        401: {"description": "Bad client", **_OAUTH_ERROR},
        **problem_responses(413, 429),
    },
)
async def token(request: Request) -> JSONResponse:
    """Trade client credentials for a short-lived access token."""
    context = api_context(request)
    form = {
        k: v[0]
        for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()
    }
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type")
    secret = f"{form.get('client_id', '')}.{form.get('client_secret', '')}"
    try:
        with context.store.transaction() as tx:
            identity, key_id, row = ids.check_api_key(tx.connection, secret)
    except AuthenticationFailed as err:
        return _refuse_client(context, request, err)
    granted = tuple(row.scopes)
    asked = tuple(form["scope"].split()) if form.get("scope") else granted
    if not set(asked) <= set(granted):
        return _oauth_error(400, "invalid_scope")
    access = context.tokens.issue(identity, key_id, asked)
    context.governance.audit.record(
        context.store,
        actor=f"service:{identity.name}",
        action="token.issued",
        target=f"api_key/{key_id}",
        source=client_address(request),
        details={"scopes": list(asked), "ttl": context.tokens.ttl},
    )
    body = TokenOut(
        access_token=access,
        token_type="Bearer",  # noqa: S106 - the RFC's token type, not a secret
        expires_in=context.tokens.ttl,
        scope=" ".join(asked),
    )
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})


def _oauth_error(status: int, error: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="tieline"'} if status == 401 else {}
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _refuse_client(
    context: ApiContext, request: Request, err: AuthenticationFailed
) -> JSONResponse:
    address = client_address(request)
    if context.failures.take(address) is not None:
        raise Problem(
            429, "too many failed sign-ins; retry later", headers={"Retry-After": "60"}
        )
    context.governance.audit.record(
        context.store,
        actor="anonymous",
        action="auth.failed",
        target="/oauth/token",
        outcome="refused",
        source=address,
        details={"reason": err.reason},
    )
    return _oauth_error(401, "invalid_client")
