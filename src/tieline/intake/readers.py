"""Reading tables from CSV and XLSX exports into typed rows.

CSV as real exports come: the encoding is detected (a UTF-8 byte-order mark,
else UTF-8, else the best guess of charset-normalizer, e.g. Windows-1252),
the delimiter is sniffed among `,` `;` tab and `|`, and numbers may use
decimal commas and thousands separators (see `_cells`). XLSX is read with
openpyxl in read-only mode; a cell's native number is taken through its
text, never as a float sum.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from tieline.intake._cells import CellError, detect_number_format, read_cell
from tieline.intake.profile import TableSpec

_DELIMITERS = ",;\t|"


@dataclass(frozen=True, slots=True)
class Row:
    """One input row: where it came from and its typed values."""

    file: str
    number: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowError:
    """A field of a row that could not be read."""

    file: str
    number: int
    field: str
    reason: str


@dataclass
class Table:
    """All rows of one table, good and bad, in file order."""

    spec: TableSpec
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    read: int = 0


def decode(data: bytes, encoding: str | None = None) -> str:
    """Text of an export whose encoding may be unknown."""
    if encoding:
        return data.decode(encoding)
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data).best()
        return (
            str(best) if best is not None else data.decode("cp1252", errors="replace")
        )


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV text, from its first lines."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return max(_DELIMITERS, key=first.count)


def read_table(spec: TableSpec, path: Path) -> Table:
    """Read `path` as table `spec`: typed rows plus errors naming row and field."""
    table = Table(spec)
    header, raw_rows = _raw_rows(spec, path)
    positions = _positions(spec, header, path.name)
    number_mark = spec.csv.decimal or detect_number_format(
        str(raw[positions[name]])
        for _, raw in raw_rows
        for name, column in spec.columns.items()
        if column.type in ("decimal", "int") and positions[name] < len(raw)
    )
    for number, raw in raw_rows:
        table.read += 1
        _read_row(table, path.name, number, raw, positions, number_mark)
    return table


def _read_row(
    table: Table,
    file: str,
    number: int,
    raw: list[Any],
    positions: dict[str, int],
    number_mark: str,
) -> None:
    values: dict[str, Any] = dict(table.spec.constants)
    failed = False
    for name, column in table.spec.columns.items():
        position = positions[name]
        cell = raw[position] if position < len(raw) else None
        try:
            values[name] = read_cell(
                cell,
                column,
                decimal_mark=number_mark,
                thousands=table.spec.csv.thousands,
            )
        except CellError as err:
            table.errors.append(RowError(file, number, name, f"{column.column}: {err}"))
            failed = True
    if not failed:
        table.rows.append(Row(file, number, values))


def _positions(spec: TableSpec, header: list[str], file: str) -> dict[str, int]:
    cleaned = [str(h).strip() if h is not None else "" for h in header]
    positions: dict[str, int] = {}
    for name, column in spec.columns.items():
        if isinstance(column.column, int):
            positions[name] = column.column - 1
        elif column.column in cleaned:
            positions[name] = cleaned.index(column.column)
        else:
            from tieline.errors import ConfigurationError

            raise ConfigurationError(
                f"{file}: no column {column.column!r} for field {name} "
                f"(the header has: {', '.join(c for c in cleaned if c)})"
            )
    return positions


def _raw_rows(
    spec: TableSpec, path: Path
) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    if spec.format_for(path) == "xlsx":
        return _xlsx_rows(spec, path)
    text = decode(path.read_bytes(), spec.csv.encoding)
    delimiter = spec.csv.delimiter or sniff_delimiter(text[:20000])
    lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header_at = spec.csv.header_row - 1
    header = lines[header_at] if len(lines) > header_at else []
    rows = [
        (index + 1, line)
        for index, line in enumerate(lines)
        if index > header_at and any(cell.strip() for cell in line)
    ]
    return header, rows


def _xlsx_rows(
    spec: TableSpec, path: Path
) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook[spec.xlsx.sheet] if spec.xlsx.sheet else workbook.worksheets[0]
        header: list[str] = []
        rows: list[tuple[int, list[Any]]] = []
        for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if index == spec.xlsx.header_row:
                header = ["" if v is None else str(v) for v in values]
            elif index > spec.xlsx.header_row and any(
                v not in (None, "") for v in values
            ):
                rows.append((index, [_xlsx_text(v) for v in values]))
        return header, rows
    finally:
        workbook.close()


def _xlsx_text(value: Any) -> Any:
    # A float cell goes through repr, the shortest text that round-trips, so
    # 0.1 reads as "0.1" and not as 0.1000000000000000055511151231257827.
    if isinstance(value, float):
        return repr(value)
    return value


def iter_files(pattern: str, paths: list[Path]) -> Iterator[Path]:
    """Files among `paths` (files, or folders searched) that match `pattern`."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.glob(pattern) if p.is_file())
        elif path.match(pattern):
            yield path
