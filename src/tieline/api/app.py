"""The FastAPI application: health, the canonical records, governance.

Routes over the backbone (events, dead letters, webhook endpoints, inbound
sources) and the workflows' actions live in their own modules; this module
is the one place they are assembled. Middleware, outermost first:
security headers, correlation ids, the last-resort 500 handler, the body
size limit; then FastAPI, whose handlers turn every error into RFC 9457
problem details. Inbound webhooks (`/hooks/...`) skip that stack: their
edge (`tieline.api._hooks`) does its duties in one layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from tieline import __version__
from tieline.api import _problems as problems
from tieline.api._auth import ApiContext
from tieline.api._backbone import router as backbone_router
from tieline.api._closeout import router as closeout_router
from tieline.api._correlation import CorrelationMiddleware
from tieline.api._exceptions import router as exceptions_router
from tieline.api._governance import router as governance_router
from tieline.api._hooks import HookEdge, TielineApp
from tieline.api._inbound import router as inbound_router
from tieline.api._middleware import BodyLimit, LastResort, SecurityHeaders
from tieline.api._ratelimit import RateLimiter
from tieline.api._records import records_router
from tieline.api._submissions import router as submissions_router
from tieline.api._webhook_messages import router as webhook_messages_router
from tieline.api._webhooks import router as webhooks_router
from tieline.api._workflow_actions import router as workflow_router
from tieline.errors import ValidationFailed
from tieline.governance.runtime import Governance, build_governance
from tieline.governance.tokens import OidcVerifier, TokenIssuer
from tieline.settings import Settings
from tieline.store import Store


def create_app(
    store: Store,
    *,
    settings: Settings | None = None,
    governance: Governance | None = None,
    health: Callable[[], dict[str, dict[str, Any]]] | None = None,
) -> TielineApp:
    """The API over `store`; OpenAPI is published at `/openapi.json`.

    `health` reports the systems the hub depends on (Odoo), by name, each
    with a `status`; one that is not `ok` makes `/health` say `degraded`.
    """
    settings = settings or Settings()
    governance = governance or build_governance(settings)
    app = TielineApp(
        title="tieline",
        version=__version__,
        summary="The integration hub for construction companies that run Odoo.",
        openapi_url="/openapi.json",
        # The API serves JSON only; the interactive pages would need scripts
        # from elsewhere, which the content security policy forbids.
        docs_url=None,
        redoc_url=None,
    )
    app.state.tieline = _context(store, settings, governance)
    _add_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(LastResort)
    app.add_middleware(CorrelationMiddleware)
    app.add_middleware(SecurityHeaders)

    # Inbound webhooks: a plain ASGI app, so the raw body reaches verification
    # untouched; answered at the edge, before FastAPI and the middleware above
    # (see `tieline.api._hooks`), with the same body limit.
    from tieline.delivery.inbound import MAX_BODY, InboundReceiver

    app.hooks = HookEdge(
        InboundReceiver(store, max_body=min(MAX_BODY, settings.max_request_bytes))
    )

    @app.get("/health", tags=["operations"])
    def health_check() -> dict[str, Any]:
        """Whether the hub is up, its database answers, and its ERP with it.

        Answered 200 while the hub runs, `degraded` when a system it depends
        on does not answer (its work waits; nothing is lost), so that a
        liveness probe does not restart a hub because Odoo is down.
        """
        with store.read() as tx:
            tx.connection.execute(text("SELECT 1"))
        components = health() if health is not None else {}
        healthy = all(part.get("status") == "ok" for part in components.values())
        answer: dict[str, Any] = {
            "status": "ok" if healthy else "degraded",
            "version": __version__,
        }
        if components:
            answer["components"] = components
        return answer

    app.include_router(records_router())
    app.include_router(governance_router)
    app.include_router(backbone_router)
    app.include_router(webhooks_router)
    app.include_router(webhook_messages_router)
    app.include_router(inbound_router)
    app.include_router(workflow_router)
    app.include_router(closeout_router)
    app.include_router(exceptions_router)
    app.include_router(submissions_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _context(store: Store, settings: Settings, governance: Governance) -> ApiContext:
    oidc = None
    if settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks:
        oidc = OidcVerifier(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks=settings.oidc_jwks,
        )
    return ApiContext(
        store=store,
        governance=governance,
        tokens=TokenIssuer(
            governance.secret_bytes("token_signing_key"), ttl=settings.token_ttl
        ),
        oidc=oidc,
        limiter=RateLimiter(settings.rate_limit),
        failures=RateLimiter(
            settings.auth_failure_limit, burst=min(10, settings.auth_failure_limit)
        ),
    )


def _add_handlers(app: FastAPI) -> None:
    app.add_exception_handler(problems.Problem, problems.on_problem)
    app.add_exception_handler(ValidationFailed, problems.on_validation_failed)
    app.add_exception_handler(RequestValidationError, problems.on_request_invalid)
    app.add_exception_handler(StarletteHTTPException, problems.on_http_error)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with problem details in place of FastAPI's 422."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ProblemBody"] = problems.ProblemBody.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for name, schema in schemas["ProblemBody"].pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    # The edge answers any request 400 (NUL characters), 413 (too large) and
    # 500 (last resort) before a route sees it.
    edge = problems.problem_responses(400, 413, 500)
    problem_422 = problems.problem_responses(422)[422]
    for path in document["paths"].values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = problem_422
            for status, response in edge.items():
                responses.setdefault(str(status), response)
    app.openapi_schema = document
    return document
