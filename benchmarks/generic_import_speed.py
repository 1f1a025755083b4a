"""How fast the generic intake path imports cost codes, in rows per second.

Imports the MasterFormat list (8,774 rows) three times into a fresh store:
first into an empty store (every row created), then the same file again
(every row unchanged), then a copy with one name in ten changed (those rows
updated, one event each). Prints the rows per second of each pass.

    python benchmarks/generic_import_speed.py                 # embedded SQLite
    python benchmarks/generic_import_speed.py --postgres URL  # a throwaway database
                                                              # made on that server

The data comes from `TIELINE_SHARED_DATA` or `../shared/data` beside the
repository; where it is missing, the same number of synthetic codes is
written instead. The run is bounded: three passes over at most `--rows` rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tieline.intake import run_import
from tieline.logging import configure_logging
from tieline.settings import Settings, normalise_database_url
from tieline.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TIELINE_SHARED_DATA", ROOT.parent / "shared" / "data"))
SOURCE = SHARED / "masterformat-json" / "masterformat-2016-with-levels.csv"


def main() -> None:
    """Run the three passes and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server")
    parser.add_argument("--rows", type=int, default=8774, help="at most this many")
    args = parser.parse_args()
    configure_logging(Settings(log_level="WARNING"))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rows = _source_rows(args.rows)
        with _store(work, args.postgres) as store:
            backend = store.engine.dialect.name
            _pass(store, work, "first import (created)", rows, backend)
            _pass(store, work, "same file again (unchanged)", rows, backend)
            changed = [
                (code, f"{name} (rev)" if i % 10 == 0 else name, level)
                for i, (code, name, level) in enumerate(rows)
            ]
            _pass(store, work, "one in ten renamed (updated)", changed, backend)


def _source_rows(limit: int) -> list[tuple[str, str, str]]:
    if SOURCE.is_file():
        with SOURCE.open(encoding="utf-8", newline="") as handle:
            rows = [(r["code"], r["label"], r["level"]) for r in csv.DictReader(handle)]
        return rows[:limit]
    print(f"no {SOURCE.name} found; using {limit} synthetic codes")
    return [
        (f"{i // 10000 % 50:02d} {i // 100 % 100:02d} {i % 100:02d}", f"Code {i}", "4")
        for i in range(limit)
    ]


def _pass(
    store: Store,
    work: Path,
    label: str,
    rows: list[tuple[str, str, str]],
    backend: str,
) -> None:
    folder = work / "input"
    folder.mkdir(exist_ok=True)
    with (folder / "masterformat-2016-with-levels.csv").open(
        "w", encoding="utf-8", newline=""
    ) as handle:
        writer = csv.writer(handle)
        writer.writerow(("code", "label", "level"))
        writer.writerows(rows)
    started = time.perf_counter()
    report = run_import(store, "masterformat", [folder], runs_dir=work / "runs")
    seconds = time.perf_counter() - started
    summary = report.summary()
    print(
        f"{backend:10} {label:30} {report.read:>6} rows "
        f"{seconds:6.2f} s {report.read / seconds:8.0f} rows/s  "
        f"(created {summary['created']}, updated {summary['updated']}, "
        f"unchanged {summary['unchanged']})"
    )


@contextmanager
def _store(work: Path, postgres: str | None) -> Iterator[Store]:
    if postgres is None:
        store = Store(f"sqlite:///{work / 'bench.db'}")
        store.migrate()
        yield store
        store.close()
        return
    admin_url = normalise_database_url(postgres)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"tieline_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    try:
        store.migrate()
        yield store
    finally:
        store.close()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
