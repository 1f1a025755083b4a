"""How fast the `ubl` profile takes in Peppol invoices, in documents per second.

Writes N copies of one of the example estate's invoices (each with its own
number, so each is a new document) into a temporary folder, imports them into
a fresh embedded SQLite store that holds the example estate (so every invoice
is matched to its order and checked against receipts), then imports the same
folder again (nothing changes), and prints documents, seconds and documents
per second for both runs. Everything stays on this machine.

Every copy bills the same order, the worst case for the "to date" checks:
each invoice sums the invoices of its order issued before it, so N invoices
on one order cost time in N squared (a real order has a handful).

    python benchmarks/ubl_import_speed.py [--documents N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tieline.demo import estate_folder, import_estate
from tieline.intake import RunReport, run_import
from tieline.logging import configure_logging
from tieline.settings import Settings
from tieline.store import Store

MAX_DOCUMENTS = 20_000  # bounded: a benchmark must finish
TEMPLATE = "CC-5001.xml"


def write_invoices(folder: Path, count: int) -> None:
    """`count` copies of the template invoice, numbered BENCH-1 ... BENCH-N."""
    with estate_folder() as estate:
        text = (estate / TEMPLATE).read_text(encoding="utf-8")
    for number in range(1, count + 1):
        copy = text.replace("CC-5001", f"BENCH-{number}")
        (folder / f"bench-{number:06d}.xml").write_text(copy, encoding="utf-8")


def timed_import(store: Store, folder: Path, runs: Path) -> tuple[RunReport, float]:
    """One run of the `ubl` profile over `folder`, and its wall-clock seconds."""
    started = time.perf_counter()
    report = run_import(store, "ubl", [folder], runs_dir=runs)
    return report, time.perf_counter() - started


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    args = parser.parse_args()
    count = max(1, min(args.documents, MAX_DOCUMENTS))
    configure_logging(Settings(log_level="WARNING"))

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        inbox = root / "inbox"
        inbox.mkdir()
        write_invoices(inbox, count)
        store = Store(f"sqlite:///{root / 'bench.db'}")
        store.migrate()
        import_estate(store, runs_dir=root / "runs")
        try:
            first, first_s = timed_import(store, inbox, root / "runs")
            again, again_s = timed_import(store, inbox, root / "runs")
        finally:
            store.close()

    for label, report, seconds in (
        ("first import", first, first_s),
        ("import again", again, again_s),
    ):
        print(
            f"{label}: {report.read} documents in {seconds:.2f} s, "
            f"{report.read / seconds:,.0f} documents/s "
            f"(created {report.counts['created']}, unchanged "
            f"{report.counts['unchanged']}, flagged {len(report.flags)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
