"""The double's HTTP server: stdlib `ThreadingHTTPServer` on 127.0.0.1.

The standard library's threaded server is enough for a test double (one
thread per connection, no extra dependency); the ORM serialises calls with
its own lock. Like Odoo, every answer closes the connection.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tieline.testing.odoo_double import _protocols
from tieline.testing.odoo_double._protocols import Dispatcher, Reply


@dataclass
class Fault:
    """A fault to inject on matching calls.

    `kind` is `fail` (answer `status` without running the call), `stall`
    (wait `seconds`, then run and answer) or `lose` (run the call, commit,
    then close the connection without answering). `model` and `method`
    narrow the calls it applies to; `times` is how many calls it hits;
    `headers` go with a `fail` answer (e.g. `Retry-After` on a 429).
    """

    kind: str
    model: str | None = None
    method: str | None = None
    times: int = 1
    status: int = 503
    seconds: float = 0.0
    body: str = "Service Unavailable"
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, model: str, method: str) -> bool:
        """Whether the fault applies to `model.method`."""
        return (self.model in (None, model)) and (self.method in (None, method))


class _Failed(Exception):
    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.kind)
        self.fault = fault


class FaultPlan:
    """The faults still to inject, consumed as calls hit them."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.lose_next = threading.local()

    def add(self, fault: Fault) -> None:
        """Queue a fault."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def hook(self, model: str, method: str) -> None:
        """Called before a call runs: fail, stall, or mark it to be lost."""
        fault = self._take(model, method)
        if fault is None:
            return
        if fault.kind == "fail":
            raise _Failed(fault)
        if fault.kind == "stall":
            time.sleep(fault.seconds)
        elif fault.kind == "lose":
            self.lose_next.value = True

    def _take(self, model: str, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(model, method):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


class OdooHandler(BaseHTTPRequestHandler):
    """Routes a request to the protocol that owns its path."""

    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY each answer
    # waits for the client's delayed ACK (about 40 ms).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet: the double does not log requests."""

    def do_GET(self) -> None:
        """GET: only version pages and JSON-2's "did you mean POST"."""
        self._answer("GET")

    def do_POST(self) -> None:
        """POST: JSON-RPC, XML-RPC and JSON-2."""
        self._answer("POST")

    def do_PUT(self) -> None:
        """PUT: JSON-2 refuses it with 404."""
        self._answer("PUT")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.faults.lose_next.value = False
        try:
            reply = self._route(method, self.path.split("?")[0], body)
        except _Failed as failed:
            fault = failed.fault
            reply = Reply(
                fault.status,
                fault.body.encode(),
                "text/html; charset=utf-8",
                dict(fault.headers),
            )
        if getattr(self.server.faults.lose_next, "value", False):
            # The call ran and committed; the answer never reaches the client.
            self.close_connection = True
            return
        self._send(reply)

    def _route(self, method: str, path: str, body: bytes) -> Reply:
        dispatcher = self.server.dispatcher
        version = dispatcher.db.version
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path in ("/jsonrpc", "/jsonrpc/"):
            if method != "POST":
                return _protocols._not_json_route(dispatcher.db)
            return _protocols.jsonrpc(dispatcher, body, headers.get("content-type", ""))
        if path.startswith("/xmlrpc/") and method == "POST":
            parts = path.strip("/").split("/")
            legacy = len(parts) == 2
            return _protocols.xmlrpc_call(dispatcher, parts[-1], body, legacy=legacy)
        if path.startswith("/json/2") and version >= 19:
            return _protocols.json2(dispatcher, method, path, headers, body)
        if re.match(r"^/json/\d+/", path) and version >= 19:
            # Another API version: Odoo asks for a key before it looks at
            # the route, as recorded.
            return _protocols.html(
                401,
                "Unauthorized",
                "User not authenticated, use an API Key with a Bearer "
                "Authorization header.",
            )
        if (
            path in ("/json/version", "/web/version")
            and version >= 19
            and method == "GET"
        ):
            info = _protocols.version_info(dispatcher.db)
            payload = {"version_info": info["server_version_info"], "version": "19.0"}
            return Reply(200, json.dumps(payload).encode())
        return _protocols.html(
            404,
            "Not Found",
            "The requested URL was not found on the server. If you entered the URL "
            "manually please check your spelling and try again.",
        )

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        # The client may have given up (a stall fault outlived its timeout).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(reply.body)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, dispatcher: Dispatcher, faults: FaultPlan, port: int) -> None:
        super().__init__(("127.0.0.1", port), OdooHandler)
        self.dispatcher = dispatcher
        self.faults = faults


def start_server(
    dispatcher: Dispatcher, faults: FaultPlan, port: int = 0
) -> tuple[_Server, threading.Thread]:
    """Listen on 127.0.0.1 (on a free port unless given) in a daemon thread."""
    server = _Server(dispatcher, faults, port)
    thread = threading.Thread(
        target=server.serve_forever, name="odoo-double", daemon=True
    )
    thread.start()
    return server, thread
