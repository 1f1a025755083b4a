"""RFC 9457 problem details: every error the API returns has this shape.

`type` is a URI naming the problem (here `urn:tieline:problem:<slug>`),
`title` is fixed per type, `detail` says what happened in this request, and
`errors` lists the fields at fault (`field` is a dotted path into the body,
with list indexes in brackets: `lines[0].amount`). `correlation_id` lets an
operator find the request's log lines. No stack trace ever goes out.
See https://www.rfc-editor.org/rfc/rfc9457
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tieline._context import current_correlation_id
from tieline.errors import ValidationFailed
from tieline.governance.secrets import scrub
from tieline.money import LOCATED

MEDIA_TYPE = "application/problem+json"
RAW_BODY = "tieline.raw_body"

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid request",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
}


class FieldError(BaseModel):
    """One field at fault and what is wrong with it."""

    field: str
    message: str


class ProblemBody(BaseModel):
    """The problem-details document (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    correlation_id: str
    errors: list[FieldError] = []


class Problem(Exception):
    """An error answered as problem details; raise it from any route."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = list(errors)
        self.headers = headers or {}


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    """The JSON response for `problem`, secrets scrubbed from its text."""
    body = ProblemBody(
        type=f"urn:tieline:problem:{problem.slug}",
        title=_TITLES.get(problem.status, "Error"),
        status=problem.status,
        detail=scrub(problem.detail),
        instance=request.url.path if request is not None else None,
        correlation_id=current_correlation_id(),
        errors=[
            FieldError(field=e.field, message=scrub(e.message)) for e in problem.errors
        ],
    )
    return JSONResponse(
        body.model_dump(),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=problem.headers,
    )


def field_path(location: Sequence[Any]) -> str:
    """`("body", "lines", 0, "amount")` as `lines[0].amount`."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    path = ""
    for part in parts:
        path += (
            f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
        )
    return path or "body"


def locate(body: Any, message: str, prefix: str = "") -> str | None:
    """The path of the body leaf a ValidationFailed message quotes, if any.

    The model's money validators raise without knowing where they are; their
    messages start with the offending value's repr, which finds the field.
    """
    if isinstance(body, dict):
        items: list[tuple[str, Any]] = [
            (f"{prefix}.{key}" if prefix else str(key), value)
            for key, value in body.items()
        ]
    elif isinstance(body, list):
        items = [(f"{prefix}[{index}]", value) for index, value in enumerate(body)]
    else:
        return prefix if prefix and message.startswith(repr(body)) else None
    for path, value in items:
        found = locate(value, message, path)
        if found:
            return found
    return None


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    """Handler for Problem."""
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def on_validation_failed(request: Request, exc: Exception) -> JSONResponse:
    """Handler for the model's ValidationFailed: 422 naming the field."""
    assert isinstance(exc, ValidationFailed)
    field = (
        exc.field
        or _relocate(request)
        or locate(request.scope.get(RAW_BODY), exc.reason)
    )
    problem = Problem(
        422,
        str(exc) if exc.field or not field else f"{field}: {exc.reason}",
        slug="invalid-record",
        errors=[FieldError(field=field or "body", message=exc.reason)],
    )
    return problem_response(problem, request)


def _relocate(request: Request) -> str | None:
    """Where in the body a money value failed, from the route's body model.

    The model's money validators raise without knowing their place; the
    body is validated again with the context that makes them pydantic
    errors, which carry it.
    """
    body_field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    body = request.scope.get(RAW_BODY)
    if not (isinstance(model, type) and issubclass(model, BaseModel)) or body is None:
        return None
    try:
        model.model_validate(body, context={LOCATED: True})
    except ValidationError as err:
        for error in err.errors(include_url=False):
            if error["type"] == "decimal":
                return field_path(error["loc"])
    except ValidationFailed:
        return None
    return None


async def on_request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """Handler for FastAPI's request validation: 422 listing every field."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(field=field_path(error.get("loc", ())), message=str(error["msg"]))
        for error in exc.errors()
    ]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    problem = Problem(
        422, detail or "the request is invalid", slug="invalid-request", errors=errors
    )
    return problem_response(problem, request)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Handler for Starlette's HTTP errors (unknown routes, wrong methods)."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    return problem_response(
        Problem(exc.status_code, str(exc.detail), headers=headers), request
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem answers."""
    return {
        status: {
            "description": _TITLES.get(status, "Error"),
            "content": {
                MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}
            },
        }
        for status in statuses
    }
