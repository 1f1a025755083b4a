"""Turning a raw cell into a typed value: transforms, numbers, dates.

Numbers are read as `Decimal` from their text, never through a float. A
table's decimal mark and thousands separator come from its profile, or are
detected once per table from all its numeric cells (`detect_number_format`):
a value such as "1.234,56" or "12,5" means a decimal comma; otherwise the
decimal mark is a point. Spaces (including no-break spaces) and apostrophes
are always taken as thousands separators.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tieline.intake.profile import ColumnSpec

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_DECIMAL_COMMA = re.compile(
    r"^[-+]?\d{1,3}(\.\d{3})+(,\d+)?$|^[-+]?\d+,\d{1,2}$|^[-+]?\d+,\d{4,}$"
)
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y")
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


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


def detect_number_format(values: Iterable[str]) -> str:
    """The decimal mark ("," or ".") that the numeric cells of a table use."""
    for value in values:
        text = _SPACES.sub("", value)
        if _DECIMAL_COMMA.match(text):
            return ","
    return "."


def parse_decimal(
    text: str, *, decimal_mark: str = ".", thousands: str | None = None
) -> Decimal:
    """Read a decimal from export text such as "1,234.50", "1.234,50", "(12.00)"."""
    value = _SPACES.sub("", text)
    negative = value.startswith("(") and value.endswith(")")
    value = value.strip("()").lstrip("$€£")
    if thousands:
        value = value.replace(thousands, "")
    if decimal_mark == ",":
        value = value.replace(".", "").replace(",", ".")
    else:
        value = value.replace(",", "")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise CellError(f"{text!r} is not a number") from None
    if not result.is_finite():
        raise CellError(f"{text!r} is not a finite number")
    return -result if negative else result


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
    raw: Any, spec: ColumnSpec, *, decimal_mark: str, thousands: str | None
) -> Any:
    """The typed value of one cell, or None for a blank optional cell."""
    if isinstance(raw, datetime):
        raw = raw.date().isoformat()
    text = "" if raw is None else apply_transforms(str(raw), spec.transforms)
    if text == "":
        if spec.required:
            raise CellError("is required but blank")
        return spec.default
    if spec.type == "str":
        return text
    if spec.type == "int":
        number = parse_decimal(text, decimal_mark=decimal_mark, thousands=thousands)
        if number != number.to_integral_value():
            raise CellError(f"{text!r} is not a whole number")
        return int(number)
    if spec.type == "decimal":
        return parse_decimal(text, decimal_mark=decimal_mark, thousands=thousands)
    if spec.type == "date":
        return parse_date(text, spec.date_format)
    lowered = text.lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise CellError(f"{text!r} is not true or false")
