"""`tieline import` end to end: exit codes, reject reports, re-runs, dry runs."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from tieline.cli._app import app
from tieline.demo import estate_folder
from tieline.model import CostCode, Project
from tieline.store import Store
from tieline.store._schema import outbox, records

PROFILE = """
name = "harbour-wbs"
system = "harbour-wbs"
builder = "records"

[[tables]]
name = "codes"
file = "codes*.csv"
kind = "cost_code"
key = ["code"]

[tables.columns]
code = { column = "Code", required = true }
name = { column = "Title", required = true }
level = { column = "Level", type = "int" }

[tables.constants]
system = "harbour-wbs"

[tables.hierarchy]
rule = "drop_last_segment"
level = "level"
"""

GOOD = (
    "Code;Title;Level\n"
    "1;Site works;1\n"
    "1.1;Earthworks;2\n"
    "1.1.1;Excavation;3\n"
    "2;Structure;1\n"
)

BROKEN = (
    "Code;Title;Level\n"
    "1;Site works;1\n"
    "1.1;Earthworks;2\n"
    "1.2;;2\n"  # line 4: blank title
    "1.3;Drainage;zero\n"  # line 5: not a number
    "1.4;Paving;0\n"  # line 6: the model wants a level of 1 or more
    "1.5;Fencing;2\n"
    "1.5;Fencing;2\n"  # line 8: the same row again counts once
    "1.6;Kerbs;2\n"
    "1.6;Kerbing;2\n"  # lines 9 and 10: one key, two titles
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # Each command points logging at the runner's captured stderr, which is
    # closed when the command ends; later tests must not write to it.
    handlers = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers[:] = handlers


@pytest.fixture
def env(store: Store, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: a data dir in tmp_path, the test's database."""
    return {
        "TIELINE_DATA_DIR": str(tmp_path / "var"),
        "TIELINE_DATABASE_URL": store.url,
        "TIELINE_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "harbour-wbs.toml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


def export(tmp_path: Path, text: str, name: str = "codes.csv") -> Path:
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def tieline(env: dict[str, str], *args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def run_folder(result: Result) -> Path:
    (line,) = [ln for ln in result.stdout.splitlines() if "run folder:" in ln]
    return Path(line.split("run folder:", 1)[1].strip())


def snapshot(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every record row and every outbox row, for before/after comparison."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(records).order_by(records.c.id)).all()
        events = connection.execute(select(outbox).order_by(outbox.c.seq)).all()
    return [dict(r._mapping) for r in rows], [dict(e._mapping) for e in events]


def codes(store: Store) -> dict[str, str | None]:
    with store.transaction() as tx:
        return {c.code: c.parent_code for c in tx.list(CostCode)}


def test_a_clean_export_exits_0_with_every_row_stored(
    env: dict[str, str], profile: Path, store: Store, tmp_path: Path
) -> None:
    result = tieline(env, "import", profile, export(tmp_path, GOOD))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "import harbour-wbs: rows read 4, rejected 0, flagged 0",
        "  records created 4, updated 0, unchanged 0",
    ]
    assert codes(store) == {"1": None, "1.1": "1", "1.1.1": "1.1", "2": None}
    folder = run_folder(result)
    assert folder.parent == tmp_path / "var" / "runs"
    assert json.loads((folder / "summary.json").read_text())["created"] == 4


def test_broken_rows_exit_2_with_a_reject_report_and_good_rows_stored(
    env: dict[str, str], profile: Path, store: Store, tmp_path: Path
) -> None:
    # Given an export with a blank title, a bad number, a level the model
    # refuses, a repeated row and two rows that disagree on one key
    result = tieline(env, "import", profile, export(tmp_path, BROKEN))

    # Then the run exits 2, having stored the good rows once each
    assert result.exit_code == 2, result.output
    assert "  records created 3, updated 0, unchanged 0" in result.stdout
    assert "rejected 5, flagged 0" in result.stdout
    assert codes(store) == {"1": None, "1.1": "1", "1.5": "1"}

    # and rejects.csv names the file, row, field and reason of each bad row
    with (run_folder(result) / "rejects.csv").open(newline="") as handle:
        rejects = list(csv.DictReader(handle))
    conflict = "2 rows have key '1.6' with different name (rows 9, 10); none was taken"
    assert rejects == [
        {
            "file": "codes.csv",
            "row": "4",
            "field": "name",
            "reason": "column 'Title': is required but blank",
        },
        {
            "file": "codes.csv",
            "row": "5",
            "field": "level",
            "reason": "column 'Level': 'zero' is not a number",
        },
        {
            "file": "codes.csv",
            "row": "6",
            "field": "level",
            "reason": "Input should be greater than or equal to 1 "
            "(column 'Level', value '0')",
        },
        {"file": "codes.csv", "row": "9", "field": "name", "reason": conflict},
        {"file": "codes.csv", "row": "10", "field": "name", "reason": conflict},
    ]


def test_a_dry_run_reports_but_stores_nothing(
    env: dict[str, str], profile: Path, store: Store, tmp_path: Path
) -> None:
    result = tieline(env, "import", profile, export(tmp_path, GOOD), "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "dry run (nothing stored) harbour-wbs: rows read 4, rejected 0, flagged 0",
        "  records created 4, updated 0, unchanged 0",
    ]
    assert snapshot(store) == ([], [])


def test_the_same_import_twice_changes_nothing_the_second_time(
    env: dict[str, str], profile: Path, store: Store, tmp_path: Path
) -> None:
    # Given a first import
    folder = export(tmp_path, BROKEN)
    assert tieline(env, "import", profile, folder).exit_code == 2
    before = snapshot(store)

    # When the same files are imported again
    again = tieline(env, "import", profile, folder)

    # Then every good row is unchanged and no record or event was written
    assert again.exit_code == 2
    assert "  records created 0, updated 0, unchanged 3" in again.stdout
    assert "rejected 5, flagged 0" in again.stdout
    assert snapshot(store) == before
    assert len(before[1]) == 3 + 1  # one per record, one for the import


def test_a_changed_row_is_one_update_and_one_event(
    env: dict[str, str], profile: Path, store: Store, tmp_path: Path
) -> None:
    assert tieline(env, "import", profile, export(tmp_path, GOOD)).exit_code == 0
    _, events_before = snapshot(store)

    changed = GOOD.replace("Earthworks", "Earthworks and grading")
    result = tieline(env, "import", profile, export(tmp_path, changed))

    assert "  records created 0, updated 1, unchanged 3" in result.stdout
    _, events = snapshot(store)
    new = [json.loads(e["envelope"]) for e in events[len(events_before) :]]
    assert [e["type"] for e in new] == [
        "tieline.cost_code.updated",
        "tieline.import.completed",
    ]
    assert new[0]["data"]["name"] == "Earthworks and grading"
    assert new[0]["data"]["version"] == 2


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown profile", "error: no profile 'no-such-profile': give a .toml file"),
        ("broken toml", "error: "),
        ("unknown builder", "error: profile harbour-wbs: no builder 'nonesuch'"),
        (
            "no matching file",
            "error: profile harbour-wbs: no file matches 'codes*.csv'",
        ),
        ("missing column", "error: codes.csv: no column 'Level' for field level"),
        ("missing path", "error: "),
        (
            "unknown transform",
            "harbour-wbs.toml is not a valid profile: "
            "tables.0.columns.level.transforms: unknown transforms ['shout']",
        ),
    ],
)
def test_a_failed_run_exits_1_with_one_line_and_no_traceback(
    env: dict[str, str], profile: Path, tmp_path: Path, case: str, message: str
) -> None:
    folder = export(tmp_path, GOOD)
    profile_arg: str | Path = profile
    if case == "unknown profile":
        profile_arg = "no-such-profile"
    elif case == "broken toml":
        profile.write_text("name = [unclosed\n")
    elif case == "unknown builder":
        profile.write_text(PROFILE.replace('"records"', '"nonesuch"'))
    elif case == "no matching file":
        (folder / "codes.csv").rename(folder / "other.csv")
    elif case == "missing column":
        (folder / "codes.csv").write_text("Code;Title\n1;Site works\n")
    elif case == "missing path":
        folder = tmp_path / "nowhere"
    elif case == "unknown transform":
        profile.write_text(PROFILE.replace('type = "int"', 'transforms = ["shout"]'))

    result = tieline(env, "import", profile_arg, folder)

    assert result.exit_code == 1
    assert result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[list[str]]:
    # Typer ships its own copy of click, so groups are known by their commands.
    yield list(path)
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    paths = list(_commands(root))
    assert ["import"] in paths
    assert ["report", "cost"] in paths

    for path in paths:
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.stdout, path


def test_import_help_names_the_exit_codes() -> None:
    result = CliRunner().invoke(app, ["import", "--help"])

    assert "exit 0: all in, 2: some rejected" in " ".join(result.stdout.split())
    assert "--dry-run" in result.stdout


def test_a_run_that_fails_midway_keeps_no_record_and_no_event(
    env: dict[str, str], profile: Path, store: Store, tmp_path: Path
) -> None:
    # Given a profile whose second table names no canonical kind, so that the
    # build fails after the first table's records were written
    second = PROFILE[PROFILE.index("[[tables]]") :].replace(
        'name = "codes"', 'name = "more"'
    )
    profile.write_text(
        PROFILE + second.replace('kind = "cost_code"', 'kind = "nonesuch"')
    )

    # When it runs
    result = tieline(env, "import", profile, export(tmp_path, GOOD))

    # Then it fails in one line and the transaction kept nothing
    assert result.exit_code == 1
    assert result.stderr.startswith("error: table more: no canonical kind 'nonesuch'")
    assert snapshot(store) == ([], [])


def test_a_shipped_profile_is_named_on_the_command_line(
    env: dict[str, str], store: Store
) -> None:
    with estate_folder() as folder:
        result = tieline(env, "import", "demo-estate", folder)
        with (folder / "projects.csv").open(newline="", encoding="utf-8") as handle:
            projects = {row["project_code"] for row in csv.DictReader(handle)}

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "import demo-estate: rows read 77, rejected 0, flagged 0",
        "  records created 50, updated 7, unchanged 0",
    ]
    with store.transaction() as tx:
        assert {p.code for p in tx.list(Project)} == projects


def test_import_help_names_every_shipped_profile() -> None:
    from typer.testing import CliRunner

    from tieline.cli import app
    from tieline.intake import shipped_profiles

    result = CliRunner().invoke(app, ["import", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    for name in shipped_profiles():
        assert name in result.stdout
