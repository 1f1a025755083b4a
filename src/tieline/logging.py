"""Structured logging: structlog over the standard library's logging.

Every line carries the event text (constant) and key/value fields; the unit of
work's `correlation_id` is merged in from contextvars. `configure_logging` is
called once by the CLI; tests may call it again (it resets the handlers).
"""

from __future__ import annotations

import logging
import re
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


# A token in an inbound webhook's URL (`/hooks/<source>/<token>`), and query
# parameters named like secrets.
_HOOK_TOKEN = re.compile(r"^(/hooks/[^/?]+)/[^?]*")
_SECRET_QUERY = re.compile(
    r"([?&][^=&]*(?:token|secret|key|password|signature)[^=&]*=)[^&]*", re.I
)


class RedactAccessPaths(logging.Filter):
    """Masks secrets in the request paths of uvicorn's access lines.

    Senders that cannot sign (Odoo's webhook action) put their token in the
    URL; uvicorn logs every request's path, so without this the token would
    be in the log of every request, refused ones included.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the path argument; never drops the line."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = _HOOK_TOKEN.sub(r"\1/***", args[2])
            path = _SECRET_QUERY.sub(r"\1***", path)
            record.args = (*args[:2], path, *args[3:])
        return True


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
    access = logging.getLogger("uvicorn.access")
    access.filters[:] = [
        f for f in access.filters if not isinstance(f, RedactAccessPaths)
    ]
    access.addFilter(RedactAccessPaths())
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
