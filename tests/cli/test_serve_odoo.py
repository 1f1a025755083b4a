"""`tieline serve`, as a process, connects to the Odoo its settings name."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tieline.testing.waiting import wait_for

from ..connectors.odoo.conftest import OdooTarget, odoo  # noqa: F401

pytestmark = pytest.mark.odoo


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path, odoo: OdooTarget, secret: str) -> dict[str, str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIELINE_ODOO")}
    env.update(
        TIELINE_DATA_DIR=str(tmp_path / "var"),
        TIELINE_ODOO_URL=odoo.url,
        TIELINE_ODOO_DB=odoo.database,
        TIELINE_ODOO_LOGIN=odoo.login,
        TIELINE_ODOO_API_KEY=secret,
    )
    return env


def _health(port: int) -> dict[str, object] | None:
    try:
        found: dict[str, object] = httpx.get(
            f"http://127.0.0.1:{port}/health", timeout=5
        ).json()
    except httpx.TransportError:
        return None
    return found


def test_serve_reports_odoo_in_its_health_then_stops_on_sigint(
    odoo: OdooTarget,  # noqa: F811
    tmp_path: Path,
) -> None:
    port = _free_port()
    hub = subprocess.Popen(
        [sys.executable, "-m", "tieline", "serve", "--port", str(port)],
        env=_env(tmp_path, odoo, odoo.secret),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    answers: list[dict[str, object]] = []
    try:

        def answered() -> bool:
            found = _health(port)
            if found is not None:
                answers.append(found)
            return found is not None or hub.poll() is not None

        wait_for(answered, "serve's /health", patience=60, poll=0.2)
    finally:
        hub.send_signal(signal.SIGINT)
        _, stderr = hub.communicate(timeout=60)

    assert hub.returncode == 0, stderr.decode()
    (health,) = answers
    odoo_part = health["components"]["odoo"]  # type: ignore[index]
    assert (health["status"], odoo_part["status"]) == ("ok", "ok")  # type: ignore[index]
    if odoo.double is not None:
        assert odoo_part["version"] == odoo.double.version  # type: ignore[index]
    assert b"hub.assembled" in stderr
    assert b"serve.stopped" in stderr
    assert odoo.secret.encode() not in stderr


def test_serve_refuses_to_start_on_a_refused_login_in_one_line(
    odoo: OdooTarget,  # noqa: F811
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tieline", "serve", "--port", str(_free_port())],
        env=_env(tmp_path, odoo, "not-the-right-secret-at-all"),
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    errors = [
        line for line in result.stderr.decode().splitlines() if line.startswith("error")
    ]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: Odoo at {odoo.url} refused the login")
    assert errors[0].endswith(
        "check TIELINE_ODOO_LOGIN, TIELINE_ODOO_DB and TIELINE_ODOO_API_KEY "
        "(or TIELINE_ODOO_PASSWORD, up to Odoo 18)"
    )
    assert errors[0].count("refused the login") == 1
    assert b"not-the-right-secret-at-all" not in result.stderr
