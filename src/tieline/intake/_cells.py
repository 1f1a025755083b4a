"""Turning a raw cell into a typed value: transforms, numbers, dates.

Numbers are read as `Decimal` from their text, never through a float, and
strictly: a cell either reads as a number in the table's format or is an
error that names it. "1.234,56" in a table whose decimal mark is a point is
an error, not 1.23456.

The number format of a table is its decimal mark (`.` or `,`) and its
thousands separator. The profile may fix both per table (`decimal`,
`thousands` under `[tables.csv]` or `[tables.xlsx]`); what it leaves out is
detected once per file from every numeric cell (`detect_number_format`).
Spaces (plain, no-break, narrow no-break) and apostrophes are always
accepted as thousands separators: they are never a decimal mark. A sign may
lead ("-", "+", U+2212 minus) or trail ("1.234,56-", as SAP writes it); parentheses
mean negative; a currency symbol ($ € £ ¥) at either end is ignored.

Dates: a column's `date_format` wins; without one, the first common format
that fits every value of the column in the file is used (`detect_date_format`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl.utils.datetime import from_excel

from tieline.intake.profile import ColumnSpec
from tieline.money import MAX_MAGNITUDE

# Grouping marks that can never be a decimal mark.
_GROUPING = " \u00a0\u202f'\u2019"
_CURRENCY = "$€£¥"
_MINUS = "-\u2212"
_EXPONENT = re.compile(r"[eE][+-]?\d+$")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
)
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_MARK_NAMES = {".": "point", ",": "comma"}


class CellError(ValueError):
    """A cell that cannot be read as its column's type; the text says why."""


def _remove_suffix(value: str, suffix: str) -> str:
    return value[: -len(suffix)] if suffix and value.endswith(suffix) else value


TRANSFORMS: dict[str, Callable[[str, str], str]] = {
    "strip": lambda v, _: v.strip(),
    "upper": lambda v, _: v.upper(),
    "lower": lambda v, _: v.lower(),
    "collapse_spaces": lambda v, _: " ".join(v.split()),
    "remove_suffix": _remove_suffix,
    "remove_prefix": lambda v, arg: v.removeprefix(arg),
    "digits_only": lambda v, _: re.sub(r"\D", "", v),
}


def apply_transforms(value: str, transforms: Iterable[str]) -> str:
    """Apply named transforms in order; `name:argument` passes an argument."""
    for spec in transforms:
        name, _, argument = spec.partition(":")
        try:
            value = TRANSFORMS[name](value, argument)
        except KeyError:
            raise CellError(f"unknown transform {name!r}") from None
    return value


def _split_sign(text: str) -> tuple[bool, str]:
    """(negative, the bare number) of a cell's text, sign and currency removed."""
    value = text.strip().strip(_CURRENCY).strip()
    negative = False
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1].strip().strip(_CURRENCY).strip()
    if value and value[0] in _MINUS + "+":
        negative = negative or value[0] != "+"
        value = value[1:]
    elif value and value[-1] in _MINUS:
        negative, value = True, value[:-1]
    return negative, value.strip().strip(_CURRENCY).strip()


def _mark_shown(text: str) -> str | None:
    """The decimal mark a number's text proves, or None if it proves none.

    Both marks present: the later one is the decimal mark ("1.234,56").
    One mark present more than once: it groups thousands, so the decimal mark
    is the other one ("1,234,567"). One mark once, between 1 to 3 digits (not
    a lone 0) and exactly 3 digits ("1,234", "12.500"): ambiguous, no proof.
    One mark once otherwise ("12,5", "0,125", "1234,567"): it is the mark.
    """
    body = "".join(c for c in _split_sign(text)[1] if c not in _GROUPING)
    commas, points = body.count(","), body.count(".")
    if commas and points:
        return "," if body.rfind(",") > body.rfind(".") else "."
    if not commas and not points:
        return None
    mark = "," if commas else "."
    if max(commas, points) > 1:
        return "." if mark == "," else ","
    head, _, tail = body.partition(mark)
    if len(tail) == 3 and 1 <= len(head) <= 3 and head.isdigit() and head != "0":
        return None
    return mark


def detect_number_format(values: Iterable[str]) -> str:
    """The decimal mark ("," or ".") that a table's numeric cells use.

    Each cell that proves a mark (see `_mark_shown`) votes for it; the mark
    with more votes wins, a tie or no vote at all means ".". So a table whose
    only numbers are like "1,234" or "1.234" reads them with a decimal point:
    1234 and 1.234. A profile that knows better sets `decimal` for the table.
    Cells that contradict the winner are rejected by `parse_decimal`, each
    with its reason, rather than read wrongly.
    """
    votes = Counter(
        mark for value in values if (mark := _mark_shown(value)) is not None
    )
    return "," if votes[","] > votes["."] else "."


def parse_decimal(
    text: str, *, decimal_mark: str = ".", thousands: str | None = None
) -> Decimal:
    """Read a decimal from export text such as "1,234.50", "1.234,50", "(12.00)".

    `thousands` None accepts the mark that is not the decimal mark; a given
    separator ("" for none) replaces it. Spaces and apostrophes always group.
    """
    try:
        number = _parse_decimal(text, decimal_mark, thousands)
    except CellError:
        other = "," if decimal_mark == "." else "."
        if _parses(text, other):
            raise CellError(
                f"{text!r} reads as a number only with a decimal "
                f"{_MARK_NAMES[other]}, but this table's numbers use a decimal "
                f"{_MARK_NAMES[decimal_mark]} (set decimal in the profile)"
            ) from None
        raise
    if abs(number) >= MAX_MAGNITUDE:
        raise CellError(f"{text!r} is too large (at most 15 digits before the point)")
    return number


def _parses(text: str, decimal_mark: str) -> bool:
    try:
        _parse_decimal(text, decimal_mark, None)
    except CellError:
        return False
    return True


def _parse_decimal(text: str, decimal_mark: str, thousands: str | None) -> Decimal:
    negative, body = _split_sign(text)
    exponent = _EXPONENT.search(body)
    if exponent:
        body = body[: exponent.start()]
    head, _, fraction = body.partition(decimal_mark)
    separators = set(_GROUPING)
    separators.add(
        ("," if decimal_mark == "." else ".") if thousands is None else thousands
    )
    separators.discard(decimal_mark)
    separators.discard("")
    digits = _integer_digits(head, separators)
    if (
        digits is None
        or not (digits or fraction)
        or not (fraction.isdigit() or fraction == "")
        or (exponent and len(digits) != len(head))
    ):
        raise CellError(f"{text!r} is not a number")
    number = Decimal(
        f"{'-' if negative else ''}{digits or '0'}"
        f"{'.' + fraction if fraction else ''}{exponent.group() if exponent else ''}"
    )
    if not number.is_finite():
        raise CellError(f"{text!r} is not a finite number")
    return number


def _integer_digits(head: str, separators: set[str]) -> str | None:
    """The digits of an integer part, its grouping checked; None if malformed."""
    used = {c for c in head if not c.isdigit()}
    if not used:
        return head if head.isascii() else None
    if len(used) > 1 or not used <= separators:
        return None
    groups = head.split(used.pop())
    # A grouped number starts with 1 to 3 digits, not with 0: "0,001" is no
    # thousand, so it reads only with a decimal comma.
    if (
        not 1 <= len(groups[0]) <= 3
        or groups[0].startswith("0")
        or any(len(g) != 3 for g in groups[1:])
    ):
        return None
    digits = "".join(groups)
    return digits if digits.isdigit() and digits.isascii() else None


def excel_decimal(value: float) -> Decimal:
    """A workbook's float as Excel shows it: at most 15 significant digits.

    Excel keeps 15 significant digits; a stored 27367.699999999997 (the float
    nearest to 11899 x 2.3) is the 27367.7 that its user typed or saw.
    """
    if not math.isfinite(value):
        raise CellError(f"{value!r} is not a finite number")
    number = Decimal(format(value, ".15g"))
    exponent = number.as_tuple().exponent
    # "1.2e+16" reads as 12000000000000000, not as 1.2E+16.
    return (
        Decimal(int(number)) if isinstance(exponent, int) and exponent > 0 else number
    )


def detect_date_format(values: Iterable[str]) -> str | None:
    """The first common date format that reads every value, or None.

    Where every value fits both day-first and month-first ("03/04/2024"),
    day-first wins, being first in the list; a column's `date_format` in the
    profile settles it for good.
    """
    texts = [v for v in values if v]
    for fmt in _DATE_FORMATS:
        if texts and all(_fits(text, fmt) for text in texts):
            return fmt
    return None


def _fits(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)  # noqa: DTZ007 - a date only
    except ValueError:
        return False
    return True


def parse_date(text: str, date_format: str | None) -> date:
    """Read a date in the column's format, or in one of the common ones."""
    formats = (date_format,) if date_format else _DATE_FORMATS
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a date only
        except ValueError:
            continue
    raise CellError(f"{text!r} is not a date ({' or '.join(formats)})")


def read_cell(
    raw: Any,
    spec: ColumnSpec,
    *,
    decimal_mark: str,
    thousands: str | None,
    date_format: str | None = None,
) -> Any:
    """The typed value of one cell, or the column's default for a blank one.

    `raw` is text (CSV, or a text cell of a workbook) or a workbook's native
    value: an int, a Decimal (see `excel_decimal`), a datetime or a bool.
    """
    if not isinstance(raw, str | None):
        return _read_native(raw, spec)
    text = "" if raw is None else apply_transforms(raw, spec.transforms)
    if text == "":
        if spec.required:
            raise CellError("is required but blank")
        return spec.default
    if spec.type == "str":
        return text
    if spec.type in ("int", "decimal"):
        number = parse_decimal(text, decimal_mark=decimal_mark, thousands=thousands)
        return _as_int(number, text) if spec.type == "int" else number
    if spec.type == "date":
        return parse_date(text, spec.date_format or date_format)
    lowered = text.lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise CellError(f"{text!r} is not true or false")


def _as_int(number: Decimal, text: str) -> int:
    if number != number.to_integral_value():
        raise CellError(f"{text!r} is not a whole number")
    return int(number)


def _read_native(raw: Any, spec: ColumnSpec) -> Any:
    """A workbook's typed cell as the column's type."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if spec.type == "str" or (spec.type == "bool" and not isinstance(raw, bool)):
        text = raw.isoformat() if isinstance(raw, date) else str(raw)
        return read_cell(text, spec, decimal_mark=".", thousands="")
    if spec.type == "bool":
        return raw
    if spec.type == "date":
        if isinstance(raw, date):
            return raw
        if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
            # A date cell without a date style holds Excel's serial day number.
            return from_excel(float(raw)).date()
        raise CellError(f"{raw!r} is not a date")
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise CellError(f"{raw!r} is not a number")
    number = Decimal(raw)
    return _as_int(number, str(raw)) if spec.type == "int" else number
