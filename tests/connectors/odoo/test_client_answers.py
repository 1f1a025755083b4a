"""What the client makes of answers that are not Odoo's usual ones: a 429, a
proxy's 504, a server that is not Odoo, and a password where 19 wants a key."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tieline.connectors.odoo import (
    OdooAuthFailed,
    OdooClient,
    OdooThrottled,
    OdooUnavailable,
)
from tieline.connectors.odoo._wire import retry_after
from tieline.errors import RetryableError
from tieline.logging import configure_logging
from tieline.settings import Settings
from tieline.testing.odoo_double import ADMIN_PASSWORD, Fault, OdooDouble

from .conftest import OdooTarget

pytestmark = pytest.mark.odoo


def test_a_429_is_retried_after_what_retry_after_asks(
    double: OdooDouble, odoo: OdooTarget
) -> None:
    with odoo.client() as client:
        # Given Odoo's proxy turning the next two calls away for a moment
        double.inject(
            Fault(
                "fail",
                model="res.partner",
                method="search_count",
                times=2,
                status=429,
                body="Too Many Requests",
                headers={"Retry-After": "0"},
            )
        )

        # When a call is made, Then it gets through on a later attempt
        assert client.call("res.partner", "search_count", domain=[]) >= 0


def test_a_long_retry_after_is_left_to_the_caller_as_a_retryable_error(
    double: OdooDouble, odoo: OdooTarget
) -> None:
    with odoo.client() as client:
        # Given Odoo asking for a pause longer than the client's backoff
        double.inject(
            Fault(
                "fail",
                model="res.partner",
                method="search_count",
                status=429,
                body="Too Many Requests",
                headers={"Retry-After": "30"},
            )
        )

        # When a call is made, Then it fails at once, retryable after 30 s
        with pytest.raises(OdooThrottled) as throttled:
            client.call("res.partner", "search_count", domain=[])
        assert isinstance(throttled.value, RetryableError)
        assert throttled.value.retry_after == 30.0
        assert "HTTP 429" in str(throttled.value)
        # and the client does not count Odoo as down: it answered
        assert client.unreachable_since is None


def test_retry_after_is_read_in_seconds_or_as_an_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=90)

    assert retry_after("12") == 12.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert 80 < (retry_after(format_datetime(later, usegmt=True)) or 0) <= 90


def test_a_write_a_proxy_answered_504_for_is_not_sent_again(
    double: OdooDouble, odoo: OdooTarget
) -> None:
    with odoo.client() as client:
        # Given a proxy answering 504 to a create (Odoo may still run it)
        double.inject(
            Fault("fail", model="res.partner", method="create", status=504, times=2)
        )

        # When the create is made, Then it raises at once, in doubt
        with pytest.raises(OdooUnavailable) as failed:
            client.create("res.partner", {"name": f"Doubt {odoo.tag}"})
        assert failed.value.in_doubt
        # and the second 504 is still waiting: the create was sent once
        assert double.faults._faults, "the client sent the create a second time"


class _NotOdoo(BaseHTTPRequestHandler):
    """Answers every request as a server that is not Odoo would."""

    answer: tuple[int, str, bytes] = (200, "application/json", b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, kind, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply  # noqa: N815 (the names http.server calls)


@pytest.fixture(
    params=[
        pytest.param((200, "application/json", b"{}"), id="json-without-result"),
        pytest.param((200, "application/json", json.dumps([1]).encode()), id="list"),
        pytest.param((404, "text/html", b"<h1>Not Found</h1>"), id="404-page"),
        pytest.param((200, "text/html", b"<h1>Welcome</h1>"), id="web-page"),
    ]
)
def not_odoo(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a web server that is not an Odoo."""
    handler = type("Handler", (_NotOdoo,), {"answer": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_check_on_a_server_that_is_not_odoo_says_so_in_one_line(
    not_odoo: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIELINE_")}
    env.update(
        TIELINE_DATA_DIR=str(tmp_path / "var"),
        TIELINE_ODOO_URL=not_odoo,
        TIELINE_ODOO_DB="x",
        TIELINE_ODOO_LOGIN="admin",
        TIELINE_ODOO_PASSWORD="whatever",
    )

    result = subprocess.run(
        [sys.executable, "-m", "tieline", "odoo", "check"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    lines = (result.stdout + result.stderr).decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"error: cannot connect to Odoo: {not_odoo} does not answer as Odoo does: "
        "GET /json/version gave HTTP "
    )
    assert lines[0].count(not_odoo) == 1
    assert "POST /jsonrpc common.version gave" in lines[0]


def test_a_password_on_odoo_19_says_an_api_key_is_needed(odoo: OdooTarget) -> None:
    if odoo.double is None or odoo.double.version < 19:
        pytest.skip(
            "shown by the double playing Odoo 19, whose JSON-2 API takes API "
            "keys only; Odoo 17 and a real server take the password"
        )

    with pytest.raises(OdooAuthFailed) as refused:
        OdooClient.connect(odoo.url, odoo.database, odoo.login, ADMIN_PASSWORD)

    message = str(refused.value)
    assert "API key, not a password" in message
    assert message.count("refused") == 1


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_requests_are_logged_at_debug_only(
    odoo: OdooTarget, level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("httpx").level)
    try:
        # Given the hub's logging at `level`
        configure_logging(Settings(log_level=level))

        # When a call is made
        with odoo.client() as client:
            client.call("res.partner", "search_count", domain=[])
        err = capsys.readouterr().err

        # Then httpx's own per-request line never shows, and tieline's only
        # at debug
        assert "HTTP Request" not in err
        assert ("odoo.call" in err) is (level == "DEBUG")
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("httpx").setLevel(saved[2])
