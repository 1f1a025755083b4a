"""Cells become typed values: numbers as exact decimals in any export format."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tieline.intake._cells import (
    CellError,
    detect_date_format,
    detect_number_format,
    excel_decimal,
    parse_decimal,
    read_cell,
)
from tieline.intake.profile import ColumnSpec

GROUPING = ("", ",", ".", " ", "'", "\u00a0", "\u202f")
NEGATIVE_STYLES = ("-", "()", "trailing")


def format_decimal(value: Decimal, mark: str, grouping: str, negative: str) -> str:
    """`value` as an export would write it, with the given marks and sign style."""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    text = grouping.join([whole, *groups]) + (mark + fraction if fraction else "")
    if not value.is_signed():
        return text
    return {"-": f"-{text}", "()": f"({text})", "trailing": f"{text}-"}[negative]


decimals = st.builds(
    lambda digits, places: Decimal(digits).scaleb(-places),
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.integers(min_value=0, max_value=6),
)


class TestParseDecimal:
    @pytest.mark.parametrize(
        ("text", "mark", "expected"),
        [
            ("1.234,56", ",", "1234.56"),
            ("12,5", ",", "12.5"),
            ("1,234,567.89", ".", "1234567.89"),
            ("1 234 567,89", ",", "1234567.89"),
            ("1\u00a0234\u00a0567,89", ",", "1234567.89"),
            ("1'234.50", ".", "1234.50"),
            ("(1,234.00)", ".", "-1234.00"),
            ("(12,50)", ",", "-12.50"),
            ("1.234,56-", ",", "-1234.56"),
            ("\u221212,5", ",", "-12.5"),
            ("$ 1,234.00", ".", "1234.00"),
            ("€1.000,00", ",", "1000.00"),
            ("+7", ".", "7"),
            (".5", ".", "0.5"),
            ("1.2E+07", ".", "12000000"),
            ("0,125", ",", "0.125"),
        ],
    )
    def test_reads_the_formats_exports_use(
        self, text: str, mark: str, expected: str
    ) -> None:
        assert parse_decimal(text, decimal_mark=mark) == Decimal(expected)

    @pytest.mark.parametrize("text", ["99999999999999999999999999999999.0", "1E+20"])
    def test_refuses_a_number_too_large_to_be_an_amount(self, text: str) -> None:
        with pytest.raises(CellError, match="too large"):
            parse_decimal(text)

    def test_keeps_the_scale_written(self) -> None:
        assert str(parse_decimal("1.234,50", decimal_mark=",")) == "1234.50"

    @pytest.mark.parametrize(
        "text",
        ["1,23,4", "12 5", "abc", "1..2", "--1", "1,2.3,4", "", "(", "1e5e5"],
    )
    def test_refuses_text_that_is_not_a_number(self, text: str) -> None:
        with pytest.raises(CellError, match="is not a number"):
            parse_decimal(text)

    @pytest.mark.parametrize("text", ["1.234,56", "0,001", "1,2345"])
    def test_a_number_in_the_other_format_is_refused_with_a_hint(
        self, text: str
    ) -> None:
        # A point-decimal table must not read "1.234,56" as 1.23456, nor
        # "0,001" as 1.
        with pytest.raises(CellError, match="only with a decimal comma"):
            parse_decimal(text, decimal_mark=".")

    def test_a_stated_thousands_separator_replaces_the_default(self) -> None:
        # With thousands = "" a point no longer groups in a decimal-comma table.
        with pytest.raises(CellError, match="only with a decimal point"):
            parse_decimal("1.234", decimal_mark=",", thousands="")
        # Spaces and apostrophes group whatever the profile says.
        assert parse_decimal("1 234,5", decimal_mark=",", thousands="") == Decimal(
            "1234.5"
        )
        assert parse_decimal("1'234", decimal_mark=".", thousands=",") == 1234

    # No deadline: the property is about values, and a loaded CI machine
    # must not turn a slow example into a failure.
    @settings(deadline=None)
    @given(
        decimals,
        st.sampled_from((".", ",")),
        st.sampled_from(GROUPING),
        st.sampled_from(NEGATIVE_STYLES),
    )
    def test_any_decimal_reads_back_exactly_in_its_stated_format(
        self, value: Decimal, mark: str, grouping: str, negative: str
    ) -> None:
        assume(grouping != mark)
        text = format_decimal(value, mark, grouping, negative)

        parsed = parse_decimal(text, decimal_mark=mark, thousands=grouping)

        assert parsed == value
        assert parsed.as_tuple().exponent == value.as_tuple().exponent

    @settings(deadline=None)
    @given(
        st.lists(decimals, min_size=1, max_size=20),
        st.sampled_from((".", ",")),
        st.sampled_from(GROUPING),
        st.sampled_from(NEGATIVE_STYLES),
    )
    def test_any_column_reads_back_exactly_with_its_format_detected(
        self, values: list[Decimal], mark: str, grouping: str, negative: str
    ) -> None:
        assume(grouping != mark)
        texts = [format_decimal(v, mark, grouping, negative) for v in values]
        other = "," if mark == "." else "."

        detected = detect_number_format(texts)

        readings = {m: [_reading(t, m) for t in texts] for m in (mark, other)}
        if None in readings[other]:
            # Some value reads only in its own format: that format is found.
            assert detected == mark
            assert readings[mark] == values
        elif readings[other] == readings[mark]:
            # Every value reads the same either way ("1234", "-7").
            assert [parse_decimal(t, decimal_mark=detected) for t in texts] == values
        else:
            # Only ambiguous values such as "1,234": the rule says point.
            assert detected == "."


def _reading(text: str, mark: str) -> Decimal | None:
    try:
        return parse_decimal(text, decimal_mark=mark)
    except CellError:
        return None


class TestDetectNumberFormat:
    @pytest.mark.parametrize(
        ("values", "mark"),
        [
            (["1.234,56"], ","),
            (["12,5"], ","),
            (["1,234,567.89"], "."),
            (["1.234.567"], ","),
            (["1 234 567,89"], ","),
            (["0,125"], ","),
            (["1234,567"], ","),
            (["12.5", "3"], "."),
            (["7", "12"], "."),
            ([], "."),
        ],
    )
    def test_a_value_that_shows_its_mark_decides(
        self, values: list[str], mark: str
    ) -> None:
        assert detect_number_format(values) == mark

    @pytest.mark.parametrize("value", ["1,234", "1.234", "12,500", "999.000"])
    def test_an_ambiguous_value_alone_reads_with_a_decimal_point(
        self, value: str
    ) -> None:
        # The rule: "1,234" and "1.234" prove nothing; with no other evidence
        # the decimal mark is a point, so they read as 1234 and 1.234.
        assert detect_number_format([value]) == "."

    def test_an_ambiguous_value_follows_the_rest_of_its_table(self) -> None:
        mark = detect_number_format(["1.234", "12,5"])
        assert mark == ","
        assert parse_decimal("1.234", decimal_mark=mark) == Decimal("1234")

    def test_the_mark_more_cells_show_wins(self) -> None:
        assert detect_number_format(["1,5", "2,5", "3.5"]) == ","


class TestExcelDecimal:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (27367.699999999997, "27367.7"),
            (0.1 + 0.2, "0.3"),
            (11998919.999999998, "11998920"),
            (1e16, "10000000000000000"),
            (1e-05, "0.00001"),
            (4.6, "4.6"),
        ],
    )
    def test_a_float_cell_is_the_decimal_excel_shows(
        self, value: float, expected: str
    ) -> None:
        assert str(excel_decimal(value)) == expected


class TestReadCell:
    def test_a_blank_required_cell_is_refused(self) -> None:
        with pytest.raises(CellError, match="required but blank"):
            read_cell(
                "  ",
                ColumnSpec(column="a", required=True),
                decimal_mark=".",
                thousands=None,
            )

    def test_a_blank_optional_cell_takes_the_default(self) -> None:
        spec = ColumnSpec(column="a", type="decimal", default="0")
        assert read_cell("", spec, decimal_mark=".", thousands=None) == "0"

    def test_a_fractional_int_is_refused(self) -> None:
        spec = ColumnSpec(column="a", type="int")
        with pytest.raises(CellError, match="not a whole number"):
            read_cell("2,5", spec, decimal_mark=",", thousands=None)

    def test_native_workbook_values_keep_their_type(self) -> None:
        def read(raw: object, kind: str) -> object:
            spec = ColumnSpec(column="a", type=kind)  # type: ignore[arg-type]
            return read_cell(raw, spec, decimal_mark=",", thousands=None)

        assert read(Decimal("27367.7"), "decimal") == Decimal("27367.7")
        assert read(12, "int") == 12
        naive = datetime(2020, 1, 14, 9, 30)  # noqa: DTZ001 - as workbooks hold them
        assert read(naive, "date") == date(2020, 1, 14)
        assert read(45000, "date") == date(2023, 3, 15)  # Excel's serial day
        assert read(Decimal("3.5"), "str") == "3.5"
        assert read(True, "bool") is True
        with pytest.raises(CellError, match="not a number"):
            read("twelve", "decimal")

    def test_transforms_apply_before_the_type(self) -> None:
        spec = ColumnSpec(
            column="a", type="decimal", transforms=("strip", "remove_suffix: EUR")
        )
        assert read_cell(" 1.234,50 EUR", spec, decimal_mark=",", thousands=None) == (
            Decimal("1234.50")
        )


class TestDates:
    def test_a_column_is_read_in_the_one_format_that_fits_all_its_values(
        self,
    ) -> None:
        # "03/04/2024" alone is ambiguous; "04/13/2024" settles month-first.
        assert detect_date_format(["03/04/2024", "04/13/2024"]) == "%m/%d/%Y"
        assert detect_date_format(["03/04/2024", "13/04/2024"]) == "%d/%m/%Y"

    def test_an_ambiguous_column_reads_day_first(self) -> None:
        assert detect_date_format(["03/04/2024"]) == "%d/%m/%Y"

    def test_the_detected_format_is_used_for_the_cell(self) -> None:
        spec = ColumnSpec(column="a", type="date")
        value = read_cell(
            "03/04/2024", spec, decimal_mark=".", thousands=None, date_format="%m/%d/%Y"
        )
        assert value == date(2024, 3, 4)

    def test_a_profile_date_format_wins(self) -> None:
        spec = ColumnSpec(column="a", type="date", date_format="%m/%d/%Y")
        value = read_cell(
            "03/04/2024", spec, decimal_mark=".", thousands=None, date_format="%d/%m/%Y"
        )
        assert value == date(2024, 3, 4)

    def test_a_cell_that_is_no_date_is_refused(self) -> None:
        spec = ColumnSpec(column="a", type="date")
        with pytest.raises(CellError, match="is not a date"):
            read_cell("31/31/2024", spec, decimal_mark=".", thousands=None)
