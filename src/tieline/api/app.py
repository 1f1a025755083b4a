"""The FastAPI application: health and the published OpenAPI document.

Routes over the canonical resources, workflows and the backbone are added by
their own issues; this module is the one place they are assembled.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from tieline import __version__
from tieline.api._correlation import CorrelationMiddleware
from tieline.store import Store


def create_app(store: Store) -> FastAPI:
    """The API over `store`; OpenAPI is published at `/openapi.json`."""
    app = FastAPI(
        title="tieline",
        version=__version__,
        summary="The integration hub for construction companies that run Odoo.",
        openapi_url="/openapi.json",
    )

    app.add_middleware(CorrelationMiddleware)

    # Inbound webhooks: a plain ASGI app, so the raw body reaches verification
    # untouched and the hot path skips FastAPI's request parsing.
    from tieline.delivery import InboundReceiver

    app.mount("/hooks", InboundReceiver(store))

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, Any]:
        """Whether the hub is up and its database answers."""
        with store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    return app
