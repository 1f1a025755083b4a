"""`tieline serve` runs the API and the relay in one process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_answers_health_and_openapi_then_stops_on_sigint(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ, TIELINE_DATA_DIR=str(tmp_path / "var"))
    hub = subprocess.Popen(
        [sys.executable, "-m", "tieline", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/health", time.monotonic() + 30)
        openapi = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
    finally:
        hub.send_signal(signal.SIGINT)
        _, stderr = hub.communicate(timeout=30)

    assert health.json()["status"] == "ok"
    assert openapi.json()["info"]["title"] == "tieline"
    assert hub.returncode == 0, stderr.decode()
    assert (tmp_path / "var" / "tieline.db").exists()
    assert b"serve.stopped" in stderr
