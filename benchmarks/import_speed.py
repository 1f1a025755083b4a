"""How fast `port-of-portland` imports, in rows per second, on embedded SQLite.

Runs the import of the bid-tab folder into a fresh SQLite store in a
temporary folder, `--repeat` times (a first import, which creates every
record), then once more into the last store (a re-import, which changes
nothing), and prints rows read, wall-clock seconds, and rows per second over
the four files, with the time spent reading and building. Everything stays on
this machine: no server, no network.

    python benchmarks/import_speed.py [FOLDER] [--repeat N] [--profile FILE]

FOLDER defaults to `port-of-portland-bid-tabs` in the shared data folder
(`TIELINE_SHARED_DATA`, else `../shared/data` beside the repository).
`--profile FILE` writes a cProfile of one first import to FILE.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tieline.intake import RunReport, run_import
from tieline.logging import configure_logging
from tieline.settings import Settings
from tieline.store import Store

MAX_REPEAT = 20  # bounded: a benchmark must finish


@dataclass
class Timing:
    """One import's wall-clock figures."""

    rows: int
    seconds: float
    reading: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def default_folder() -> Path:
    """The shared Port of Portland folder, as the tests find it."""
    root = Path(__file__).resolve().parents[1]
    shared = Path(
        os.environ.get("TIELINE_SHARED_DATA", root.parent / "shared" / "data")
    )
    return shared / "port-of-portland-bid-tabs"


def timed_import(store: Store, folder: Path, runs: Path) -> tuple[Timing, RunReport]:
    """Import once; the reading phase ends when the build reports progress."""
    built_at: list[float] = []

    def progress(stage: str, _done: int, _total: int) -> None:
        if stage == "building records" and not built_at:
            built_at.append(time.perf_counter())

    start = time.perf_counter()
    report = run_import(
        store, "port-of-portland", [folder], runs_dir=runs, progress=progress
    )
    seconds = time.perf_counter() - start
    reading = (built_at[0] if built_at else start + seconds) - start
    if report.failure:
        raise SystemExit(f"import failed: {report.failure}")
    return Timing(report.read, seconds, reading), report


def measure(folder: Path, repeat: int, profile_to: Path | None) -> None:
    """Print first-import and re-import figures."""
    firsts: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="tieline-bench-") as scratch:
        for index in range(repeat):
            store = Store(f"sqlite:///{Path(scratch) / f'run{index}.db'}")
            store.migrate()
            runs = Path(scratch) / "runs"
            if profile_to is not None and index == 0:
                profiler = cProfile.Profile()
                timing, report = profiler.runcall(timed_import, store, folder, runs)
                profiler.dump_stats(profile_to)
            else:
                timing, report = timed_import(store, folder, runs)
            firsts.append(timing)
            if index < repeat - 1:
                store.close()
        again, second = timed_import(store, folder, runs)
        store.close()
    print(f"port-of-portland import, SQLite, {report.read} rows over 4 files")
    print(
        f"  records created {report.summary()['created']}, updated "
        f"{report.summary()['updated']}; re-import unchanged "
        f"{second.summary()['unchanged']}"
    )
    show("first import", firsts)
    show("re-import", [again])


def show(label: str, timings: list[Timing]) -> None:
    """One line of figures: the median of the timings."""
    seconds = statistics.median(t.seconds for t in timings)
    reading = statistics.median(t.reading for t in timings)
    rate = statistics.median(t.rate for t in timings)
    print(
        f"  {label:<13} {seconds:6.3f} s wall ({reading:.3f} s reading, "
        f"{seconds - reading:.3f} s building)  {rate:9,.0f} rows/s"
        f"  [median of {len(timings)}]"
    )


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=default_folder())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    if not args.folder.is_dir():
        raise SystemExit(f"no folder {args.folder}")
    configure_logging(Settings(log_level="WARNING"))
    measure(args.folder, max(1, min(args.repeat, MAX_REPEAT)), args.profile)


if __name__ == "__main__":
    sys.exit(main())
