"""Odoo's three wire protocols over the double's ORM.

- JSON-RPC (`/jsonrpc`): errors are HTTP 200 with `error.code` 200 (17) or
  0 (19) and the exception in `error.data`; a None result has no `result`.
- XML-RPC (`/xmlrpc/2/<service>`): integer fault codes (3, 4, 2, 1); the
  legacy `/xmlrpc/<service>` uses string codes. A None result is a fault,
  but the call's writes are kept.
- JSON-2 (`/json/2/<model>/<method>`, Odoo 19): bearer API key, keyword
  body, bare results, real HTTP statuses.
"""

from __future__ import annotations

import json
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tieline.testing.odoo_double import _methods
from tieline.testing.odoo_double._errors import (
    OdooError,
    http_error,
    odoo_error,
    python_error,
)
from tieline.testing.odoo_double._orm import Database, Env

FaultHook = Callable[[str, str], None]


@dataclass
class Reply:
    """An HTTP answer: status, content type, body and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def version_info(db: Database) -> dict[str, Any]:
    """What `common.version` answers for the version the double plays."""
    if db.version >= 19:
        return {
            "server_version": "19.0",
            "server_version_info": [19, 0, 0, "final", 0, ""],
            "server_serie": "19.0",
            "protocol_version": 1,
        }
    return {
        "server_version": "17.0-20240709",
        "server_version_info": [17, 0, 0, "final", 0, ""],
        "server_serie": "17.0",
        "protocol_version": 1,
    }


def html(status: int, title: str, text: str, **headers: str) -> Reply:
    """A werkzeug-style HTML error page."""
    escaped = text.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
    escaped = escaped.replace(">", "&gt;").replace("&lt;br&gt;", "<br>")
    page = (
        f"<!doctype html>\n<html lang=en>\n<title>{status} {title}</title>\n"
        f"<h1>{title}</h1>\n<p>{escaped}</p>\n"
    )
    return Reply(status, page.encode(), "text/html; charset=utf-8", headers)


class Dispatcher:
    """Runs RPC services (`common`, `object`, `db`) against one database."""

    def __init__(self, db: Database, fault_hook: FaultHook) -> None:
        self.db = db
        self.fault_hook = fault_hook

    def rpc(self, service: Any, method: Any, args: list[Any]) -> Any:
        """Dispatch one RPC call as Odoo's `dispatch_rpc` does."""
        if service == "common":
            return self._common(method, args)
        if service == "object":
            return self._object(method, args)
        if service == "db":
            return self._db(method)
        raise python_error("KeyError", str(service))

    def _common(self, method: Any, args: list[Any]) -> Any:
        if method == "version":
            return version_info(self.db)
        if method in ("login", "authenticate"):
            self._check_db(args[0])
            return self.authenticate(str(args[1]), str(args[2])) or False
        if method == "about":
            return "See http://openerp.com"  # what 19 still answers, as recorded
        raise python_error("Exception", f"Method not found: {method}")

    def _db(self, method: Any) -> Any:
        if method == "list":
            return [self.db.name]
        if method == "server_version":
            return version_info(self.db)["server_version"]
        raise python_error("Exception", f"Method not found: {method}")

    def _check_db(self, name: Any) -> None:
        if name != self.db.name:
            raise OdooError(
                "psycopg2.OperationalError",
                'connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
                f'database "{name}" does not exist\n',
            )

    def authenticate(self, login: str, secret: str) -> int | None:
        """The uid for a login and a password or API key, or None."""
        for user in self.db.users.values():
            if user.login == login and (
                user.password == secret or self.db.api_keys.get(secret) == user.uid
            ):
                return user.uid
        return None

    def _object(self, method: Any, args: list[Any]) -> Any:
        if method not in ("execute_kw", "execute"):
            raise python_error("NameError", f"Method not available {method}")
        if method == "execute_kw" and len(args) < 6:
            missing = ["model", "method", "args"][max(0, len(args) - 3) :][-2:]
            raise python_error(
                "TypeError",
                f"execute_kw() missing {len(missing)} required positional arguments: "
                + " and ".join(f"'{m}'" for m in missing),
            )
        db_name, uid, secret, model, name = args[:5]
        self._check_db(db_name)
        self._check_user(uid, str(secret))
        if method == "execute":
            positional, kwargs = list(args[5:]), {}
        else:
            positional = list(args[5])
            kwargs = dict(args[6]) if len(args) > 6 and args[6] else {}
        return self.execute(int(uid), str(model), str(name), positional, kwargs)

    def _check_user(self, uid: Any, secret: str) -> None:
        user = self.db.users.get(uid) if isinstance(uid, int) else None
        if user is None:
            raise odoo_error(
                "MissingError",
                "Record does not exist or has been deleted.\n"
                f"(Record: res.users({uid},), User: {uid})",
            )
        if user.password != secret and self.db.api_keys.get(secret) != user.uid:
            raise odoo_error("AccessDenied", "Access Denied")

    def execute(
        self, uid: int, model: str, name: str, args: list[Any], kwargs: dict[str, Any]
    ) -> Any:
        """Run `model.name(*args, **kwargs)` as `uid` (execute_kw's core)."""
        context = dict(kwargs.get("context") or {})
        env = Env(self.db, uid, context)
        env.spec(model)
        entry = _methods.find(env, model, name, json2=False)
        bound = _methods.bind_positional(entry, name, args, kwargs)
        self.fault_hook(model, name)
        return _methods.call(env, model, name, bound)

    def execute_json2(
        self, uid: int, model: str, name: str, body: dict[str, Any]
    ) -> Any:
        """Run a JSON-2 call: keyword arguments, `ids`, `context`."""
        context = body.get("context") or {}
        if not isinstance(context, dict):
            raise python_error(
                "ValueError",
                "dictionary update sequence element #0 has length 1; 2 is required",
            )
        lang = context.get("lang")
        if lang and lang != "en_US":
            raise odoo_error("UserError", f"Invalid language code: {lang}")
        if model not in self.db.models:
            raise http_error("NotFound", f"the model '{model}' does not exist")
        env = Env(self.db, uid, {**context, "__json2__": True})
        entry = _methods.find(env, model, name, json2=True)
        bound = _methods.bind_json2(entry, model, name, body)
        self.fault_hook(model, name)
        return _methods.call(env, model, name, bound)


# JSON-RPC


def jsonrpc(dispatcher: Dispatcher, body: bytes, content_type: str) -> Reply:
    """Answer one `/jsonrpc` POST."""
    if not content_type.startswith("application/json"):
        return _not_json_route(dispatcher.db)
    try:
        request = json.loads(body)
    except ValueError:
        return Reply(400, b"Invalid JSON data", "text/html; charset=utf-8")
    if not isinstance(request, dict):
        return Reply(400, b"Invalid JSON-RPC data", "text/html; charset=utf-8")
    request_id = request.get("id")
    params = request.get("params") or {}
    try:
        if "method" not in params or "args" not in params:
            absent = [k for k in ("method", "args") if k not in params]
            raise python_error(
                "TypeError",
                f"RPC.jsonrpc() missing {len(absent)} required positional argument"
                f"{'s' if len(absent) > 1 else ''}: "
                + " and ".join(f"'{k}'" for k in absent),
            )
        result = dispatcher.rpc(params.get("service"), params["method"], params["args"])
    except OdooError as err:
        return _json(200, _jsonrpc_error(dispatcher.db, request_id, err))
    answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if result is not None:
        answer["result"] = result
    return _json(200, answer)


def _not_json_route(db: Database) -> Reply:
    if db.version >= 19:
        return html(
            415,
            "Unsupported Media Type",
            "Request inferred type is compatible with ['http', 'json2'] but "
            "'/jsonrpc' is type='json'.<br><br>Please verify the Content-Type "
            "request header and try again.",
        )
    return html(
        400,
        "Bad Request",
        "Request inferred type is compatible with ['http'] but '/jsonrpc' is "
        "type='json'.",
    )


def _jsonrpc_error(db: Database, request_id: Any, err: OdooError) -> dict[str, Any]:
    data = {
        "name": err.name,
        "debug": err.traceback_text(),
        "message": err.message,
        "arguments": [err.message],
        "context": {},
    }
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {
            "code": 0 if db.version >= 19 else 200,
            "message": "Odoo Server Error",
            "data": data,
        },
    }


def _json(status: int, payload: Any, **headers: str) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers)


# XML-RPC


def xmlrpc_call(
    dispatcher: Dispatcher, service: str, body: bytes, *, legacy: bool
) -> Reply:
    """Answer one `/xmlrpc/2/<service>` (or legacy `/xmlrpc/<service>`) POST."""
    try:
        params, method = xmlrpc.client.loads(body.decode(), use_builtin_types=True)
    except Exception as err:
        kind = type(err)
        name = (
            f"builtins.{kind.__name__}"
            if kind.__module__ == "builtins"
            else f"{kind.__module__}.{kind.__qualname__}"
        )
        return _xml(_fault(OdooError(name, str(err)), legacy=legacy))
    try:
        result = dispatcher.rpc(service, method, list(params))
    except OdooError as err:
        return _xml(_fault(err, legacy=legacy))
    if result is None:
        fault = python_error(
            "TypeError", "cannot marshal None unless allow_none is enabled"
        )
        return _xml(_fault(fault, legacy=legacy))
    return _xml(xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False))


def _fault(err: OdooError, *, legacy: bool) -> str:
    code: int | str = err.xmlrpc_code
    text = err.message if code in (2, 3, 4) else err.traceback_text()
    if legacy:
        if code == 3:
            code = "AccessDenied"
        elif code in (2, 4):
            short = err.name.rsplit(".", 1)[-1]
            code, text = f"warning -- {short}\n\n{err.message}", ""
        else:
            code = err.traceback_text()
    fault = xmlrpc.client.Fault(code, text)  # type: ignore[arg-type]
    return xmlrpc.client.dumps(fault, methodresponse=True)


def _xml(text: str) -> Reply:
    return Reply(200, text.encode(), "text/xml; charset=utf-8")


# JSON-2


def json2(
    dispatcher: Dispatcher,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> Reply:
    """Answer one request under `/json/2/` (Odoo 19 and later)."""
    parts = path.strip("/").split("/")
    if method != "POST" or len(parts) != 4:
        return _json2_error(
            http_error("NotFound", "Did you mean POST /json/2/<model>/<method>?")
        )
    database = headers.get("x-odoo-database")
    if database and database != dispatcher.db.name:
        return html(
            404,
            "Not Found",
            "No database is selected and the requested URL was not found in the "
            "server-wide controllers.",
        )
    uid = _bearer_uid(dispatcher, headers.get("authorization", ""))
    if isinstance(uid, Reply):
        return uid
    if body and not headers.get("content-type", "").startswith("application/json"):
        return html(
            415,
            "Unsupported Media Type",
            "Request inferred type is compatible with ['http'] but "
            "'/json/2/<__model__>/<__method__>' is type='json2'.<br><br>Please "
            "verify the Content-Type request header and try again.",
            Accept="application/json",
        )
    try:
        payload = _json2_body(body)
        result = dispatcher.execute_json2(uid, parts[2], parts[3], payload)
    except OdooError as err:
        return _json2_error(err)
    return _json(200, result, **{"X-Content-Type-Options": "nosniff"})


def _bearer_uid(dispatcher: Dispatcher, authorization: str) -> int | Reply:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return _json2_error(
            http_error(
                "Unauthorized",
                "User not authenticated, use an API Key with a Bearer Authorization "
                "header.",
            )
        )
    uid = dispatcher.db.api_keys.get(key.strip())
    if uid is None:
        return _json2_error(http_error("Unauthorized", "Invalid apikey"))
    return uid


def _json2_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        payload = json.loads(body)
    except ValueError as err:
        raise http_error(
            "BadRequest", f"could not parse the body as json: {err}"
        ) from err
    # A JSON array or string body is ignored: the method runs without
    # arguments (then usually fails for a missing one), as recorded.
    return payload if isinstance(payload, dict) else {}


def _json2_error(err: OdooError) -> Reply:
    status = err.json2_status
    arguments: list[Any] = [err.message, status] if err.http_error else [err.message]
    payload = {
        "name": err.name,
        "message": err.message,
        "arguments": arguments,
        "context": {},
        "debug": err.traceback_text(),
    }
    headers = {"WWW-Authenticate": "Bearer "} if status == 401 else {}
    return _json(status, payload, **headers)
