"""Running an import: read the profile's tables, build records, report.

The whole build runs in one transaction: a dry run rolls it back, a run that
fails midway keeps nothing, and a run that finishes commits every good record
with its outbox events. Rejected rows are never half-imported.

TODO: every table is read whole into memory before the build starts; an
export of millions of rows needs as much memory as its typed rows take.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from tieline._context import unit_of_work
from tieline.errors import ConfigurationError, TielineError
from tieline.intake._run import ImportRun, RunReport
from tieline.intake.builders import BUILDERS, BuildContext
from tieline.intake.profile import Profile, TableSpec, load_profile
from tieline.intake.readers import Row, Table, iter_files, read_table
from tieline.logging import get_logger
from tieline.store import Store
from tieline.store._schema import import_runs

log = get_logger(__name__)

Progress = Callable[[str, int, int], None]


class _DryRun(Exception):
    """Raised to roll back a dry run's transaction once it has been counted."""


def run_import(
    store: Store,
    profile_ref: str | Profile,
    paths: list[Path],
    *,
    runs_dir: Path,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RunReport:
    """Import `paths` with a profile; the report says what went in and what not."""
    profile = (
        profile_ref if isinstance(profile_ref, Profile) else load_profile(profile_ref)
    )
    builder = BUILDERS.get(profile.builder)
    if builder is None:
        raise ConfigurationError(
            f"profile {profile.name}: no builder {profile.builder!r}"
        )
    for path in paths:
        if not path.exists():
            raise ConfigurationError(f"{path} does not exist")

    run = ImportRun(profile=profile.name, runs_dir=runs_dir, dry_run=dry_run)
    notify = progress or (lambda _stage, _done, _total: None)
    with unit_of_work() as correlation_id:
        log.info("import.started", profile=profile.name, run_id=run.report.run_id)
        started = datetime.now(UTC)
        try:
            tables = _read_tables(profile, paths, run, notify)
            _build(
                store, profile, tables, run, builder, notify, started, correlation_id
            )
        except _DryRun:
            pass
        except TielineError as err:
            run.fail(str(err))
            log.info("import.failed", profile=profile.name, reason=str(err))
        report = run.write()
        log.info(
            "import.finished",
            **{k: v for k, v in report.summary().items() if k != "notes"},
        )
    return report


def _read_tables(
    profile: Profile, paths: list[Path], run: ImportRun, notify: Progress
) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for spec in profile.tables:
        files = list(iter_files(spec.file, paths))
        if not files and spec.required:
            raise ConfigurationError(
                f"profile {profile.name}: no file matches {spec.file!r} "
                f"for table {spec.name}"
            )
        merged = Table(spec)
        for index, path in enumerate(files, start=1):
            notify(f"reading {path.name}", index, len(files))
            table = _read_file(spec, path)
            merged.rows.extend(table.rows)
            merged.errors.extend(table.errors)
            merged.read += table.read
        for error in merged.errors:
            run.reject(error.file, error.number, error.field, error.reason)
        run.read(merged.read)
        tables[spec.name] = merged
    return tables


def _read_file(spec: TableSpec, path: Path) -> Table:
    # A UBL file is one document, not a table of rows: its builder parses the
    # XML itself, so the table holds one row per file pointing at it.
    if spec.format_for(path) == "ubl":
        return Table(spec, rows=[Row(path.name, 1, {"path": path})], read=1)
    return read_table(spec, path)


def _build(
    store: Store,
    profile: Profile,
    tables: dict[str, Table],
    run: ImportRun,
    builder: Callable[[BuildContext], None],
    notify: Progress,
    started: datetime,
    correlation_id: str,
) -> None:
    total = sum(len(t.rows) for t in tables.values())
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        notify("building records", done, total)

    with store.transaction() as tx:
        context = BuildContext(
            profile, tables, tx, run, f"import:{profile.name}", advance
        )
        builder(context)
        summary = run.report.summary()
        tx.connection.execute(
            insert(import_runs).values(
                id=run.report.run_id,
                profile=profile.name,
                started_at=started,
                finished_at=datetime.now(UTC),
                outcome="rejected" if run.report.rejects else "ok",
                counts=summary,
                run_dir=str(run.report.run_dir),
                correlation_id=correlation_id,
            )
        )
        # An event only for a run that changed something: importing the same
        # files again must leave the event log as it was.
        if summary["created"] or summary["updated"]:
            tx.emit("tieline.import.completed", f"import/{run.report.run_id}", summary)
        if run.report.dry_run:
            raise _DryRun
