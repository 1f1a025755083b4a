"""The bid-tabulation builder's rules, on a small bid tab written here.

The shipped `port-of-portland` profile reads these files; each case below
is one rule of the foundation issue's item 8 that the public data does not
exercise (a tie, a blank price beside a zero, an extension that is off, an
award that a later import withdraws).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tieline.intake import Issue, RunReport, load_profile, run_import
from tieline.model import (
    Budget,
    Commitment,
    CommitmentStatus,
    CostCode,
    Project,
    Supplier,
)
from tieline.store import Store

PROJECTS = """project_id,ean,project_name,advertise_date,location,solicitation_no,\
pdf_link
1,P1,ALPHA APRON 0,2020-01-01,PDX,S-1,a.xlsx
2,P2,BETA FENCE,2020-01-02,PDX,S-2,b.xlsx
3,P3,GAMMA SIGN,2020-01-03,HIO,S-3,c.xlsx
"""

ITEMS = """item_id,project_id,line_no,item_description_raw,specification,\
alternate_specification,pay_item_description,supplemental_description,item,\
quantity,unit_norm
10,1,0001,Mobilization,X,,Mobilization,,X - Mobilization,1.0,LS
11,1,0002,Asphalt,X,,Asphalt,,X - Asphalt,100,TON
12,1,0003,Striping (alternate),X,,Striping (alternate),,X - Striping,2.5,LF
13,1,#REF!,#REF!,X,,#REF!,,#REF!,,#REF!
20,2,0001,Fence,X,,Fence,,X - Fence,10,LF
30,3,0001,Sign,X,,Sign,,X - Sign,1,EACH
99,9,0001,Orphan,X,,Orphan,,X - Orphan,1,LS
"""

WBS = """item_id,project_id,line_no,item_group,item_subgroup,specification,\
pay_item_description,item_description_raw,item_label,pop_wbs_code,\
wbs_description,wbs_rule_id
10,1,0001,G,S,X,Mobilization,Mobilization,M,1.7.Z10.015000,Temporary Facilities,tf
11,1,0002,G,S,X,Asphalt,Asphalt,A,1.2.G40.321216,Pavement Removal,pr
12,1,0003,G,S,X,Striping,Striping,S,,REVIEW_NEEDED,fallback_review
13,1,#REF!,G,S,X,#REF!,#REF!,#REF!,,REVIEW_NEEDED,fallback_review
20,2,0001,G,S,X,Fence,Fence,F,1.2.G40.321216,Airfield Asphalt,aa
30,3,0001,G,S,X,Sign,Sign,S,1.7.Z10.015000,Temporary Facilities,tf
"""

BIDS_HEADER = "bid_id,item_id,contractor_name,unit_price,total_price,is_winner,rank\n"

# Rows 2-20 of Bids.csv; the comments give the row numbers the tests name.
BIDS = BIDS_HEADER + (
    "1,10,ENGINEER'S ESTIMATE,5000.004,5000.004,True,\n"  # 2
    "2,11,ENGINEER'S ESTIMATE,10.005,1000.5,True,\n"  # 3
    "3,12,ENGINEER'S ESTIMATE,,10.125,True,\n"  # 4: half-up gives 10.13
    "4,10,ACME PAVING INC.,4000,4000.0,True,1\n"  # 5
    "5,11,ACME PAVING INC.,9,950,True,1\n"  # 6: 100 x 9 is not 950
    "6,12,ACME PAVING INC.,0,0.0,True,1\n"  # 7: a zero is a price
    "7,10,ACME PAVING INC.,4000,4000.00,True,1\n"  # 8: same price again
    "8,10,BETA BUILDERS,4000,4000,True,2\n"  # 9
    "9,11,BETA BUILDERS,9.5,950,True,2\n"  # 10
    "10,12,BETA BUILDERS,0,0,True,2\n"  # 11
    "11,10,CHEAP CO,100,100,True,\n"  # 12
    "12,11,CHEAP CO,,,True,\n"  # 13: blank is no price
    "13,12,CHEAP CO,1,2.5,True,\n"  # 14
    "14,10,DUPE LLC,50,50,True,\n"  # 15
    "15,10,DUPE LLC,60,60,True,\n"  # 16: a conflict with row 15
    "16,11,DUPE LLC,0.01,1,True,\n"  # 17
    "17,12,DUPE LLC,0.4,1,True,\n"  # 18
    "18,10,NAME OF CONTRACTOR 1,,0.0,True,\n"  # 19
    "19,13,ENGINEER'S ESTIMATE,,100,True,\n"  # 20: its item has no quantity
    "20,20,ENGINEER'S ESTIMATE,50,500,True,\n"  # 21
    "21,20,NAME OF CONTRACTOR 2,,1,True,\n"  # 22
    "22,30,ENGINEER'S ESTIMATE,,,True,\n"  # 23
    "23,30,SOLO INC.,700,700,True,\n"  # 24
    "24,77,SOLO INC.,1,1,True,\n"  # 25: no such pay item
)


def write_tab(folder: Path, bids: str = BIDS) -> Path:
    """A bid-tab folder with the four files the profile reads."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("Projects.csv", PROJECTS),
        ("Items.csv", ITEMS),
        ("item_wbs_mapping_detail.csv", WBS),
        ("Bids.csv", bids),
    ):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def import_tab(store: Store, folder: Path, runs: Path) -> RunReport:
    """Import the folder with the shipped profile."""
    return run_import(store, "port-of-portland", [folder], runs_dir=runs)


def reasons(issues: list[Issue]) -> dict[tuple[str, str, str], str]:
    """Issues by (file, row, field)."""
    return {(i.file, i.row, i.field): i.reason for i in issues}


@pytest.fixture
def imported(store: Store, tmp_path: Path) -> RunReport:
    """The small tab, imported once."""
    return import_tab(store, write_tab(tmp_path / "tab"), tmp_path / "runs")


def _project(store: Store, key: str) -> Project:
    with store.transaction() as tx:
        (project,) = [p for p in tx.list(Project) if p.origin.key == key]
    return project


def _award(store: Store, key: str) -> Commitment | None:
    project_id = _project(store, key).id
    with store.transaction() as tx:
        found = tx.list(Commitment, project_id=project_id)
    return found[0] if found else None


def test_the_estimate_is_the_budget_rounded_half_up_line_by_line(
    store: Store, imported: RunReport
) -> None:
    project_id = _project(store, "1").id
    with store.transaction() as tx:
        (budget,) = tx.list(Budget, project_id=project_id)
    assert budget.status == "approved"
    amounts = {line.line_key: line.amount for line in budget.lines}
    assert amounts == {
        "10": Decimal("5000.00"),
        "11": Decimal("1000.50"),
        "12": Decimal("10.13"),
    }
    codes = {line.line_key: line.cost_code for line in budget.lines}
    assert codes == {"10": "1.7.Z10.015000", "11": "1.2.G40.321216", "12": "UNASSIGNED"}


def test_a_tie_goes_to_the_name_that_sorts_first_and_is_flagged(
    store: Store, imported: RunReport
) -> None:
    award = _award(store, "1")
    assert award is not None
    assert award.status is CommitmentStatus.APPROVED
    with store.transaction() as tx:
        supplier = tx.get(Supplier, award.supplier_id)
    assert supplier is not None
    assert "ACME PAVING INC." in supplier.aliases
    lines = {line.line_key: line.amount for line in award.lines}
    assert lines == {
        "10": Decimal("4000.00"),
        "11": Decimal("950.00"),
        "12": Decimal("0.00"),
    }
    tie = reasons(imported.flags)[("Projects.csv", "2", "award")]
    assert "ACME PAVING INC., BETA BUILDERS" in tie
    assert "awarded to ACME PAVING INC." in tie


def test_a_blank_price_or_a_conflict_keeps_a_bidder_from_the_award(
    imported: RunReport,
) -> None:
    # CHEAP CO and DUPE LLC bid lowest, but one left a price blank and the
    # other priced a pay item twice at different totals.
    rejects = reasons(imported.rejects)
    for row in ("15", "16"):
        reason = rejects[("Bids.csv", row, "total_price")]
        assert "'DUPE LLC' priced pay item 10 on 2 rows" in reason
        assert "50.00, 60.00" in reason
    assert ("Bids.csv", "13", "total_price") not in rejects


def test_rows_are_rejected_or_flagged_with_file_row_field_and_reason(
    imported: RunReport,
) -> None:
    rejects, flags = reasons(imported.rejects), reasons(imported.flags)
    assert "no quantity" in rejects[("Items.csv", "5", "quantity")]
    assert "no project with source key '9'" in rejects[("Items.csv", "8", "project_id")]
    assert "pay item 13 was rejected" in rejects[("Bids.csv", "20", "item_id")]
    assert (
        "pay item 13 was rejected"
        in rejects[("item_wbs_mapping_detail.csv", "5", "item_id")]
    )
    assert "no pay item '77'" in rejects[("Bids.csv", "25", "item_id")]
    assert "template placeholder" in rejects[("Bids.csv", "19", "bidder")]
    assert "100 x unit price 9 = 900" in flags[("Bids.csv", "6", "total_price")]
    assert "repeats row 5" in flags[("Bids.csv", "8", "total_price")]
    assert "'Pavement Removal'" in flags[("item_wbs_mapping_detail.csv", "6", "name")]
    assert "fallback_review" in flags[("item_wbs_mapping_detail.csv", "4", "rule_id")]
    assert len(imported.rejects) == 9
    assert len(imported.flags) == 5
    assert imported.exit_code == 2


def test_no_award_is_explained_and_a_lone_full_bid_wins(
    store: Store, imported: RunReport
) -> None:
    assert _award(store, "2") is None
    assert (
        "project P2 (source key 2): no award: no real bidder (only the engineer's "
        "estimate or placeholder names)" in imported.notes
    )
    assert "project P3 (source key 3): no engineer's estimate; its budget is empty" in (
        imported.notes
    )
    solo = _award(store, "3")
    assert solo is not None
    assert [line.amount for line in solo.lines] == [Decimal("700.00")]


def test_project_names_lose_the_stray_trailing_zero(
    store: Store, imported: RunReport
) -> None:
    assert _project(store, "1").name == "ALPHA APRON"
    assert _project(store, "1").code == "P1"


def test_unassigned_is_a_code_of_its_own_project(
    store: Store, imported: RunReport
) -> None:
    with store.transaction() as tx:
        codes = [c for c in tx.list(CostCode) if c.code == "UNASSIGNED"]
    assert [c.project_id for c in codes] == [_project(store, "1").id]


def test_an_award_a_later_import_withdraws_is_cancelled(
    store: Store, imported: RunReport, tmp_path: Path
) -> None:
    # Given project P1 awarded by the first import
    assert _award(store, "1") is not None

    # When a corrected tab shows ACME and BETA priced the striping twice
    conflicts = "90,12,ACME PAVING INC.,1,2.5,True,\n90,12,BETA BUILDERS,1,2.5,True,\n"
    folder = write_tab(tmp_path / "tab", BIDS + conflicts)
    second = import_tab(store, folder, tmp_path / "runs")

    # Then the award is cancelled, and the run says why
    award = _award(store, "1")
    assert award is not None
    assert award.status is CommitmentStatus.CANCELLED
    assert any(
        note.startswith("project P1 (source key 1): no award") for note in second.notes
    )
    assert "project P1 (source key 1): the award of a former run is cancelled" in (
        second.notes
    )


def test_a_profile_without_the_estate_options_fails_the_run(
    store: Store, tmp_path: Path
) -> None:
    profile = load_profile("port-of-portland")
    broken = profile.model_copy(update={"options": {"currency": "USD"}})

    report = run_import(
        store, broken, [write_tab(tmp_path / "tab")], runs_dir=tmp_path / "runs"
    )

    assert report.exit_code == 1
    assert report.failure is not None
    assert "port-of-portland: bad options" in report.failure
    assert "legal_entity" in report.failure
    with store.transaction() as tx:
        assert tx.count(Project) == 0
