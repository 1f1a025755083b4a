"""CSV exports as they really come: encodings, delimiters, quoting, numbers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tieline.errors import ConfigurationError
from tieline.intake.profile import TableSpec
from tieline.intake.readers import detect_encoding, read_table, sniff_delimiter


def supplier_table(**overrides: Any) -> TableSpec:
    """A table of suppliers: a required name and an optional amount."""
    spec: dict[str, Any] = {
        "name": "suppliers",
        "file": "*.csv",
        "key": ["name"],
        "columns": {
            "name": {"column": "supplier", "required": True},
            "amount": {"column": "amount", "type": "decimal"},
        },
    }
    spec.update(overrides)
    return TableSpec.model_validate(spec)


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode(encoding))
    return path


def values(path: Path, spec: TableSpec | None = None) -> list[tuple[Any, ...]]:
    table = read_table(spec or supplier_table(), path)
    assert table.errors == []
    return [(row.number, *row.values.values()) for row in table.rows]


class TestEncodings:
    TEXT = "supplier;amount\nSociété Générale;1.234,56\nMüller Bau GmbH;12,5\n"
    EXPECTED: ClassVar[list[tuple[Any, ...]]] = [
        (2, "Société Générale", Decimal("1234.56")),
        (3, "Müller Bau GmbH", Decimal("12.5")),
    ]

    @pytest.mark.parametrize(
        "encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-32"]
    )
    def test_an_export_reads_the_same_in_any_common_encoding(
        self, tmp_path: Path, encoding: str
    ) -> None:
        assert values(write(tmp_path, self.TEXT, encoding)) == self.EXPECTED

    def test_a_bom_is_not_part_of_the_first_header(self, tmp_path: Path) -> None:
        # Given a UTF-8 file with a byte-order mark, read as the profile's "utf-8"
        path = write(tmp_path, self.TEXT, "utf-8-sig")
        spec = supplier_table(csv={"encoding": "utf-8"})

        # Then "supplier" is still found as the first column
        assert values(path, spec) == self.EXPECTED

    def test_utf16_without_a_bom_is_recognised(self, tmp_path: Path) -> None:
        assert values(write(tmp_path, self.TEXT, "utf-16-le")) == self.EXPECTED

    def test_windows_1252_keeps_its_own_characters(self, tmp_path: Path) -> None:
        text = "supplier;amount\nBéton Öst \u2013 Straßenbau;€ 1.000,00\n"
        path = write(tmp_path, text, "cp1252")

        assert detect_encoding(path.read_bytes()) == "cp1252"
        assert values(path) == [(2, "Béton Öst \u2013 Straßenbau", Decimal("1000.00"))]

    def test_a_central_european_export_is_not_read_as_western(
        self, tmp_path: Path
    ) -> None:
        text = (
            "supplier;amount\n"
            "Zakład Budowlany Łódź Sp. z o.o.;1 234,56\n"
            "Żuraw Śląsk;12,5\n"
            "Przedsiębiorstwo Dróg i Mostów;7\n"
        )
        path = write(tmp_path, text, "cp1250")

        assert [row[1] for row in values(path)] == [
            "Zakład Budowlany Łódź Sp. z o.o.",
            "Żuraw Śląsk",
            "Przedsiębiorstwo Dróg i Mostów",
        ]

    def test_a_stated_encoding_that_does_not_fit_fails_the_file(
        self, tmp_path: Path
    ) -> None:
        path = write(tmp_path, self.TEXT, "cp1252")
        with pytest.raises(ConfigurationError, match=r"export.csv is not readable"):
            read_table(supplier_table(csv={"encoding": "utf-8"}), path)


class TestDelimitersAndQuoting:
    @pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
    def test_fields_may_hold_the_delimiter_quotes_and_line_breaks(
        self, tmp_path: Path, delimiter: str
    ) -> None:
        d = delimiter
        text = (
            f"supplier{d}amount\n"
            f'"Kerr Contractors{d} Oregon{d} LLC"{d}10\n'
            f'"Nutter ""The Digger""\nCorporation"{d}20\n'
            f"Tapani Inc.{d}30\n"
        )
        path = write(tmp_path, text)

        assert sniff_delimiter(path.read_text()) == delimiter
        assert values(path) == [
            (2, f"Kerr Contractors{d} Oregon{d} LLC", Decimal(10)),
            (3, 'Nutter "The Digger"\nCorporation', Decimal(20)),
            # The quoted line break makes this record start on line 5.
            (5, "Tapani Inc.", Decimal(30)),
        ]

    def test_a_sep_line_names_the_delimiter(self, tmp_path: Path) -> None:
        path = write(tmp_path, "sep=;\r\nsupplier;amount\r\nA, B and C;1,5\r\n")

        assert values(path) == [(3, "A, B and C", Decimal("1.5"))]

    def test_a_decimal_comma_file_is_not_split_on_its_commas(
        self, tmp_path: Path
    ) -> None:
        text = "supplier;amount\nA;1,5\nB;2,25\nC;1.000,75\n"
        assert sniff_delimiter(text) == ";"


class TestNumbers:
    @pytest.mark.parametrize(
        ("cells", "expected"),
        [
            (["1.234,56", "12,5", "(7,00)"], ["1234.56", "12.5", "-7.00"]),
            (["1,234,567.89", "12.5", "(7.00)"], ["1234567.89", "12.5", "-7.00"]),
            (["1 234 567,89", "0,5", "-3"], ["1234567.89", "0.5", "-3"]),
            (["1'234.50", "12", "3.25-"], ["1234.50", "12", "-3.25"]),
        ],
    )
    def test_a_tables_number_format_is_detected(
        self, tmp_path: Path, cells: list[str], expected: list[str]
    ) -> None:
        lines = "".join(f'"S{i}";"{cell}"\n' for i, cell in enumerate(cells))
        path = write(tmp_path, "supplier;amount\n" + lines)

        amounts = [row[2] for row in values(path)]

        assert amounts == [Decimal(e) for e in expected]

    def test_ambiguous_numbers_read_with_a_point_unless_the_profile_says(
        self, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "supplier;amount\nA;1,234\nB;1.234\n")

        detected = [row[2] for row in values(path)]
        stated = [row[2] for row in values(path, supplier_table(csv={"decimal": ","}))]

        assert detected == [Decimal("1234"), Decimal("1.234")]
        assert stated == [Decimal("1.234"), Decimal("1234")]

    def test_a_cell_against_the_tables_format_is_rejected_with_its_row(
        self, tmp_path: Path
    ) -> None:
        # Given a point-decimal table with one decimal-comma cell on line 4
        path = write(
            tmp_path, 'supplier,amount\nA,1.5\nB,2.5\nC,"3,75"\nD,"1,000.25"\n'
        )

        table = read_table(supplier_table(), path)

        # Then that row is kept out, naming its line, field and why
        assert [(r.number, r.values["amount"]) for r in table.rows] == [
            (2, Decimal("1.5")),
            (3, Decimal("2.5")),
            (5, Decimal("1000.25")),
        ]
        (error,) = table.errors
        assert (error.file, error.number, error.field) == ("export.csv", 4, "amount")
        assert error.reason == (
            "column 'amount': '3,75' reads as a number only with a decimal comma, "
            "but this table's numbers use a decimal point (set decimal in the profile)"
        )


class TestLayout:
    def test_blank_lines_and_trailing_empty_columns_are_ignored(
        self, tmp_path: Path
    ) -> None:
        text = "\nsupplier,amount,,,\n\nA,1,,,\n,,,,\n\nB,2\n"
        path = write(tmp_path, text)

        assert values(path) == [(4, "A", Decimal(1)), (7, "B", Decimal(2))]
        assert read_table(supplier_table(), path).read == 2

    def test_a_header_with_stray_spaces_and_case_is_matched(
        self, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "  Supplier , AMOUNT  \nA,1\n")

        assert values(path) == [(2, "A", Decimal(1))]

    def test_title_lines_above_the_header_are_skipped(self, tmp_path: Path) -> None:
        text = "Supplier balances\nexported 2024-03-01\n\nsupplier,amount\nA,1\n"

        assert values(write(tmp_path, text)) == [(5, "A", Decimal(1))]

    def test_a_stated_header_row_is_used(self, tmp_path: Path) -> None:
        text = "supplier,amount\nignored,0\nsupplier,amount\nA,1\n"
        spec = supplier_table(csv={"header_row": 3})

        assert values(write(tmp_path, text), spec) == [(4, "A", Decimal(1))]

    def test_a_missing_column_names_it_and_lists_the_header(
        self, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "supplier , total ,currency\nA,1,EUR\n")

        with pytest.raises(ConfigurationError) as caught:
            read_table(supplier_table(), path)

        assert str(caught.value) == (
            "export.csv: no column 'amount' for field amount "
            "(the header on row 1 has: 'supplier', 'total', 'currency')"
        )

    def test_a_short_row_reads_its_missing_cells_as_blank(self, tmp_path: Path) -> None:
        path = write(tmp_path, "supplier,amount\nA\n")

        assert values(path) == [(2, "A", None)]

    def test_a_required_blank_cell_is_an_error_naming_the_column(
        self, tmp_path: Path
    ) -> None:
        table = read_table(supplier_table(), write(tmp_path, "supplier,amount\n ,5\n"))

        assert [(e.number, e.field, e.reason) for e in table.errors] == [
            (2, "name", "column 'supplier': is required but blank")
        ]
