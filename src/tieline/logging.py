"""Structured logging: structlog over the standard library's logging.

Every line carries the event text (constant) and key/value fields; the unit of
work's `correlation_id` is merged in from contextvars. `configure_logging` is
called once by the CLI; tests may call it again (it resets the handlers).
"""

from __future__ import annotations

import logging
import sys

import structlog

from tieline.settings import Settings

_SECRET_KEYS = ("password", "secret", "token", "api_key", "authorization")


def _redact_secrets(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    for key in list(event_dict):
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event_dict[key] = "***"
    return event_dict


def configure_logging(settings: Settings) -> None:
    """Send structlog and stdlib logging to stderr at the configured level."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Alembic narrates every plugin it loads at info; its steps matter only
    # when something goes wrong.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request at info with its whole URL, which may carry a
    # webhook's token; tieline's clients log their own calls at debug
    # (`odoo.call`, the dispatcher's delivery lines), secrets left out.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    structlog.configure(
        # The level is checked first: below it, a line costs one comparison
        # instead of the whole chain (the dispatcher's per-message debug line
        # took about 2% of the webhook pipeline's CPU at level WARNING).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger named for its module."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
