"""The `port-of-portland` import, checked against figures computed from the CSVs.

The oracle below reads the four CSV files with the csv module and Decimal
only; no tieline code takes part in computing what the import should give.
It applies the foundation issue's rules (item 8) as written there:

- a pay item with a blank quantity is rejected and takes no further part;
- a price is the total price as written, rounded half-up to the cent; blank
  is no price, zero is a price;
- one price per pay item and bidder: same-price repeats count once, repeats at
  different prices are a conflict and take no part;
- the engineer's estimate total is the sum of its prices over the pay items;
- the award goes to the real bidder (not the estimate, not "NAME OF
  CONTRACTOR n") with the lowest total among those who priced every pay item
  of the project without conflict; a tie goes to the name that sorts first.

Bidders are told apart by the name as written: in this data no project has two
spellings of one company, so that is the same as telling them apart by
supplier identity, and a false merge within a project would show up here.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tieline.cli import app
from tieline.model import Budget, Commitment, CostCode, Project, Supplier
from tieline.store import Store
from tieline.store._schema import outbox, records

pytestmark = pytest.mark.shared_data

CENT = Decimal("0.01")
ESTIMATE = "ENGINEER'S ESTIMATE"
PLACEHOLDER = re.compile(r"NAME OF CONTRACTOR \d+")
REVIEW_RULE, REVIEW_NAME = "fallback_review", "REVIEW_NEEDED"


# --- the oracle ---------------------------------------------------------------


@dataclass
class Expected:
    """What one project should come to, by the rules, from the CSVs alone."""

    code: str
    estimate_total: Decimal = Decimal(0)
    award_total: Decimal | None = None
    awardee: str | None = None
    tied: bool = False


@dataclass
class Oracle:
    """Expected figures per project source key, and the rows to reject or flag."""

    projects: dict[str, Expected] = field(default_factory=dict)
    rejects: set[tuple[str, int, str]] = field(default_factory=set)
    flags: set[tuple[str, int, str]] = field(default_factory=set)
    review_projects: set[str] = field(default_factory=set)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with their record number (the header is row 1)."""
    with path.open(newline="", encoding="utf-8") as handle:
        yield from enumerate(csv.DictReader(handle), start=2)


def _price(text: str) -> Decimal | None:
    text = text.strip()
    return Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP) if text else None


def compute_oracle(folder: Path) -> Oracle:
    """Apply the rules to the CSV files, with nothing but csv and Decimal."""
    oracle = Oracle()
    codes: dict[str, list[int]] = defaultdict(list)
    for number, row in _rows(folder / "Projects.csv"):
        oracle.projects[row["project_id"]] = Expected(code=row["ean"])
        codes[row["ean"]].append(number)
    for numbers in codes.values():
        if len(numbers) > 1:
            oracle.flags |= {("Projects.csv", n, "code") for n in numbers}

    items: dict[str, dict[str, str]] = {}
    for number, row in _rows(folder / "Items.csv"):
        if row["quantity"].strip():
            items[row["item_id"]] = row
        else:
            oracle.rejects.add(("Items.csv", number, "quantity"))
    _wbs(folder, items, oracle)
    prices, conflicts = _bids(folder, items, oracle)
    for key, expected in oracle.projects.items():
        project_items = [i for i, row in items.items() if row["project_id"] == key]
        _project_figures(expected, project_items, prices, conflicts)
    return oracle


def _wbs(folder: Path, items: dict[str, dict[str, str]], oracle: Oracle) -> None:
    names: dict[str, str] = {}
    for number, row in _rows(folder / "item_wbs_mapping_detail.csv"):
        file = "item_wbs_mapping_detail.csv"
        if row["item_id"] not in items:
            oracle.rejects.add((file, number, "item_id"))
        elif row["wbs_rule_id"] == REVIEW_RULE or row["wbs_description"] == REVIEW_NAME:
            oracle.flags.add((file, number, "rule_id"))
            oracle.review_projects.add(items[row["item_id"]]["project_id"])
        elif (
            names.setdefault(row["pop_wbs_code"], row["wbs_description"])
            != row["wbs_description"]
        ):
            oracle.flags.add((file, number, "name"))


Prices = dict[tuple[str, str], Decimal | None]


def _bids(
    folder: Path, items: dict[str, dict[str, str]], oracle: Oracle
) -> tuple[Prices, set[tuple[str, str]]]:
    pairs: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for number, row in _rows(folder / "Bids.csv"):
        name = row["contractor_name"].strip()
        if row["item_id"] not in items:
            oracle.rejects.add(("Bids.csv", number, "item_id"))
        elif PLACEHOLDER.fullmatch(name):
            oracle.rejects.add(("Bids.csv", number, "bidder"))
        else:
            pairs[(row["item_id"], name)].append((number, row))
    prices: Prices = {}
    conflicts: set[tuple[str, str]] = set()
    for pair, rows in pairs.items():
        if len({_price(row["total_price"]) for _, row in rows}) > 1:
            conflicts.add(pair)
            oracle.rejects |= {("Bids.csv", n, "total_price") for n, _ in rows}
            continue
        oracle.flags |= {("Bids.csv", n, "total_price") for n, _ in rows[1:]}
        number, row = rows[0]
        prices[pair] = _price(row["total_price"])
        if _extension_differs(items[pair[0]]["quantity"], row, prices[pair]):
            oracle.flags.add(("Bids.csv", number, "total_price"))
    return prices, conflicts


def _extension_differs(
    quantity: str, row: dict[str, str], price: Decimal | None
) -> bool:
    unit_price = row["unit_price"].strip()
    if price is None or not unit_price:
        return False
    return abs(Decimal(quantity) * Decimal(unit_price) - price) > CENT


def _project_figures(
    expected: Expected,
    item_ids: list[str],
    prices: Prices,
    conflicts: set[tuple[str, str]],
) -> None:
    expected.estimate_total = sum(
        (prices.get((i, ESTIMATE)) or Decimal(0) for i in item_ids), Decimal(0)
    )
    bidders = {name for (i, name) in [*prices, *conflicts] if i in item_ids}
    totals: dict[str, Decimal] = {}
    for name in bidders - {ESTIMATE}:
        if any((i, name) in conflicts for i in item_ids):
            continue
        quoted = [prices.get((i, name)) for i in item_ids]
        if item_ids and all(price is not None for price in quoted):
            totals[name] = sum((p for p in quoted if p is not None), Decimal(0))
    if totals:
        best = min(totals.values())
        lowest = sorted(name for name, total in totals.items() if total == best)
        expected.award_total, expected.awardee = best, lowest[0]
        expected.tied = len(lowest) > 1


# --- running the real CLI -----------------------------------------------------


@dataclass
class Imported:
    """One import through the CLI: exit code, summary, rejects and flags."""

    exit_code: int
    summary: dict[str, Any]
    rejects: list[dict[str, str]]
    flags: list[dict[str, str]]


def _issues(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run_cli(data_dir: Path, *args: str) -> Any:
    """`tieline ARGS` on the embedded store in `data_dir`."""
    env = {"TIELINE_DATA_DIR": str(data_dir), "TIELINE_DATABASE_URL": None}
    return CliRunner().invoke(app, list(args), env=env)


def import_folder(data_dir: Path, folder: Path) -> Imported:
    """Run `tieline import port-of-portland FOLDER` and read its run folder."""
    runs = data_dir / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    result = run_cli(data_dir, "import", "port-of-portland", str(folder))
    (run_dir,) = set(runs.iterdir()) - before
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return Imported(
        result.exit_code,
        summary,
        _issues(run_dir / "rejects.csv"),
        _issues(run_dir / "flags.csv"),
    )


def store_of(data_dir: Path) -> Store:
    """The embedded store the CLI wrote."""
    return Store(f"sqlite:///{(data_dir / 'tieline.db').resolve()}")


@pytest.fixture(scope="module")
def folder(shared_data: Path) -> Path:
    """The Port of Portland bid tabulations."""
    return shared_data / "port-of-portland-bid-tabs"


@pytest.fixture(scope="module")
def oracle(folder: Path) -> Oracle:
    """The figures the rules give, computed from the CSV files alone."""
    return compute_oracle(folder)


@pytest.fixture(scope="module")
def imported(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Imported]:
    """The folder imported once into a fresh embedded store."""
    data_dir = tmp_path_factory.mktemp("portland") / "var"
    return data_dir, import_folder(data_dir, folder)


# --- figures ------------------------------------------------------------------


def test_the_oracle_sees_the_known_shape_of_the_data(oracle: Oracle) -> None:
    # The data's known facts, so that a broken oracle cannot pass quietly.
    assert len(oracle.projects) == 29
    assert ("Items.csv", 122, "quantity") in oracle.rejects
    assert oracle.projects["1"].award_total == Decimal("1843275.00")
    assert oracle.projects["1"].estimate_total == Decimal(0)
    assert oracle.projects["6"].awardee is None  # only placeholders bid
    assert sum(1 for p in oracle.projects.values() if p.awardee) == 22


def test_budgets_and_awards_match_the_oracle_per_project(
    imported: tuple[Path, Imported], oracle: Oracle
) -> None:
    data_dir, _ = imported
    store = store_of(data_dir)
    with store.transaction() as tx:
        keys = {p.id: p.origin.key for p in tx.list(Project)}
        budgeted: dict[str, Decimal] = defaultdict(Decimal)
        for budget in tx.list(Budget, status="approved"):
            budgeted[keys[budget.project_id]] += sum(
                (line.amount for line in budget.lines), Decimal(0)
            )
        committed: dict[str, Decimal] = defaultdict(Decimal)
        awardees: dict[str, list[str]] = {}
        for commitment in tx.list(Commitment, status="approved"):
            key = keys[commitment.project_id]
            committed[key] += sum(
                (line.amount for line in commitment.lines), Decimal(0)
            )
            supplier = tx.get(Supplier, commitment.supplier_id)
            awardees[key] = [] if supplier is None else supplier.aliases
    store.close()

    assert sorted(keys.values()) == sorted(oracle.projects)
    for key, expected in oracle.projects.items():
        assert budgeted[key] == expected.estimate_total, key
        assert committed[key] == (expected.award_total or Decimal(0)), key
        if expected.awardee is None:
            assert key not in awardees, key
        else:
            assert expected.awardee in awardees[key], key


def test_the_cost_report_gives_the_oracle_figures(
    imported: tuple[Path, Imported], oracle: Oracle
) -> None:
    data_dir, _ = imported
    result = run_cli(data_dir, "report", "cost", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_key = {p["source_key"]: p for p in report["projects"]}
    assert sorted(by_key) == sorted(oracle.projects)
    for key, expected in oracle.projects.items():
        totals = by_key[key]["totals"]
        assert by_key[key]["code"] == expected.code
        assert by_key[key]["currency"] == "USD"
        assert totals["revised_budget"] == f"{expected.estimate_total:.2f}", key
        committed = expected.award_total or Decimal(0)
        assert totals["committed"] == f"{committed:.2f}", key


# --- what the run reports -----------------------------------------------------


def _cells(issues: list[dict[str, str]]) -> set[tuple[str, int, str]]:
    return {(i["file"], int(i["row"]), i["field"]) for i in issues}


def test_rejects_are_exactly_the_rows_the_rules_keep_out(
    imported: tuple[Path, Imported], oracle: Oracle
) -> None:
    _, run = imported
    assert run.exit_code == 2  # some rows were rejected
    assert _cells(run.rejects) == oracle.rejects
    assert len(run.rejects) == len(oracle.rejects)  # each row once
    reasons = {(i["file"], i["row"], i["field"]): i["reason"] for i in run.rejects}
    assert "no quantity" in reasons[("Items.csv", "122", "quantity")]
    assert "pay item 121" in reasons[("Items.csv", "122", "quantity")]
    # The engineer's estimate priced pay item 31 twice, differently.
    conflict = reasons[("Bids.csv", "362", "total_price")]
    assert "ENGINEER'S ESTIMATE" in conflict
    assert "283000.00, 386000.00" in conflict
    assert ("Bids.csv", "363", "total_price") in reasons
    assert "NAME OF CONTRACTOR 1" in reasons[("Bids.csv", "3643", "bidder")]


def test_flags_are_exactly_the_rows_a_person_should_see(
    imported: tuple[Path, Imported], oracle: Oracle
) -> None:
    _, run = imported
    assert _cells(run.flags) == oracle.flags
    reasons = {(i["file"], i["row"], i["field"]): i["reason"] for i in run.flags}
    # Two projects share the code 2017D013 and stay two projects.
    for row in ("7", "8"):
        assert "2017D013" in reasons[("Projects.csv", row, "code")]
    # Cost code 1.2.G40.321216 keeps its first name; row 51 names it otherwise.
    clash = reasons[("item_wbs_mapping_detail.csv", "51", "name")]
    assert "'Pavement Removal'" in clash
    assert "'Airfield Asphalt' is not kept" in clash
    # K&E priced pay item 33 on four rows at one price: counted once.
    for row in ("391", "392", "393"):
        assert "repeats row 390" in reasons[("Bids.csv", row, "total_price")]
    review = reasons[("item_wbs_mapping_detail.csv", "5", "rule_id")]
    assert "UNASSIGNED" in review


def test_projects_without_an_award_are_explained(
    imported: tuple[Path, Imported], oracle: Oracle
) -> None:
    _, run = imported
    notes: list[str] = run.summary["notes"]
    for key, expected in oracle.projects.items():
        label = f"project {expected.code} (source key {key}): no award"
        explained = [note for note in notes if note.startswith(label)]
        assert len(explained) == (0 if expected.awardee else 1), key
    assert any(
        "source key 6): no award: no real bidder" in note for note in notes
    )  # only the engineer's estimate and placeholders bid
    assert any(
        "source key 26): no award" in note
        and "MJ HUGHES CONSTRUCTION INC.: conflicting prices" in note
        for note in notes
    )


def test_cost_codes_keep_review_items_apart_per_project(
    imported: tuple[Path, Imported], oracle: Oracle
) -> None:
    data_dir, _ = imported
    store = store_of(data_dir)
    with store.transaction() as tx:
        keys = {p.id: p.origin.key for p in tx.list(Project)}
        codes = tx.list(CostCode)
    store.close()
    unassigned = [c for c in codes if c.code == "UNASSIGNED"]
    assert {keys[str(c.project_id)] for c in unassigned} == oracle.review_projects
    assert len(unassigned) == len(oracle.review_projects)
    (paving,) = [c for c in codes if c.code == "1.2.G40.321216"]
    assert paving.name == "Pavement Removal"
    assert paving.project_id is None


def test_every_real_bidder_is_a_supplier_under_the_spelling_it_bid(
    imported: tuple[Path, Imported], folder: Path
) -> None:
    spellings = {
        row["contractor_name"].strip() for _, row in _rows(folder / "Bids.csv")
    }
    real = {n for n in spellings if n != ESTIMATE and not PLACEHOLDER.fullmatch(n)}
    data_dir, _ = imported
    store = store_of(data_dir)
    with store.transaction() as tx:
        suppliers = tx.list(Supplier)
    store.close()
    owners: dict[str, list[str]] = defaultdict(list)
    for supplier in suppliers:
        for alias in supplier.aliases:
            owners[alias].append(supplier.id)
    assert set(owners) == real  # no estimate, no placeholder, no one missing
    assert all(len(ids) == 1 for ids in owners.values())
    # Supplier identity joins the spellings of one company.
    assert owners["NUTTER CORP."] == owners["NUTTER CORPORATION"]
    assert owners["K&E EXCAVATING INC."] == owners["K & E EXCAVATING INC."]
    assert len(suppliers) < len(real)


# --- idempotency --------------------------------------------------------------


def _snapshot(store: Store) -> tuple[list[Any], list[Any]]:
    with store.engine.connect() as connection:
        kept = connection.execute(
            select(records.c.id, records.c.version, records.c.content_hash).order_by(
                records.c.id
            )
        ).all()
        events = connection.execute(
            select(outbox.c.seq, outbox.c.event_id, outbox.c.type).order_by(
                outbox.c.seq
            )
        ).all()
    return kept, events


def test_a_second_import_changes_nothing(
    folder: Path, tmp_path: Path, oracle: Oracle
) -> None:
    # Given the folder imported once
    data_dir = tmp_path / "var"
    first = import_folder(data_dir, folder)
    store = store_of(data_dir)
    before = _snapshot(store)

    # When it is imported again
    second = import_folder(data_dir, folder)

    # Then no record and no event was added or changed
    after = _snapshot(store)
    store.close()
    assert after == before
    changes = [e for e in before[1] if e.type.endswith((".created", ".updated"))]
    assert len(changes) == first.summary["created"] + first.summary["updated"]
    assert first.summary["created"] > 0
    assert (second.summary["created"], second.summary["updated"]) == (0, 0)
    assert second.summary["unchanged"] == len(changes)
    kinds = {kind.rsplit(".", 1)[0] for kind in first.summary["by_kind"]}
    assert set(second.summary["by_kind"]) == {f"{kind}.unchanged" for kind in kinds}
    assert _cells(second.rejects) == oracle.rejects
    assert _cells(second.flags) == oracle.flags
