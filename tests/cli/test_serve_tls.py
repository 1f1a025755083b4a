"""`tieline serve` speaks HTTPS when given a certificate and key."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_over_tls_with_the_given_certificate(tmp_path: Path) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    port = _free_port()
    env = dict(
        os.environ,
        TIELINE_DATA_DIR=str(tmp_path / "var"),
        TIELINE_TLS_CERT_FILE=str(cert_file),
        TIELINE_TLS_KEY_FILE=str(key_file),
    )
    env.pop("TIELINE_DATABASE_URL", None)
    hub = subprocess.Popen(
        [sys.executable, "-m", "tieline", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(
                    f"https://127.0.0.1:{port}/health",
                    verify=ssl.create_default_context(cafile=str(cert_file)),
                    timeout=1,
                )
                break
            except httpx.ConnectError:
                # Also covers a handshake refused by a server still starting.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        hub.send_signal(signal.SIGINT)
        hub.communicate(timeout=30)

    assert health.json()["status"] == "ok"
    assert health.headers["strict-transport-security"].startswith("max-age=")


def test_a_missing_certificate_is_one_line_naming_the_file(tmp_path: Path) -> None:
    _, key_file = _self_signed(tmp_path)
    missing = tmp_path / "no-such-cert.pem"
    env = dict(
        os.environ,
        TIELINE_DATA_DIR=str(tmp_path / "var"),
        TIELINE_TLS_CERT_FILE=str(missing),
        TIELINE_TLS_KEY_FILE=str(key_file),
    )
    env.pop("TIELINE_DATABASE_URL", None)

    done = subprocess.run(
        [sys.executable, "-m", "tieline", "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: setting TIELINE_TLS_CERT_FILE: {missing} does not exist or is "
        "not a readable file"
    )
    assert "Traceback" not in done.stderr
