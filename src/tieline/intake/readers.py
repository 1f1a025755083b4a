"""Reading tables from CSV and XLSX exports into typed rows.

CSV as real exports come:
- encoding: a byte-order mark names it (UTF-8, UTF-16, UTF-32); else NUL
  bytes in every other place mean UTF-16 without a mark; else UTF-8 if the
  bytes are valid UTF-8; else Windows-1252 (a superset of Latin-1 for text)
  unless charset-normalizer finds a code page that reads with less mess, as
  it does for Polish (Windows-1250) or Russian (Windows-1251) exports. Its
  bare first guess is not used: on short Western files it picks code pages
  such as cp775 that turn "Société" into "Sociķtķ".
  TODO: a file with only a handful of non-ASCII letters cannot be told
  apart from Windows-1252 (one Polish line "Zakład Łódź" reads as
  "Zak³ad £ódŸ" without any error); the user must set `encoding` under
  `[tables.csv]` for such a file, or its names come in garbled.
- delimiter: a first line `sep=;` (as Excel writes it) names it; else the one
  of `,` `;` tab `|` that splits the first records into the most consistent
  number of fields, two or more.
- quoted fields may hold delimiters and line breaks; blank lines, trailing
  empty columns and stray spaces around header names are ignored.
- a row's number is the line of the file its record starts on, so a reject
  report points to where a text editor shows the row.

XLSX is read with openpyxl in read-only mode; a row's number is the sheet's
row number. A numeric cell is exact as Excel shows it (`excel_decimal`).
Numbers and dates held as text follow the rules of `_cells`.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from tieline.errors import ConfigurationError
from tieline.intake._cells import (
    CellError,
    apply_transforms,
    detect_date_format,
    detect_number_format,
    excel_decimal,
    read_cell,
)
from tieline.intake.profile import TableSpec

_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64_000
_SNIFF_RECORDS = 200
_HEADER_SEARCH = 20
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

RawRow = tuple[int, list[Any]]


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


def detect_encoding(data: bytes) -> str:
    """The codec that reads an export whose encoding nobody stated."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    utf16 = _utf16_without_bom(data[:4096])
    if utf16:
        return utf16
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return _single_byte_codec(data)
    return "utf-8"


def _utf16_without_bom(sample: bytes) -> str | None:
    half = len(sample) // 2
    if half < 2:
        return None
    even_nul, odd_nul = sample[0::2].count(0), sample[1::2].count(0)
    if odd_nul > 0.3 * half and even_nul == 0:
        return "utf-16-le"
    if even_nul > 0.3 * half and odd_nul == 0:
        return "utf-16-be"
    return None


def _single_byte_codec(data: bytes) -> str:
    western = from_bytes(data, cp_isolation=["cp1252"]).best()
    best = from_bytes(data).best()
    if western is not None and (
        best is None or western.percent_chaos <= best.percent_chaos
    ):
        return "cp1252"
    if best is None:
        raise ConfigurationError(
            "cannot tell the file's encoding; set encoding under [tables.csv]"
        )
    return best.encoding


def decode(data: bytes, encoding: str | None = None) -> str:
    """Text of an export: in `encoding` if given, else in the detected one."""
    if encoding is None:
        encoding = detect_encoding(data)
    elif codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # a stated UTF-8 may still carry a mark
    text = data.decode(encoding)
    return text.removeprefix("\ufeff")


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records most consistently."""
    truncated = len(text) > _SNIFF_CHARS
    sample = text[:_SNIFF_CHARS]
    best, best_score = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        records = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))
        if truncated:
            records = records[:-1]  # the last record may be cut short
        widths = [len(r) for r in records[:_SNIFF_RECORDS] if any(c.strip() for c in r)]
        if not widths:
            continue
        width, count = Counter(widths).most_common(1)[0]
        score = (count / len(widths), width)
        if width >= 2 and score > best_score:
            best, best_score = delimiter, score
    return best


@dataclass(frozen=True, slots=True)
class _Layout:
    """How one file's cells are read: column positions, number and date formats."""

    positions: dict[str, int]
    decimal_mark: str
    thousands: str | None
    date_formats: dict[str, str | None]


def read_table(spec: TableSpec, path: Path) -> Table:
    """Read `path` as table `spec`: typed rows plus errors naming row and field."""
    table = Table(spec)
    options = spec.xlsx if spec.format_for(path) == "xlsx" else spec.csv
    raw_rows = _xlsx_rows(spec, path) if options is spec.xlsx else _csv_file(spec, path)
    header_at = _header_index(spec, options.header_row, raw_rows, path.name)
    header_line, header = raw_rows[header_at] if raw_rows else (1, [])
    positions = _positions(spec, header, path.name, header_line)
    body = raw_rows[header_at + 1 :]
    layout = _Layout(
        positions,
        options.decimal or _detect_mark(spec, body, positions),
        options.thousands,
        _date_formats(spec, body, positions),
    )
    for number, raw in body:
        table.read += 1
        _read_row(table, path.name, number, raw, layout)
    return table


def _read_row(
    table: Table, file: str, number: int, raw: list[Any], layout: _Layout
) -> None:
    values: dict[str, Any] = dict(table.spec.constants)
    failed = False
    for name, column in table.spec.columns.items():
        position = layout.positions[name]
        cell = raw[position] if position < len(raw) else None
        try:
            values[name] = read_cell(
                cell,
                column,
                decimal_mark=layout.decimal_mark,
                thousands=layout.thousands,
                date_format=layout.date_formats.get(name),
            )
        except CellError as err:
            reason = f"column {column.column!r}: {err}"
            table.errors.append(RowError(file, number, name, reason))
            failed = True
    if not failed:
        table.rows.append(Row(file, number, values))


def _text_cells(
    spec: TableSpec, names: list[str], body: list[RawRow], positions: dict[str, int]
) -> Iterator[tuple[str, str]]:
    """(field, text) of every text cell of the named columns."""
    for _, raw in body:
        for name in names:
            position = positions[name]
            if position < len(raw) and isinstance(raw[position], str):
                yield (
                    name,
                    apply_transforms(raw[position], spec.columns[name].transforms),
                )


def _detect_mark(spec: TableSpec, body: list[RawRow], positions: dict[str, int]) -> str:
    numeric = [n for n, c in spec.columns.items() if c.type in ("decimal", "int")]
    return detect_number_format(
        text for _, text in _text_cells(spec, numeric, body, positions)
    )


def _date_formats(
    spec: TableSpec, body: list[RawRow], positions: dict[str, int]
) -> dict[str, str | None]:
    return {
        name: detect_date_format(
            text for _, text in _text_cells(spec, [name], body, positions)
        )
        for name, column in spec.columns.items()
        if column.type == "date" and not column.date_format
    }


def _normal(text: Any) -> str:
    """A header cell or column name as compared: spaces collapsed, case folded."""
    return " ".join(str(text or "").replace("\ufeff", "").split()).casefold()


def _find(column: str, header: list[Any]) -> int | None:
    cleaned = [str(h).strip() if h is not None else "" for h in header]
    if column.strip() in cleaned:
        return cleaned.index(column.strip())
    normal = [_normal(h) for h in header]
    return normal.index(_normal(column)) if _normal(column) in normal else None


def _header_index(
    spec: TableSpec, wanted: int | None, raw_rows: list[RawRow], file: str
) -> int:
    """Where the header is among the non-blank rows (see the profile's doc)."""
    if wanted is not None:
        for index, (number, _) in enumerate(raw_rows):
            if number == wanted:
                return index
        raise ConfigurationError(f"{file}: the header row {wanted} is blank or missing")
    named = [c.column for c in spec.columns.values() if isinstance(c.column, str)]
    for index, (_, cells) in enumerate(raw_rows[:_HEADER_SEARCH]):
        if all(_find(name, cells) is not None for name in named):
            return index
    return 0


def _positions(
    spec: TableSpec, header: list[Any], file: str, line: int
) -> dict[str, int]:
    positions: dict[str, int] = {}
    for name, column in spec.columns.items():
        found = (
            column.column - 1
            if isinstance(column.column, int)
            else _find(column.column, header)
        )
        if found is None:
            shown = ", ".join(repr(str(h).strip()) for h in header if _normal(h))
            raise ConfigurationError(
                f"{file}: no column {column.column!r} for field {name} "
                f"(the header on row {line} has: {shown or 'nothing'})"
            )
        positions[name] = found
    return positions


def _csv_file(spec: TableSpec, path: Path) -> list[RawRow]:
    """The non-blank records of a CSV file, each with its line number."""
    try:
        text = decode(path.read_bytes(), spec.csv.encoding)
    except (UnicodeDecodeError, LookupError) as err:
        raise ConfigurationError(
            f"{path.name} is not readable as {spec.csv.encoding}: {err}"
        ) from err
    except ConfigurationError as err:
        raise ConfigurationError(f"{path.name}: {err}") from err
    return _csv_rows(spec, text, path.name)


def _csv_rows(spec: TableSpec, text: str, file: str) -> list[RawRow]:
    first, _, rest = text.partition("\n")
    hint = first.rstrip("\r")
    offset = 0
    delimiter = spec.csv.delimiter
    if hint[:4].lower() == "sep=" and len(hint) == 5:
        text, offset = rest, 1
        delimiter = delimiter or hint[4]
    delimiter = delimiter or sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[RawRow] = []
    last_line = 0
    try:
        for record in reader:
            start, last_line = last_line + 1, reader.line_num
            if any(cell.strip() for cell in record):
                rows.append((start + offset, list(record)))
    except csv.Error as err:
        raise ConfigurationError(
            f"{file}: line {last_line + 1 + offset}: {err}"
        ) from err
    return rows


def _xlsx_rows(spec: TableSpec, path: Path) -> list[RawRow]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as err:
        raise ConfigurationError(
            f"{path.name} is not a readable workbook: {err}"
        ) from err
    try:
        name = spec.xlsx.sheet
        if name is not None and name not in workbook.sheetnames:
            raise ConfigurationError(
                f"{path.name}: no sheet {name!r} "
                f"(the workbook has: {', '.join(workbook.sheetnames)})"
            )
        sheet = workbook[name] if name is not None else workbook.worksheets[0]
        if isinstance(sheet, ReadOnlyWorksheet):
            # Some writers store a wrong <dimension> ("A1:A1"); read-only mode
            # trusts it and would return one cell of the whole sheet.
            sheet.reset_dimensions()
        rows: list[RawRow] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_xlsx_value(v) for v in values]
            if any(c is not None and str(c).strip() for c in cells):
                rows.append((number, cells))
        return rows
    finally:
        workbook.close()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, float):
        # A workbook holds no NaN or infinity; if a writer put one in, the
        # cell's text goes on to fail as "not a number" with its row.
        return excel_decimal(value) if math.isfinite(value) else str(value)
    return value


def iter_files(pattern: str, paths: list[Path]) -> Iterator[Path]:
    """Files among `paths` (files, or folders searched) that match `pattern`."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.glob(pattern) if p.is_file())
        elif path.match(pattern):
            yield path
