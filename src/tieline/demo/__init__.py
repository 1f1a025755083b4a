"""The main job's imports: the shipped example estate, or the shared data sets.

The example estate (`estate/`, shipped with the package) is a construction
group as its systems export it, imported through the same intake engine and
shipped profiles as any real export, in three runs:

1. `demo-estate`: two companies (Larkfield Construction Ltd in GBP,
   Larkfield Construction Ireland Ltd in EUR), three projects, the company
   WBS and its crosswalk to MasterFormat, budgets and revisions, the vendor
   list (one company on it twice, spelt two ways), purchase orders and
   subcontracts, change orders, goods receipts and progress claims;
2. `ubl`: the suppliers' Peppol invoices and credit note, among them a price
   above the order, more invoiced than received, a duplicate, and one naming
   an order the group never placed;
3. `demo-payments`: the payment run, which settles invoices of step 2.

With a shared data folder instead, the runs are MasterFormat as a cost-code
library, the Port of Portland bid tabulations, and the Peppol examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from tieline.errors import ConfigurationError
from tieline.intake import RunReport, load_profile, run_import
from tieline.store import Store

Progress = Callable[[str, int, int], None]

# The estate's runs, in the order their records depend on each other.
ESTATE_RUNS: tuple[str, ...] = ("demo-estate", "ubl", "demo-payments")

# (profile, folder of the shared data) for `tieline demo --data DIR`.
SHARED_RUNS: tuple[tuple[str, str], ...] = (
    ("masterformat", "masterformat-json"),
    ("port-of-portland", "port-of-portland-bid-tabs"),
    ("ubl", "peppol-bis-invoice-3"),
)


@contextmanager
def estate_folder() -> Iterator[Path]:
    """The shipped example estate as a folder on disk, for the block's duration."""
    entry = resources.files("tieline.demo") / "estate"
    if isinstance(entry, Path):
        yield entry
        return
    # Installed inside a zip: copy the files out for the readers.
    with resources.as_file(entry) as folder:  # pragma: no cover - zip installs only
        yield Path(folder)


def import_estate(
    store: Store, *, runs_dir: Path, progress: Progress | None = None
) -> list[RunReport]:
    """Import the example estate; one report per run, in order."""
    with estate_folder() as folder:
        return [
            run_import(store, profile, [folder], runs_dir=runs_dir, progress=progress)
            for profile in ESTATE_RUNS
        ]


def shared_folders(data: Path) -> list[tuple[str, Path]]:
    """(profile, folder) of each shared data set; raises if one is missing."""
    runs = [(profile, data / folder) for profile, folder in SHARED_RUNS]
    for profile, folder in runs:
        if not folder.is_dir():
            raise ConfigurationError(
                f"{folder} is not a folder; the {profile} import needs it"
            )
    return runs


def import_shared_data(
    store: Store, data: Path, *, runs_dir: Path, progress: Progress | None = None
) -> list[RunReport]:
    """Import MasterFormat, Port of Portland and the Peppol examples from `data`.

    Every folder and profile is checked before the first import starts, so a
    wrong `data` changes nothing.
    """
    runs = [(load_profile(name), folder) for name, folder in shared_folders(data)]
    return [
        run_import(store, profile, [folder], runs_dir=runs_dir, progress=progress)
        for profile, folder in runs
    ]
