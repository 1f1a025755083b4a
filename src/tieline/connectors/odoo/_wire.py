"""The three wire protocols, sending calls as keywords and money exactly.

Every call is `model.method(ids?, **kwargs)`: JSON-RPC and XML-RPC send it
through `execute_kw` with `[ids]` (or `[]`) as the only positional argument,
JSON-2 posts the keywords with `ids`. Numbers in answers are read as
`Decimal` (never float), and `Decimal` values are written as JSON numbers
with their exact digits.
"""

from __future__ import annotations

import json
import re
import xmlrpc.client
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from tieline.connectors.odoo._errors import (
    OdooAuthFailed,
    OdooCallError,
    OdooResponseLost,
    OdooThrottled,
    OdooUnavailable,
    classify,
)

_MARK = "\u0000dec:"
_MARKED = re.compile(r'"\\u0000dec:([-0-9.Ee+]+)"')


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_MARK}{value}"
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def dumps(payload: Any) -> bytes:
    """JSON with Decimals written as exact numbers."""
    return _MARKED.sub(r"\1", json.dumps(_encode(payload))).encode()


def loads(body: bytes) -> Any:
    """JSON with every non-integer number read as Decimal."""
    return json.loads(body, parse_float=Decimal)


class Wire:
    """One protocol: sends a call, returns Odoo's result or raises ours."""

    def __init__(self, http: httpx.Client, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    def post(
        self, path: str, content: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        """POST and translate transport failures to retryable errors."""
        try:
            response = self.http.post(
                self.base_url + path, content=content, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            raise OdooUnavailable(
                f"cannot reach Odoo at {self.base_url}: {err}"
            ) from err
        except (httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.ReadError) as err:
            raise OdooResponseLost(
                f"no answer from Odoo at {self.base_url}: {err}"
            ) from err
        status = response.status_code
        if status == 429:
            wait = retry_after(response.headers.get("retry-after"))
            raise OdooThrottled(
                f"Odoo at {self.base_url} answered HTTP 429 (too many requests)"
                + (f", retry after {wait:g}s" if wait is not None else ""),
                retry_after=wait,
            )
        if status in (500, 502, 503, 504) and not _is_json(response):
            # 503 means nothing ran (no worker, or maintenance); after a bare
            # 500, or a proxy's 502/504, Odoo may have run the call anyway.
            raise OdooUnavailable(
                f"Odoo at {self.base_url} answered HTTP {status}",
                in_doubt=status != 503,
            )
        return response


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/json")


class JsonRpcWire(Wire):
    """`/jsonrpc`: `common` and `object` services (Odoo 8 to 19)."""

    def __init__(self, http: httpx.Client, base_url: str) -> None:
        super().__init__(http, base_url)
        self._next_id = 0

    def rpc(self, service: str, method: str, args: list[Any]) -> Any:
        """Call `service.method(*args)` and return its result (None if absent)."""
        self._next_id += 1
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": self._next_id,
            "params": {"service": service, "method": method, "args": args},
        }
        response = self.post(
            "/jsonrpc", dumps(body), {"Content-Type": "application/json"}
        )
        if response.status_code != 200:
            raise OdooCallError(
                f"Odoo answered HTTP {response.status_code} on /jsonrpc"
            )
        answer = loads(response.content)
        if not isinstance(answer, dict):
            raise OdooCallError(
                f"a JSON {type(answer).__name__} on /jsonrpc, not a JSON-RPC answer"
            )
        if "error" in answer:
            data = answer["error"].get("data") or {}
            model, name = (args[3], args[4]) if service == "object" else (None, method)
            raise classify(
                str(data.get("name", "")),
                str(data.get("message", answer["error"].get("message"))),
                model=model,
                method=name,
            )
        return answer.get("result")


# NOTE: xmlrpc.client's dispatch tables are typed for its own classes only;
# extending them for Decimal needs the ignores below.
class _DecimalUnmarshaller(xmlrpc.client.Unmarshaller):
    dispatch: ClassVar[dict[str, Any]] = dict(xmlrpc.client.Unmarshaller.dispatch)  # type: ignore[misc]

    def end_double(self, data: str) -> None:
        self.append(Decimal(data))
        self._value = False

    dispatch["double"] = end_double


class _DecimalMarshaller(xmlrpc.client.Marshaller):
    dispatch: ClassVar[dict[Any, Any]] = dict(xmlrpc.client.Marshaller.dispatch)  # type: ignore[misc]

    def dump_decimal(self, value: Decimal, write: Any) -> None:
        write(f"<value><double>{value}</double></value>\n")

    dispatch[Decimal] = dump_decimal


class XmlRpcWire(Wire):
    """`/xmlrpc/2/<service>`; a method that returns None is fault 1 (kept)."""

    def rpc(self, service: str, method: str, args: list[Any]) -> Any:
        """Call `service.method(*args)` over XML-RPC."""
        marshaller = _DecimalMarshaller("utf-8", allow_none=False)
        params = marshaller.dumps(tuple(args))
        body = (
            "<?xml version='1.0'?>\n<methodCall>\n"
            f"<methodName>{method}</methodName>\n{params}</methodCall>\n"
        )
        response = self.post(
            f"/xmlrpc/2/{service}", body.encode(), {"Content-Type": "text/xml"}
        )
        unmarshaller = _DecimalUnmarshaller(use_builtin_types=True)
        parser = xmlrpc.client.ExpatParser(unmarshaller)
        parser.feed(response.content)
        parser.close()
        try:
            return unmarshaller.close()[0]
        except xmlrpc.client.Fault as fault:
            raise _fault_error(fault, service, args) from fault


def _fault_error(
    fault: xmlrpc.client.Fault, service: str, args: list[Any]
) -> Exception:
    model, name = (
        (args[3], args[4]) if service == "object" and len(args) > 4 else (None, None)
    )
    text = str(fault.faultString)
    if "cannot marshal None" in text:
        return _NoneResult()
    names = {
        3: "odoo.exceptions.AccessDenied",
        4: "odoo.exceptions.AccessError",
        2: "odoo.exceptions.UserError",
    }
    error_name = names.get(fault.faultCode, "")
    if not error_name:
        last = text.strip().splitlines()[-1] if text.strip() else ""
        error_name, _, text = last.partition(": ")
    if "does not exist or has been deleted" in text:
        error_name = "odoo.exceptions.MissingError"
    return classify(error_name, text, model=model, method=name)


class _NoneResult(Exception):
    """XML-RPC cannot carry None: the method ran and returned nothing."""


def xmlrpc_none(err: BaseException) -> bool:
    """Whether `err` is XML-RPC's "the method returned None" fault."""
    return isinstance(err, _NoneResult)


class Json2Wire(Wire):
    """`/json/2/<model>/<method>` with a bearer API key (Odoo 19+)."""

    def __init__(
        self, http: httpx.Client, base_url: str, *, api_key: str, database: str
    ) -> None:
        super().__init__(http, base_url)
        self._headers = {
            "Authorization": f"bearer {api_key}",
            "Content-Type": "application/json",
            "X-Odoo-Database": database,
        }

    def call(self, model: str, method: str, body: dict[str, Any]) -> Any:
        """POST the keyword body; a bare result or a typed error comes back."""
        response = self.post(f"/json/2/{model}/{method}", dumps(body), self._headers)
        if response.status_code == 200:
            return loads(response.content)
        if not _is_json(response):
            if response.status_code == 401:
                raise OdooAuthFailed("Odoo refused the API key")
            raise OdooCallError(f"Odoo answered HTTP {response.status_code} on JSON-2")
        error = loads(response.content)
        raise classify(
            str(error.get("name", "")),
            str(error.get("message", "")),
            model=model,
            method=method,
        )
