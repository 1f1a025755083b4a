"""Authentication on every route: API keys, hub tokens and people's OIDC tokens.

A caller presents an API key (services) as `X-API-Key: <key id>.<secret>`
or as `Authorization: Bearer tlk_...` (key ids start `tlk_`, which no JWT
does), or `Authorization: Bearer <token>` with a token from `/oauth/token`
(services) or from the customer's identity provider (people). Which verifier checks a
bearer token is chosen by its `iss`; anything else is refused. A failure is
answered 401 with no reason (the reason goes to the audit log), and failures
per client address are rate limited, so that guessing keys is slow and loud.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection

from tieline.api._problems import Problem
from tieline.api._ratelimit import RateLimiter
from tieline.governance.identities import (
    KEY_PREFIX,
    AuthenticationFailed,
    Principal,
    find_human,
    get_identity,
    grants_of,
    key_principal,
    live_key_scopes,
    parse_scopes,
)
from tieline.governance.roles import ALL_SCOPES
from tieline.governance.runtime import Governance
from tieline.governance.tokens import (
    ISSUER,
    OidcVerifier,
    TokenIssuer,
    token_issuer_name,
)
from tieline.logging import get_logger
from tieline.store import Store

log = get_logger(__name__)

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="A service's API key: `<key id>.<secret>`.",
)
bearer_header = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description=(
        "An API key (`tlk_<id>.<secret>`), a token from /oauth/token, "
        "or a person's OIDC token."
    ),
)

_KEY_ID = re.compile(r"tlk_[0-9a-f]{16}")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tieline", charset="UTF-8"'}


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What every route needs: the store, governance, verifiers and limits."""

    store: Store
    governance: Governance
    tokens: TokenIssuer
    oidc: OidcVerifier | None
    limiter: RateLimiter
    failures: RateLimiter


def api_context(request: Request) -> ApiContext:
    """The context the app was built with."""
    context: ApiContext = request.app.state.tieline
    return context


def client_address(request: Request) -> str:
    """The caller's address as the server saw it (no proxy headers trusted)."""
    return request.client.host if request.client is not None else "-"


def authenticate(
    request: Request,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
    bearer: Annotated[
        HTTPAuthorizationCredentials | None, Security(bearer_header)
    ] = None,
) -> Principal:
    """The caller, or 401 (audited); 429 when over the rate limit."""
    context = api_context(request)
    try:
        # Read-only: on SQLite, no request waits for the writer to sign in.
        with context.store.read() as tx:
            principal = _principal(context, tx.connection, api_key, bearer)
    except AuthenticationFailed as err:
        presented = api_key or (bearer.credentials if bearer is not None else None)
        raise _refuse(context, request, err, presented) from None
    _limit(context.limiter, f"{principal.identity.id}|{_route(request)}")
    request.state.principal = principal
    return principal


Caller = Annotated[Principal, Depends(authenticate)]


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def _limit(limiter: RateLimiter, key: str) -> None:
    wait = limiter.take(key)
    if wait is not None:
        raise Problem(
            429,
            "rate limit reached; retry later",
            headers={"Retry-After": str(int(wait))},
        )


def _principal(
    context: ApiContext,
    connection: Connection,
    api_key: str | None,
    bearer: HTTPAuthorizationCredentials | None,
) -> Principal:
    if api_key:
        return key_principal(connection, api_key)
    if bearer is None or not bearer.credentials:
        raise AuthenticationFailed("no credentials")
    token = bearer.credentials
    if token.startswith(KEY_PREFIX):
        return key_principal(connection, token)
    issuer = token_issuer_name(token)
    if issuer == ISSUER:
        return _service_token(context, connection, token)
    if context.oidc is not None and issuer == context.oidc.issuer:
        return _person_token(context.oidc, connection, token)
    raise AuthenticationFailed("bearer token from an unknown issuer")


def _service_token(
    context: ApiContext, connection: Connection, token: str
) -> Principal:
    claims = context.tokens.verify(token)
    identity = get_identity(connection, claims.identity_id)
    if identity is None or identity.disabled:
        raise AuthenticationFailed("token's identity is unknown or disabled")
    # A revoked or expired key ends its tokens too, within one request.
    scopes = parse_scopes(claims.scopes) & live_key_scopes(connection, claims.key_id)
    return Principal(
        identity, grants_of(connection, identity.id), scopes, claims.key_id
    )


def _person_token(oidc: OidcVerifier, connection: Connection, token: str) -> Principal:
    # People are registered by an admin first (issuer and subject); an
    # unknown subject is refused rather than created, so that no identity
    # appears without a decision.
    subject = oidc.verify(token)
    identity = find_human(connection, oidc.issuer, subject)
    if identity is None:
        raise AuthenticationFailed(f"no person registered for subject {subject[:60]}")
    if identity.disabled:
        raise AuthenticationFailed(f"person {identity.name} is disabled")
    grants = grants_of(connection, identity.id)
    return Principal(identity, grants, ALL_SCOPES, f"oidc:{subject[:60]}")


def _refuse(
    context: ApiContext,
    request: Request,
    err: AuthenticationFailed,
    credential: str | None,
) -> Problem:
    address = client_address(request)
    if context.failures.take(address) is not None:
        # Over the failure budget: answer without another audit row, so a
        # flood of guesses cannot flood the audit log.
        log.info("api.auth_throttled", client=address)
        return Problem(
            429, "too many failed sign-ins; retry later", headers={"Retry-After": "60"}
        )
    # Only a well-formed key id is recorded: a pasted secret never is.
    key_id = (credential or "").partition(".")[0]
    presented = key_id if _KEY_ID.fullmatch(key_id) else "-"
    context.governance.audit.record(
        context.store,
        actor="anonymous",
        action="auth.failed",
        target=_route(request),
        outcome="refused",
        source=address,
        details={"reason": err.reason, "key_id": presented},
    )
    log.info("api.auth_failed", client=address, route=_route(request))
    return Problem(401, "authentication failed", headers=CHALLENGE)
