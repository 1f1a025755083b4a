"""How fast supplier spellings resolve: the real bid tabs, then a larger master.

Run: `python benchmarks/bench_supplier_resolution.py [SHARED_DATA_DIR]`
(default: TIELINE_SHARED_DATA, else ../shared/data beside the repository).
Prints rows per second for a first import of every contractor row of the Port
of Portland bid tabs and for a repeat of it, then the time per new spelling
against a synthetic supplier master of growing size. Uses a throw-away SQLite
store; nothing is asserted.
"""

from __future__ import annotations

import csv
import os
import random
import string
import sys
import tempfile
import time
from pathlib import Path

from tieline.logging import configure_logging
from tieline.settings import Settings
from tieline.store import Store
from tieline.suppliers import SupplierResolver, not_a_supplier_reason


def shared_data() -> Path:
    """The shared data folder named on the command line or by the environment."""
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("TIELINE_SHARED_DATA", default))


def bidder_rows(folder: Path) -> list[str]:
    """Every contractor_name of Bids.csv that names a supplier, in file order."""
    path = folder / "port-of-portland-bid-tabs" / "Bids.csv"
    with path.open(encoding="utf-8", newline="") as file:
        names = [row["contractor_name"] for row in csv.DictReader(file)]
    return [name for name in names if not_a_supplier_reason(name) is None]


def timed_run(store: Store, names: list[str]) -> float:
    """Seconds to resolve `names` in one transaction."""
    start = time.perf_counter()
    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system="bench", actor="bench")
        for name in names:
            resolver.resolve(name)
    return time.perf_counter() - start


def synthetic_names(count: int, rng: random.Random) -> list[str]:
    """`count` distinct made-up company names with legal forms."""
    forms = ["INC.", "LLC", "CO.", "CORPORATION", ""]
    names: set[str] = set()
    while len(names) < count:
        word = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(5, 9)))
        names.add(f"{word} CONSTRUCTION {rng.choice(forms)}".strip())
    return sorted(names)


def main() -> None:
    """Print the figures."""
    configure_logging(Settings(log_level="WARNING"))
    rows = bidder_rows(shared_data())
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'bench.db'}")
        store.migrate()
        first, repeat = timed_run(store, rows), timed_run(store, rows)
        print(f"bid tabs, {len(rows)} bidder rows, {len(set(rows))} spellings")
        print(f"  first import: {first:.3f} s, {len(rows) / first:,.0f} rows/s")
        print(f"  repeat:       {repeat:.3f} s, {len(rows) / repeat:,.0f} rows/s")
        store.close()

    rng = random.Random(7)
    for size in (1_000, 5_000, 20_000):
        with tempfile.TemporaryDirectory() as folder:
            store = Store(f"sqlite:///{Path(folder) / 'bench.db'}")
            store.migrate()
            names = synthetic_names(size + 200, rng)
            timed_run(store, names[:size])
            seconds = timed_run(store, names[size:])
            per_name = seconds / 200 * 1000
            print(f"master of {size:,}: {per_name:.1f} ms per new spelling")
            store.close()


if __name__ == "__main__":
    main()
