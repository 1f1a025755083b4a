"""`tieline suppliers list | review | decide` over the embedded store."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from tieline.cli import app, main
from tieline.cli._commands import open_store
from tieline.model import Supplier, SupplierStatus
from tieline.settings import Settings
from tieline.suppliers import SupplierResolver, SupplierReviews

KERR = ["KERR CONTRACTORS OREGON INC.", "KERR CONTRACTORS OREGON LLC"]


@pytest.fixture(autouse=True)
def _restore_log_handlers() -> Iterator[None]:
    # Each command points logging at the stderr the runner lends it, which is
    # closed afterwards; later log lines must not go there.
    root = logging.getLogger()
    handlers = root.handlers[:]
    yield
    root.handlers[:] = handlers


@pytest.fixture
def seeded(settings: Settings) -> int:
    """A store holding two near suppliers; returns the review item's number."""
    store = open_store(settings)
    try:
        with store.transaction() as tx:
            resolver = SupplierResolver(tx, system="bid-tabs", actor="import:test")
            resolver.resolve(KERR[0])
            (item,) = resolver.resolve(KERR[1]).reviews
    finally:
        store.close()
    return item.id


def _run(settings: Settings, *args: str) -> str:
    env = {"TIELINE_DATA_DIR": str(settings.data_dir), "COLUMNS": "250"}
    result = CliRunner().invoke(app, ["suppliers", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_review_shows_each_waiting_pair_with_score_and_evidence(
    settings: Settings, seeded: int
) -> None:
    output = _run(settings, "review")

    assert f"item {seeded}  score 100.0  rule same-name-other-legal-form" in output
    assert (
        "known supplier  KERR CONTRACTORS OREGON INC.  (normalised KERR CONTRACTORS "
        "OREGON INC; legal form INC; tax id -)"
    ) in output
    assert (
        "new spelling    KERR CONTRACTORS OREGON LLC  (normalised KERR CONTRACTORS "
        "OREGON LLC; legal form LLC; tax id -)"
    ) in output
    assert "1 waiting" in output


def test_decide_same_merges_and_the_item_leaves_the_review_list(
    settings: Settings, seeded: int
) -> None:
    output = _run(
        settings, "decide", str(seeded), "same", "--by", "Ann", "--note", "one firm"
    )

    assert output.strip() == (
        f"review item {seeded}: KERR CONTRACTORS OREGON LLC is now part of "
        "KERR CONTRACTORS OREGON INC. (by Ann)"
    )
    assert _run(settings, "review").strip() == (
        "no near matches are waiting for a decision"
    )
    store = open_store(settings)
    try:
        with store.transaction() as tx:
            item = SupplierReviews(tx).get(seeded)
            statuses = [s.status for s in tx.list(Supplier)]
    finally:
        store.close()
    assert (item.decided_by, item.note) == ("Ann", "one firm")
    assert statuses == [SupplierStatus.ACTIVE, SupplierStatus.MERGED]


def test_list_shows_every_supplier_and_where_a_merged_one_went(
    settings: Settings, seeded: int
) -> None:
    _run(settings, "decide", str(seeded), "same", "--by", "Ann")

    output = _run(settings, "list")

    assert "merged into KERR CONTRACTORS OREGON INC." in output
    assert "KERR CONTRACTORS OREGON INC.; KERR CONTRACTORS OREGON LLC" in output
    assert "2 suppliers" in output


def test_decide_refuses_an_answer_it_does_not_know(
    settings: Settings, seeded: int
) -> None:
    env = {"TIELINE_DATA_DIR": str(settings.data_dir), "COLUMNS": "250"}
    result = CliRunner().invoke(
        app, ["suppliers", "decide", str(seeded), "maybe", "--by", "Ann"], env=env
    )

    assert result.exit_code == 2
    assert "Invalid value for 'decision'" in result.output
    assert "'maybe' is not one of 'same', 'different'" in result.output


def test_an_unknown_item_is_one_line_of_error_not_a_traceback(
    settings: Settings,
    seeded: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TIELINE_DATA_DIR", str(settings.data_dir))
    argv = ["tieline", "suppliers", "decide", str(seeded + 99), "same", "--by", "Ann"]
    monkeypatch.setattr(sys, "argv", argv)

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: no supplier review item {seeded + 99}"
    )


def test_every_suppliers_command_has_help() -> None:
    for command in ("list", "review", "decide"):
        result = CliRunner().invoke(app, ["suppliers", command, "--help"])
        assert result.exit_code == 0
        assert "Usage:" in result.output
