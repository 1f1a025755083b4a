"""The masterformat profile: 8,774 cost codes, each with its parent."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tieline.intake import run_import
from tieline.intake._hierarchy import derive_parents
from tieline.intake.profile import HierarchySpec
from tieline.model import CostCode
from tieline.store import Store

pytestmark = pytest.mark.shared_data


def _significant(code: str) -> str:
    return "".join(c for c in code if c.isdigit()).rstrip("0")


def test_the_masterformat_list_imports_with_its_hierarchy_once(
    store: Store, shared_data: Path, tmp_path: Path
) -> None:
    # Given the MasterFormat 2016 list with levels
    folder = shared_data / "masterformat-json"
    with (folder / "masterformat-2016-with-levels.csv").open(newline="") as handle:
        source = {row["code"]: row for row in csv.DictReader(handle)}

    # When it is imported
    report = run_import(store, "masterformat", [folder], runs_dir=tmp_path / "runs")

    # Then every row is a cost code, and all but the 35 divisions have a parent
    summary = report.summary()
    assert (summary["read"], summary["created"], summary["rejected"]) == (
        8774,
        8774,
        0,
    )
    with store.transaction() as tx:
        codes = {c.code: c for c in tx.list(CostCode, source_system="masterformat")}
    assert len(codes) == len(source) == 8774
    assert sum(c.parent_code is not None for c in codes.values()) == 8739
    assert sorted(c.code for c in codes.values() if c.parent_code is None) == sorted(
        code for code, row in source.items() if row["level"] == "1"
    )
    parents = {code: c.parent_code for code, c in codes.items()}
    assert parents["03 31 13"] == "03 31 00"
    assert parents["00 11 13"] == "00 11 00"
    assert parents["00 11 00"] == "00 10 00"
    assert parents["00 10 00"] == "00 00 00"
    assert parents["00 24 13.13"] == "00 24 13"
    # The list has no "03 30 00": the nearest code that exists is the division.
    assert "03 30 00" not in source
    assert parents["03 31 00"] == "03 00 00"
    # "00 01 10" is a sibling at the same level, not the parent of "00 01 15".
    assert parents["00 01 15"] == "00 00 00"
    assert parents["03 00 00"] is None
    # and every parent is an ancestor in the code's digits, at a lower level
    for code, parent in parents.items():
        if parent is not None:
            assert _significant(code).startswith(_significant(parent)), code
            assert int(source[parent]["level"]) < int(source[code]["level"]), code
    assert codes["03 31 13"].name == "Heavyweight Structural Concrete"
    assert codes["03 31 13"].system == "masterformat-2016"
    assert codes["03 31 13"].level == 4

    # And a second import of the same list changes nothing
    again = run_import(store, "masterformat", [folder], runs_dir=tmp_path / "runs")
    summary = again.summary()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (
        0,
        0,
        8774,
    )


class TestHierarchyRules:
    def test_zero_trailing_without_levels_takes_the_nearest_code(self) -> None:
        spec = HierarchySpec(rule="zero_trailing")
        nodes = [(code, None) for code in ("1000", "1100", "1120", "1123", "1205")]

        # "1205" tries "1200" (absent), then "1000".
        assert derive_parents(nodes, spec) == [None, "1000", "1100", "1120", "1000"]

    def test_drop_last_segment_walks_up_a_dotted_wbs(self) -> None:
        spec = HierarchySpec(rule="drop_last_segment", separator=".")
        nodes = [
            ("1", None),
            ("1.7", None),
            ("1.7.Z10", None),
            ("1.7.Z10.015000", None),
            ("1.9.A.1", None),
            ("2", None),
        ]

        assert derive_parents(nodes, spec) == [None, "1", "1.7", "1.7.Z10", "1", None]

    def test_a_level_keeps_a_code_from_taking_a_sibling(self) -> None:
        spec = HierarchySpec(rule="zero_trailing", level="level")
        nodes = [("00 00 00", 1), ("00 01 10", 4), ("00 01 15", 4)]

        assert derive_parents(nodes, spec) == [None, "00 00 00", "00 00 00"]
