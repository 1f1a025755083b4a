"""The Odoo client: version detection, login, limits, retries, one call API.

`OdooClient.connect(url, database, login, secret)` asks the server its
version (GET `/json/version`, else `common.version` over `/jsonrpc`), then
picks the protocol: JSON-2 with the secret as API key from Odoo 19 on,
JSON-RPC before (the secret is a password or an API key; both work there).
`call(model, method, ids=None, **kwargs)` is the same on every protocol.
`OdooClient.deferred(...)` does the same on its first call instead, and
again on the next call after a failed attempt: a hub started while its Odoo
is down connects once Odoo answers.

Limits per Odoo instance (URL and database), shared by every client of it:
at most `max_in_flight` calls at once and `calls_per_second` started per
second, so a month-end burst cannot flatten the customer's ERP.

TODO: the limits hold within one process; several worker processes each
apply them, so N workers may press one Odoo N times as hard until the limit
is shared (e.g. through the database or NATS).

Retries: a call that cannot have run (connection refused, 503, 429, a
concurrency failure Odoo rolled back) is retried with backoff and jitter,
waiting at least what a 429's `Retry-After` asks (a longer wait than the
policy's `max_interval` is left to the caller, with the error's
`retry_after`); a read is also retried when its answer was lost or after a
bare 500 or a proxy's 502/504. A write after which Odoo may have run it
anyway (`in_doubt`: no answer, 500/502/504) is not sent again: it raises,
and the adapter's idempotent lookup (binding, external id, natural key, and
the in-doubt notes of `_in_doubt`) decides what the first attempt did. Once
Odoo has stayed unreachable through a call's retries, later calls try once
until one gets through (`unreachable_since`, `last_error`), leaving the
waiting to callers.

Log lines: `odoo.call.retry` (info) per scheduled retry, `odoo.connected`
(info) once per connection with the version and protocol, `odoo.call`
(debug) per request. Secrets are never logged.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tieline.connectors.odoo._errors import (
    OdooAuthFailed,
    OdooCallError,
    OdooConcurrency,
    OdooNotRecognised,
    OdooResponseLost,
    OdooThrottled,
    OdooUnavailable,
)
from tieline.connectors.odoo._versions import OdooVersion, parse_version
from tieline.connectors.odoo._wire import (
    Json2Wire,
    JsonRpcWire,
    XmlRpcWire,
    loads,
    xmlrpc_none,
)
from tieline.errors import ConfigurationError, RetryableError
from tieline.logging import get_logger

log = get_logger(__name__)

READ_METHODS = frozenset(
    {
        "search",
        "search_read",
        "read",
        "search_count",
        "name_search",
        "fields_get",
        "read_group",
        "default_get",
        "context_get",
        "check_access_rights",
        "has_access",
    }
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for transient faults: interval grows by `coefficient`, jittered."""

    initial_interval: float = 0.2
    coefficient: float = 2.0
    max_interval: float = 5.0
    max_attempts: int = 4

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.initial_interval < 0 or self.coefficient < 1:
            raise ConfigurationError(
                "retry policy needs attempts >= 1, coefficient >= 1"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt `attempt + 1` (full jitter)."""
        ceiling = min(
            self.max_interval, self.initial_interval * self.coefficient**attempt
        )
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class Limits:
    """How hard tieline may press one Odoo instance."""

    max_in_flight: int = 4
    calls_per_second: float = 20.0
    timeout: float = 60.0


class _Throttle:
    """A semaphore for calls in flight plus a pacing clock for calls per second."""

    def __init__(self, limits: Limits) -> None:
        self.slots = threading.BoundedSemaphore(limits.max_in_flight)
        self.interval = 1.0 / limits.calls_per_second
        self._lock = threading.Lock()
        self._next_start = 0.0

    def wait_turn(self) -> None:
        """Block until a new call may start."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        if start > now:
            time.sleep(start - now)


_THROTTLES: dict[tuple[str, str], _Throttle] = {}
_THROTTLES_LOCK = threading.Lock()


def _throttle_for(url: str, database: str, limits: Limits) -> _Throttle:
    with _THROTTLES_LOCK:
        key = (url.rstrip("/"), database)
        if key not in _THROTTLES:
            _THROTTLES[key] = _Throttle(limits)
        return _THROTTLES[key]


@dataclass(frozen=True, slots=True)
class _Session:
    """What a login established: the version, the protocol and the user."""

    version: OdooVersion
    protocol: str
    uid: int


class OdooClient:
    """Calls one Odoo database as one user, over the protocol its version wants.

    `connect` logs in at once; `deferred` logs in on the first call (and
    again on the next call after a failed attempt), so a hub can start while
    its Odoo is down and catch up once it answers.
    """

    def __init__(
        self,
        *,
        url: str,
        database: str,
        login: str,
        secret: str,
        http: httpx.Client,
        limits: Limits,
        retry: RetryPolicy,
        owns_http: bool,
        protocol: str = "auto",
        session: _Session | None = None,
    ) -> None:
        self.url = url
        self.database = database
        self.login = login
        self._secret = secret
        self._wanted_protocol = protocol
        self._http = http
        self._owns_http = owns_http
        self._retry = retry
        self._throttle = _throttle_for(url, database, limits)
        self._jsonrpc = JsonRpcWire(http, url)
        self._xmlrpc = XmlRpcWire(http, url)
        self._json2: Json2Wire | None = None
        self._session: _Session | None = None
        self._session_lock = threading.Lock()
        # Since when Odoo has not answered, and why (None while it answers):
        # what a health check reports without calling Odoo itself.
        self.unreachable_since: datetime | None = None
        self.last_error: str | None = None
        if session is not None:
            self._open(session)

    @classmethod
    def connect(
        cls,
        url: str,
        database: str,
        login: str,
        secret: str,
        *,
        protocol: str = "auto",
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
    ) -> OdooClient:
        """Detect the version, choose the protocol and log in, now."""
        client = cls.deferred(
            url,
            database,
            login,
            secret,
            protocol=protocol,
            limits=limits,
            retry=retry,
            http=http,
        )
        try:
            client.ensure_session()
        except BaseException:
            client.close()
            raise
        return client

    @classmethod
    def deferred(
        cls,
        url: str,
        database: str,
        login: str,
        secret: str,
        *,
        protocol: str = "auto",
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
    ) -> OdooClient:
        """A client that detects the version and logs in on its first call."""
        limits = limits or Limits()
        client = http or httpx.Client(
            timeout=httpx.Timeout(limits.timeout, connect=10.0)
        )
        return cls(
            url=url,
            database=database,
            login=login,
            secret=secret,
            protocol=protocol,
            http=client,
            limits=limits,
            retry=retry or RetryPolicy(),
            owns_http=http is None,
        )

    def ensure_session(self) -> None:
        """Log in unless logged in already.

        Raises `OdooUnavailable` while Odoo cannot be reached (the next call
        tries again) and `OdooAuthFailed` when Odoo refuses the login.
        """
        if self._session is not None:
            return
        with self._session_lock:
            if self._session is None:
                try:
                    session = self._log_in()
                except OdooUnavailable as err:
                    self._note_failure(err)
                    raise
                self._open(session)

    @property
    def connected(self) -> bool:
        """Whether a login has succeeded."""
        return self._session is not None

    @property
    def version(self) -> OdooVersion:
        """The server's version (logging in first if need be)."""
        return self._current().version

    @property
    def protocol(self) -> str:
        """`json2`, `jsonrpc` or `xmlrpc`: the protocol in use."""
        return self._current().protocol

    @property
    def uid(self) -> int:
        """The id of the user the client acts as."""
        return self._current().uid

    def _current(self) -> _Session:
        self.ensure_session()
        assert self._session is not None
        return self._session

    def _log_in(self) -> _Session:
        version = detect_version(self._http, self.url)
        chosen = self._wanted_protocol
        if chosen == "auto":
            chosen = "json2" if version.has_json2 else "jsonrpc"
        uid = _login(
            self._http, self.url, self.database, self.login, self._secret, chosen
        )
        log.info(
            "odoo.connected",
            url=self.url,
            database=self.database,
            major=version.major,
            protocol=chosen,
            uid=uid,
        )
        return _Session(version, chosen, uid)

    def _open(self, session: _Session) -> None:
        if session.protocol == "json2":
            self._json2 = Json2Wire(
                self._http, self.url, api_key=self._secret, database=self.database
            )
        self._session = session

    def close(self) -> None:
        """Close the HTTP connections, if this client opened them."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> OdooClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The one call API.
    def call(
        self, model: str, method: str, ids: list[int] | None = None, **kwargs: Any
    ) -> Any:
        """`model.method(ids, **kwargs)` with limits and retries; Odoo's result."""
        attempt = 0
        # Known to be down: one try, no backoff here. The caller (a consumer,
        # a job) retries later, outside its store transaction, instead of
        # holding the transaction through a backoff that cannot help.
        attempts = 1 if self.unreachable_since is not None else self._retry.max_attempts
        while True:
            try:
                result = self._call_once(model, method, ids, kwargs)
            except (OdooUnavailable, OdooConcurrency, OdooResponseLost) as err:
                # A write that may have run is never sent again from here.
                lost_write = err.in_doubt and method not in READ_METHODS
                attempt += 1
                delay = self._retry.delay(attempt)
                if err.retry_after is not None:
                    delay = max(delay, err.retry_after)
                # A long Retry-After is waited out by the caller, outside
                # its store transaction, not in a sleep here.
                too_long = delay > self._retry.max_interval
                if lost_write or too_long or attempt >= attempts:
                    self._note_failure(err)
                    raise
                log.info(
                    "odoo.call.retry",
                    model=model,
                    method=method,
                    attempt=attempt,
                    delay=round(delay, 3),
                    error=type(err).__name__,
                )
                time.sleep(delay)
            else:
                self.unreachable_since = self.last_error = None
                return result

    def _note_failure(self, err: Exception) -> None:
        reached = isinstance(err, OdooThrottled)  # it answered, if only "wait"
        if (
            isinstance(err, OdooUnavailable)
            and not reached
            and self.unreachable_since is None
        ):
            self.unreachable_since = datetime.now(UTC)
        self.last_error = f"{type(err).__name__}: {err}"

    def _call_once(
        self, model: str, method: str, ids: list[int] | None, kwargs: dict[str, Any]
    ) -> Any:
        session = self._current()
        self._throttle.wait_turn()
        log.debug("odoo.call", model=model, method=method, protocol=session.protocol)
        with self._throttle.slots:
            if self._json2 is not None:
                body = dict(kwargs)
                if ids is not None:
                    body["ids"] = ids
                return self._json2.call(model, method, body)
            args: list[Any] = [
                self.database,
                session.uid,
                self._secret,
                model,
                method,
                [ids] if ids is not None else [],
                kwargs,
            ]
            if session.protocol == "xmlrpc":
                try:
                    return self._xmlrpc.rpc("object", "execute_kw", args)
                except Exception as err:
                    if xmlrpc_none(err):
                        return None
                    raise
            return self._jsonrpc.rpc("object", "execute_kw", args)

    # Conveniences over `call`.
    def search_read(
        self, model: str, domain: list[Any], fields: list[str], **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Records matching `domain`, with `fields`."""
        result: list[dict[str, Any]] = self.call(
            model, "search_read", domain=domain, fields=fields, **kwargs
        )
        return result

    def search(self, model: str, domain: list[Any], **kwargs: Any) -> list[int]:
        """Ids matching `domain`."""
        result: list[int] = self.call(model, "search", domain=domain, **kwargs)
        return result

    def read(
        self, model: str, ids: list[int], fields: list[str], **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Records by id (ids that no longer exist are left out)."""
        result: list[dict[str, Any]] = self.call(
            model, "read", ids, fields=fields, **kwargs
        )
        return result

    def create(self, model: str, values: dict[str, Any], **kwargs: Any) -> int:
        """Create one record and return its id (JSON-2 answers a list)."""
        result = self.call(model, "create", vals_list=[values], **kwargs)
        return int(result[0] if isinstance(result, list) else result)

    def write(
        self, model: str, ids: list[int], values: dict[str, Any], **kwargs: Any
    ) -> None:
        """Write `values` on `ids`."""
        self.call(model, "write", ids, vals=values, **kwargs)


def _http_client(limits: Limits) -> httpx.Client:
    # TCP_NODELAY: a request's headers and body leave in separate writes, and
    # Nagle's algorithm would hold the body for the server's delayed ACK.
    transport = httpx.HTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    return httpx.Client(
        transport=transport, timeout=httpx.Timeout(limits.timeout, connect=10.0)
    )


def detect_version(http: httpx.Client, url: str) -> OdooVersion:
    """Ask the server its version: `/json/version` (19+), else `common.version`.

    A server that answers neither as Odoo does raises `OdooNotRecognised`,
    saying what was tried and what came back.
    """
    base = url.rstrip("/")
    got: list[str] = []
    try:
        response = http.get(base + "/json/version")
        got.append(f"GET /json/version gave {_summary(response)}")
        if response.status_code == 200 and "json" in response.headers.get(
            "content-type", ""
        ):
            found = _version_in(loads(response.content), "version_info")
            if found is not None:
                return found
        answer = JsonRpcWire(http, base).rpc("common", "version", [])
    except httpx.HTTPError as err:
        raise OdooUnavailable(f"cannot reach Odoo at {base}: {err}") from err
    except (ValueError, OdooCallError) as err:
        got.append(f"POST /jsonrpc common.version gave {_short(err)}")
        raise _not_odoo(base, got) from err
    found = _version_in(answer, "server_version_info")
    if found is None:
        got.append(f"POST /jsonrpc common.version gave {_short(answer)}")
        raise _not_odoo(base, got)
    return found


def _version_in(answer: Any, key: str) -> OdooVersion | None:
    try:
        return parse_version(answer[key])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _summary(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    return f"HTTP {response.status_code} ({kind})"


def _short(what: object) -> str:
    text = " ".join(str(what).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _not_odoo(base: str, got: list[str]) -> OdooNotRecognised:
    error = OdooNotRecognised(f"{base} does not answer as Odoo does: " + "; ".join(got))
    error.locate(model=None, method="version", name=None, message=str(error))
    return error


def _login(
    http: httpx.Client, url: str, database: str, login: str, secret: str, protocol: str
) -> int:
    where = (
        f"Odoo at {url.rstrip('/')} refused the login {login!r} "
        f"on database {database!r}"
    )
    if protocol == "json2":
        try:
            context = Json2Wire(http, url, api_key=secret, database=database).call(
                "res.users", "context_get", {}
            )
        except OdooAuthFailed as err:
            raise OdooAuthFailed(
                f"{where} ({err.odoo_message or err}): Odoo 19 and later take an "
                "API key, not a password, on their JSON-2 API; make one in Odoo "
                "(Preferences, Account Security, New API Key) and give it as "
                "TIELINE_ODOO_API_KEY"
            ) from err
        return int(context["uid"])
    wire = XmlRpcWire(http, url) if protocol == "xmlrpc" else JsonRpcWire(http, url)
    uid = wire.rpc("common", "authenticate", [database, login, secret, {}])
    if not uid:
        raise OdooAuthFailed(f"{where}: wrong password or API key, or no such user")
    return int(uid)


_ = RetryableError
