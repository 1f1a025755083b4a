"""`tieline exceptions list|show|assign|comment|resolve` through the CLI runner."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner, Result

from tieline.cli import _exceptions as exceptions_cli
from tieline.cli import app, main
from tieline.store import Store
from tieline.store._schema import outbox
from tieline.workflows import DutiesNotSegregated, UnknownLogin, sweep
from tieline.workflows._sla import ExceptionClosed
from tieline.workflows.exception_queue import NoteRequired, NotExceptionOwner
from tieline.workflows.people import tasks_for

from .conftest import POLICY, Flow, build_estate


@pytest.fixture(autouse=True)
def _restore_log_handlers() -> Iterator[None]:
    # Each command points logging at the runner's stderr, closed afterwards.
    root = logging.getLogger()
    handlers = root.handlers[:]
    yield
    root.handlers[:] = handlers


@pytest.fixture
def env(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The CLI's environment: a data directory with the policy, the store's URL."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "workflows.toml").write_text(POLICY, encoding="utf-8")
    monkeypatch.setattr(exceptions_cli, "console", Console(width=250))
    values = {"TIELINE_DATA_DIR": str(data_dir), "TIELINE_DATABASE_URL": store.url}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def breached(store: Store, env: dict[str, str]) -> Flow:
    """Two requisitions whose approval is a day late: two open exceptions.

    REQ-1 (small) escalates to dir.dan; REQ-2 (large) names no escalation,
    so the queue's supervisor ctrl.cy owns it.
    """
    flow = build_estate(store)
    flow.save(
        flow.requisition("REQ-1", ("1", "03 30 00", "10", "45.00")),
        flow.requisition("REQ-2", ("1", "03 30 00", "1000", "45.00")),
    )
    flow.drive()
    flow.clock.advance(hours=25)
    opened = sweep(flow.store, flow.hub)
    assert sorted((e.document_ref, e.owner) for e in opened) == [
        ("REQ-1", "dir.dan"),
        ("REQ-2", "ctrl.cy"),
    ]
    return flow


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["exceptions", *args])


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(*args: str) -> BaseException:
    result = run(*args)
    assert result.exit_code != 0
    assert result.exception is not None
    return result.exception


def _id(flow: Flow, document: str) -> int:
    listed = json.loads(ok("list", "--format", "json"))
    (found,) = [e["id"] for e in listed if e["document_ref"] == document]
    return int(found)


def test_the_queue_is_listed_by_owner_and_as_json(breached: Flow) -> None:
    # When the queue is listed, all of it and one owner's part
    everything = ok("list")
    mine = json.loads(ok("list", "--owner", "odoo:ddan", "--format", "json"))

    # Then the table shows both, and dir.dan's part (found by an Odoo login)
    # is REQ-1 with its reason
    assert "REQ-1" in everything
    assert "REQ-2" in everything
    assert "requisition_approval of REQ-2 was due" in everything
    (item,) = mine
    assert (item["document_ref"], item["owner"], item["status"]) == (
        "REQ-1",
        "dir.dan",
        "open",
    )
    assert item["reason"].startswith("requisition_approval of REQ-1 was due")
    assert item["notes"] == []
    assert json.loads(ok("list", "--status", "resolved", "--format", "json")) == []


def test_an_exception_is_commented_handed_over_and_resolved(breached: Flow) -> None:
    flow = breached
    number = _id(flow, "REQ-1")

    # When a colleague comments, the owner hands it to finance, and the
    # queue's supervisor resolves it
    noted = ok("comment", str(number), "chased pat by phone", "--as", "odoo:ppat")
    assigned = ok("assign", str(number), "--to", "odoo:ffay", "--as", "odoo:ddan")
    assert [t.document_ref for t in tasks_for(flow.store, flow.hub, "fin.fay")] == [
        "REQ-1"
    ]
    resolved = ok(
        "resolve", str(number), "--note", "pat approves today", "--as", "odoo:ccy"
    )

    # Then each step says what it did, and the exception shows all of it
    assert noted.strip() == f"{number}: 1 note(s)"
    assert assigned.strip() == f"{number}: assigned to fin.fay"
    assert resolved.strip() == f"{number}: resolved by ctrl.cy"
    shown = json.loads(ok("show", str(number), "--format", "json"))
    assert (shown["status"], shown["owner"], shown["resolved_by"]) == (
        "resolved",
        "fin.fay",
        "ctrl.cy",
    )
    assert (shown["workflow"], shown["document_state"]) == ("requisition", "submitted")
    assert [(n["author"], n["text"]) for n in shown["notes"]] == [
        ("pm.pat", "chased pat by phone"),
        ("dir.dan", "assigned to fin.fay"),
        ("ctrl.cy", "pat approves today"),
    ]
    table = ok("show", str(number))
    assert f"exception {number} (resolved), owner fin.fay" in table
    assert "document: REQ-1 (requisition, now submitted)" in table
    assert "ctrl.cy: pat approves today" in table
    assert [e["document_ref"] for e in json.loads(ok("list", "--format", "json"))] == [
        "REQ-2"
    ]

    # And the resolution is an event, and a resolved exception takes no more
    assert _resolved_events(flow.store) == [
        {
            "document_ref": "REQ-1",
            "resolved_by": "ctrl.cy",
            "note": "pat approves today",
        }
    ]
    again = refused("resolve", str(number), "--note", "twice", "--as", "odoo:ccy")
    assert isinstance(again, ExceptionClosed)
    assert str(again) == (
        f"exception {number} (REQ-1) was resolved by ctrl.cy; it takes no more changes"
    )
    assert isinstance(
        refused("comment", str(number), "late", "--as", "ppat"), UnknownLogin
    )
    assert isinstance(
        refused("comment", str(number), "late", "--as", "pm.pat"), ExceptionClosed
    )


def test_who_may_act_on_an_exception_is_enforced_with_a_reason(
    breached: Flow,
) -> None:
    number = _id(breached, "REQ-1")

    # A service identity may not act, even under its Odoo login
    service = refused("resolve", str(number), "--note", "x", "--as", "odoo:procore-bot")
    assert isinstance(service, DutiesNotSegregated)
    assert str(service) == (
        f"exception {number}: svc.procore is a service identity (via "
        "odoo:procore-bot); only a person can resolve an exception (a service "
        "identity cannot handle exceptions)"
    )
    # Nor own one
    owning = refused("assign", str(number), "--to", "svc.procore", "--as", "dir.dan")
    assert isinstance(owning, DutiesNotSegregated)
    assert "only a person can own an exception" in str(owning)
    # A person who neither owns it nor supervises the queue may not assign or
    # resolve it (but may comment)
    for args in (
        ("assign", str(number), "--to", "fin.fay", "--as", "procore:pat@site.example"),
        ("resolve", str(number), "--note", "done", "--as", "odoo:ppat"),
    ):
        outsider = refused(*args)
        assert isinstance(outsider, NotExceptionOwner)
        assert str(outsider) == (
            f"exception {number} (REQ-1): pm.pat may not {args[0]} it; its owner "
            "dir.dan or the queue's supervisor ctrl.cy may"
        )
    # An unknown login is refused, and a resolution needs a note
    unknown = refused("comment", str(number), "hello", "--as", "odoo:nobody")
    assert str(unknown) == "login 'nobody' of system 'odoo' is mapped to no identity"
    blank = refused("resolve", str(number), "--note", "  ", "--as", "odoo:ddan")
    assert isinstance(blank, NoteRequired)

    # And none of it changed the exception
    shown = json.loads(ok("show", str(number), "--format", "json"))
    assert (shown["status"], shown["owner"], shown["notes"]) == ("open", "dir.dan", [])


def test_a_refusal_is_one_line_and_exit_code_1(
    breached: Flow,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    number = _id(breached, "REQ-1")
    argv = ["tieline", "exceptions", "resolve", str(number), "--note", "x"]
    monkeypatch.setattr(sys, "argv", [*argv, "--as", "odoo:ppat"])

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: exception {number} (REQ-1): pm.pat may not resolve it; its owner "
        "dir.dan or the queue's supervisor ctrl.cy may"
    )


def test_unknown_exceptions_formats_and_statuses_are_refused(
    breached: Flow,
) -> None:
    assert str(refused("show", "999")) == "no workflow exception 999"
    assert "unknown format 'xml'" in str(refused("list", "--format", "xml"))
    assert "unknown status 'late'" in str(refused("list", "--status", "late"))


def _resolved_events(store: Store) -> list[object]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(outbox.c.envelope).where(
                outbox.c.type == "tieline.workflow.exception_resolved"
            )
        )
        return [json.loads(row.envelope)["data"] for row in rows]
