"""`tieline hooks`: add a sender, list, rotate and remove it from the shell.

The secret a command prints is the one the running hub verifies with, it is
printed once, and it shows in no log line, no listing and no audit entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from tieline.api import create_app
from tieline.cli import main
from tieline.delivery.inbound import inbound_consumer
from tieline.events import ConsumerWorker, SqlLogBus
from tieline.governance._schema import audit_log
from tieline.settings import Settings
from tieline.store import Store
from tieline.store._delivery_schema import inbound_messages
from tieline.testing.waiting import drain

BODY = json.dumps({"diary": "D-12"}).encode()
SECRET_LINE = re.compile(r"^secret \(shown this once.*\): (\S+)$", re.MULTILINE)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory with an embedded store."""
    data = tmp_path / "var"
    monkeypatch.setenv("TIELINE_DATA_DIR", str(data))
    monkeypatch.delenv("TIELINE_DATABASE_URL", raising=False)
    return data


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    """The store the commands use (made by the first command)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    opened = Store(f"sqlite:///{data_dir / 'tieline.db'}")
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def client(store: Store, data_dir: Path) -> Iterator[TestClient]:
    """The running hub's API over the same store."""
    settings = Settings(data_dir=data_dir)
    with TestClient(create_app(store, settings=settings)) as running:
        yield running


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """Run `tieline *args`; its exit code, standard output and error."""
    monkeypatch.setattr(sys, "argv", ["tieline", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def errors(err: str) -> list[str]:
    """The lines of standard error meant for a person (not log lines)."""
    return [line for line in err.splitlines() if line.startswith("error:")]


def printed_secret(out: str) -> str:
    (secret,) = SECRET_LINE.findall(out)
    return str(secret)


def standard(secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    when = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
        "content-type": "application/json",
    }


def signed_hmac(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-signature": f"sha256={digest}", "content-type": "application/json"}


def process_all(store: Store) -> list[str]:
    """Run the inbound consumer over everything; each message's state."""
    bus = SqlLogBus(store, poll_interval=0.01)
    consumer = inbound_consumer()
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.05)
    (feed,) = bus.feeds(consumer.subscription)
    try:
        drain(store, worker, consumer, feed)
    finally:
        worker.close()
    with store.engine.connect() as connection:
        return list(connection.execute(select(inbound_messages.c.status)).scalars())


def audited(store: Store) -> str:
    with store.engine.connect() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.seq)).all()
    return json.dumps([[r.action, r.target, r.details] for r in rows])


def test_a_source_added_here_is_verified_by_the_hub_with_the_printed_secret(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    store: Store,
    client: TestClient,
) -> None:
    # Given a source added from the shell
    code, out, err = run(
        monkeypatch,
        capsys,
        "hooks",
        "add-source",
        "site-diary",
        "--scheme",
        "standard",
        "--base",
        "https://hub.example.com/",
    )
    assert code == 0, err
    secret = printed_secret(out)
    assert "posts to: https://hub.example.com/hooks/site-diary\n" in out

    # When the sender signs with the printed secret
    answer = client.post(
        "/hooks/site-diary", content=BODY, headers=standard(secret, BODY, "m1")
    )

    # Then the hub accepts it and forwards it, and nothing else shows the secret
    assert answer.status_code == 202, answer.text
    assert process_all(store) == ["forwarded"]
    code, listed, listed_err = run(monkeypatch, capsys, "hooks", "sources")
    assert code == 0
    assert "site-diary" in listed
    assert "standard" in listed
    code, as_json, json_err = run(
        monkeypatch, capsys, "hooks", "sources", "--format", "json"
    )
    (shown,) = json.loads(as_json)
    assert (shown["name"], shown["messages"]) == ("site-diary", {"forwarded": 1})
    assert out.count(secret) == 1
    for text in (err, listed, listed_err, as_json, json_err, audited(store)):
        assert secret not in text
    assert '"inbound.source_added", "inbound_source:site-diary"' in audited(store)


def test_rotation_prints_a_new_secret_and_the_old_one_works_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    store: Store,
    client: TestClient,
) -> None:
    _, out, _ = run(
        monkeypatch, capsys, "hooks", "add-source", "portal", "--scheme", "hmac"
    )
    old = printed_secret(out)

    code, out, err = run(
        monkeypatch, capsys, "hooks", "rotate-secret", "portal", "--overlap-hours", "1"
    )
    new = printed_secret(out)
    second = b'{"n": 2}'
    with_old = client.post(
        "/hooks/portal", content=BODY, headers=signed_hmac(old, BODY)
    )
    with_new = client.post(
        "/hooks/portal", content=second, headers=signed_hmac(new, second)
    )

    assert code == 0, err
    assert new != old
    assert "previous secret still verifies until" in out
    assert (with_old.status_code, with_new.status_code) == (202, 202)
    assert old not in err + out
    assert new not in err + audited(store)


def test_a_removed_source_is_refused_by_the_hub(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    store: Store,
    client: TestClient,
) -> None:
    _, out, _ = run(
        monkeypatch, capsys, "hooks", "add-source", "portal", "--scheme", "hmac"
    )
    secret = printed_secret(out)

    code, out, err = run(monkeypatch, capsys, "hooks", "remove-source", "portal")
    answer = client.post(
        "/hooks/portal", content=BODY, headers=signed_hmac(secret, BODY)
    )

    assert code == 0, err
    assert "removed" in out
    # The hub runs in this process here; another process sees it within 5 s.
    assert answer.status_code == 404
    code, _, err = run(monkeypatch, capsys, "hooks", "remove-source", "portal")
    assert (code, errors(err)) == (
        1,
        ["error: no inbound source named 'portal' (see: tieline hooks sources)"],
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add-source", "has space", "--scheme", "hmac"], "error: name: 'has space'"),
        (["add-source", "ok", "--scheme", "rot13"], "error: unknown scheme 'rot13'"),
        (
            ["add-source", "ok", "--scheme", "hmac", "--processor", "nope"],
            "error: processor: no processor 'nope' is known",
        ),
        (
            ["add-source", "ok", "--scheme", "standard", "--tolerance", "0"],
            "error: tolerance: 0.0 s",
        ),
        (["rotate-secret", "ghost"], "error: no inbound source named 'ghost'"),
        (["sources", "--format", "xml"], "error: unknown format 'xml'"),
    ],
)
def test_a_mistake_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    args: list[str],
    message: str,
) -> None:
    code, _out, err = run(monkeypatch, capsys, "hooks", *args)

    assert code == 1
    lines = errors(err)
    assert len(lines) == 1, err
    assert lines[0].startswith(message), err
    assert "Traceback" not in err


def test_a_second_source_of_one_name_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
) -> None:
    run(monkeypatch, capsys, "hooks", "add-source", "portal", "--scheme", "hmac")

    code, out, err = run(
        monkeypatch, capsys, "hooks", "add-source", "portal", "--scheme", "token"
    )

    assert code == 1
    assert "error: name: a source named 'portal' already exists" in err
    assert "secret" not in out
