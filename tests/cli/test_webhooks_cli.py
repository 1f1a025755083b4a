"""`tieline webhooks ...`: messages, attempts, re-send and recovery from the shell.

The store is the CLI's own (SQLite in its data directory); its messages are
fanned out from real events and sent by a real dispatcher to a receiver that
refuses each first try.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tieline.cli import main
from tieline.delivery import RetrySchedule, WebhookDispatcher, create_endpoint
from tieline.delivery.signing import new_secret
from tieline.governance._schema import audit_log
from tieline.store import Store
from tieline.store._delivery_schema import webhook_messages

from ..delivery.conftest import emit, fan_out, run_until
from ..delivery.sink import Sink


@dataclass
class Setup:
    """The CLI's data directory, its endpoint, and the messages' webhook-ids."""

    data_dir: Path
    endpoint_id: str
    message_ids: list[str]

    def store(self) -> Store:
        """The CLI's store, opened for the test to look at."""
        return Store(f"sqlite:///{(self.data_dir / 'tieline.db').resolve()}")

    def rows(self) -> list[dict[str, object]]:
        """Every message row, in id order."""
        store = self.store()
        with store.engine.connect() as connection:
            rows = connection.execute(
                select(webhook_messages).order_by(webhook_messages.c.id)
            ).all()
        store.close()
        return [dict(row._mapping) for row in rows]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """Two messages, each delivered on its second try (a 500, then a 204)."""
    data = tmp_path / "var"
    data.mkdir()
    monkeypatch.setenv("TIELINE_DATA_DIR", str(data))
    monkeypatch.delenv("TIELINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    secret = new_secret()
    with Sink(secret, lambda _p, _id, nth: "error" if nth == 1 else "ok") as sink:
        store = Store(f"sqlite:///{(data / 'tieline.db').resolve()}")
        store.migrate()
        endpoint, _ = create_endpoint(
            store, sink.url("/in"), event_types=["tieline.probe.>"], secret=secret
        )
        emit(store, 2, kind="probe")
        fan_out(store)
        dispatcher = WebhookDispatcher(
            store, schedule=RetrySchedule(delays=(0.05,), jitter=0.0)
        )
        run_until(dispatcher, lambda: len(sink.seen.taken["/in"]) == 2)
        with store.engine.connect() as connection:
            ids = list(
                connection.execute(
                    select(webhook_messages.c.message_id).order_by(
                        webhook_messages.c.id
                    )
                ).scalars()
            )
        store.close()
        yield Setup(data, endpoint.id, ids)


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["tieline", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def test_messages_lists_an_endpoints_messages_with_their_last_outcome(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(monkeypatch, capsys, "webhooks", "messages", setup.endpoint_id)
    _, pending, _ = _run(
        monkeypatch,
        capsys,
        "webhooks",
        "messages",
        setup.endpoint_id,
        "--status",
        "pending",
    )
    _, endpoints, _ = _run(monkeypatch, capsys, "webhooks", "endpoints")

    assert code == 0
    lines = [line for line in out.splitlines() if "msg_" in line]
    assert len(lines) == 2
    for message_id in setup.message_ids:
        (line,) = [line for line in lines if message_id in line]
        assert "delivered" in line
        assert "204" in line
        assert "tieline.probe.updated" in line
    assert not any(m in pending for m in setup.message_ids)
    assert setup.endpoint_id in endpoints
    assert "127.0.0.1" in endpoints


def test_attempts_shows_every_try_of_one_message(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    message_id = setup.message_ids[0]

    code, out, _ = _run(monkeypatch, capsys, "webhooks", "attempts", message_id)

    assert code == 0
    assert f"{message_id}: delivered after 2 attempt(s)" in out
    tries = [line for line in out.splitlines() if "HTTP 500" in line or "204" in line]
    assert len(tries) == 2
    assert "upstream broke" in tries[0]
    assert "delivered" in tries[1]


def test_resend_queues_the_message_and_audits_it_as_the_user(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    message_id = setup.message_ids[1]

    code, out, _ = _run(monkeypatch, capsys, "webhooks", "resend", message_id)

    assert code == 0
    assert out.strip() == f"{message_id}: queued"
    assert [row["status"] for row in setup.rows()] == ["delivered", "pending"]
    store = setup.store()
    with store.engine.connect() as connection:
        entries = connection.execute(
            select(audit_log.c.actor, audit_log.c.target, audit_log.c.details).where(
                audit_log.c.action == "webhook.message_resent"
            )
        ).all()
    store.close()
    assert [(e.actor, e.target) for e in entries] == [
        (f"cli:{getpass.getuser()}", f"webhook_message:{message_id}")
    ]
    # (details are kept as canonical JSON text, the way they are signed)
    assert json.loads(entries[0].details) == {"endpoint_id": setup.endpoint_id}


def test_recover_queues_what_failed_since_the_time_given(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the first message failed two days ago, the second an hour ago
    store = setup.store()
    now = datetime.now(UTC)
    with store.transaction() as tx:
        for message_id, created in zip(
            setup.message_ids,
            (now - timedelta(days=2), now - timedelta(hours=1)),
            strict=True,
        ):
            tx.connection.execute(
                update(webhook_messages)
                .where(webhook_messages.c.message_id == message_id)
                .values(status="failed", created_at=created)
            )
    store.close()
    since = (now - timedelta(days=1)).replace(tzinfo=None).isoformat()

    code, out, _ = _run(
        monkeypatch, capsys, "webhooks", "recover", setup.endpoint_id, "--since", since
    )

    assert code == 0
    assert out.strip() == f"{setup.endpoint_id}: enabled, 1 message(s) queued"
    assert [row["status"] for row in setup.rows()] == ["failed", "pending"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["messages", "nope"], "error: no webhook endpoint nope"),
        (["attempts", "msg_nope"], "error: no webhook message msg_nope"),
        (["resend", "msg_nope"], "error: no webhook message msg_nope"),
        (
            ["recover", "nope", "--since", "2026-01-01T00:00:00Z"],
            "error: no webhook endpoint nope",
        ),
        (
            ["recover", "ENDPOINT", "--since", "2999-01-01T00:00:00Z"],
            "error: --since: must not be in the future",
        ),
        (
            ["recover", "ENDPOINT", "--since", "last week"],
            "error: --since: 'last week' is not an ISO 8601 time "
            "(2026-05-04T08:00:00Z)",
        ),
    ],
    ids=[
        "messages",
        "attempts",
        "resend",
        "recover",
        "recover-future",
        "recover-malformed",
    ],
)
def test_a_mistake_is_one_line_naming_it(
    setup: Setup,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    error: str,
) -> None:
    args = [setup.endpoint_id if arg == "ENDPOINT" else arg for arg in args]

    code, _, err = _run(monkeypatch, capsys, "webhooks", *args)

    assert code == 1
    assert [line for line in err.splitlines() if line.startswith("error")] == [error]
    assert "Traceback" not in err
    assert [row["status"] for row in setup.rows()] == ["delivered", "delivered"]
