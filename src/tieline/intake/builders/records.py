"""The generic builder: each table is one canonical kind, one row one record.

A row's natural key (the table's `key` columns, joined with `|`) is its
origin key, so the same row always lands on the same record; a table without
a key is refused, since a re-import could not find its records again. Rows
that share a key count once when they are equal in every value; when they
differ, every row of that key is rejected, naming the fields that differ. A
row with a blank key, or one the canonical model refuses, is rejected naming
the field. A table with `[tables.hierarchy]` gets each record's parent code
derived (see `profile`) among the records that passed. Records are saved in
batches through `Transaction.save_many`: one change and one event per record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tieline.errors import ConfigurationError, ValidationFailed
from tieline.intake._hierarchy import derive_parents
from tieline.intake.builders._context import BuildContext
from tieline.intake.profile import HierarchySpec, TableSpec
from tieline.intake.readers import Row
from tieline.model import RECORD_TYPES, CanonicalRecord, Origin

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class _Valid:
    """A record that passed the model, and how many input rows it stands for."""

    record: CanonicalRecord
    rows: int


def build_records(context: BuildContext) -> None:
    """Save one record per distinct key of every table that names a kind."""
    for table in context.tables.values():
        if table.spec.kind is None:
            continue
        model = _model(table.spec)
        valid: list[_Valid] = []
        for key, rows in _group_by_key(context, table.spec, table.rows).items():
            record = _one_record(context, table.spec, model, key, rows)
            if record is None:
                context.advance(len(rows))
            else:
                valid.append(_Valid(record, len(rows)))
        if table.spec.hierarchy is not None:
            valid = _with_parents(valid, table.spec.hierarchy)
        for start in range(0, len(valid), _BATCH):
            batch = valid[start : start + _BATCH]
            context.save_many([v.record for v in batch])
            context.advance(sum(v.rows for v in batch))


def _model(spec: TableSpec) -> type[CanonicalRecord]:
    model = RECORD_TYPES.get(spec.kind or "")
    if model is None:
        known = ", ".join(sorted(RECORD_TYPES))
        raise ConfigurationError(
            f"table {spec.name}: no canonical kind {spec.kind!r} (known: {known})"
        )
    if not spec.key:
        raise ConfigurationError(
            f"table {spec.name}: the records builder needs a key, so that a "
            "re-import finds the records it made"
        )
    hierarchy = spec.hierarchy
    if hierarchy is not None and hierarchy.parent not in model.model_fields:
        raise ConfigurationError(
            f"table {spec.name}: a {spec.kind} has no field {hierarchy.parent!r} "
            "for the hierarchy's parent"
        )
    return model


def _group_by_key(
    context: BuildContext, spec: TableSpec, rows: list[Row]
) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        blank = [k for k in spec.key if row.values.get(k) in (None, "")]
        if blank:
            context.reject_row(row, blank[0], "is part of the key but blank")
            context.advance(1)
            continue
        groups["|".join(str(row.values[k]) for k in spec.key)].append(row)
    return groups


def _one_record(
    context: BuildContext,
    spec: TableSpec,
    model: type[CanonicalRecord],
    key: str,
    rows: list[Row],
) -> CanonicalRecord | None:
    """The record of one key's rows, or None once its rows are rejected."""
    if _conflicting(context, key, rows):
        return None
    row = rows[0]
    fields = {k: v for k, v in row.values.items() if not k.startswith("_")}
    try:
        return model.model_validate(
            {**fields, "origin": Origin(system=context.profile.system, key=key)}
        )
    except ValidationError as err:
        for error in err.errors():
            field = ".".join(str(part) for part in error["loc"]) or "record"
            context.reject_row(row, field, _reason(spec, row, field, error["msg"]))
    except ValidationFailed as err:
        field = err.field or "record"
        context.reject_row(row, field, _reason(spec, row, field, err.reason))
    return None


def _reason(spec: TableSpec, row: Row, field: str, message: str) -> str:
    """The model's message, with the column and the value it read."""
    column = spec.columns.get(field.split(".")[0])
    if column is None:
        return message
    value = row.values.get(field.split(".")[0])
    return f"{message} (column {column.column!r}, value {_shown(value)})"


def _shown(value: Any) -> str:
    return "blank" if value is None or value == "" else repr(str(value))


def _conflicting(context: BuildContext, key: str, rows: list[Row]) -> bool:
    first = rows[0].values
    differing = sorted(
        {
            name
            for row in rows[1:]
            for name, v in row.values.items()
            if first.get(name) != v
        }
    )
    if not differing:
        return False
    files = {row.file for row in rows}
    places = ", ".join(
        str(row.number) if len(files) == 1 else f"{row.file}:{row.number}"
        for row in rows
    )
    reason = (
        f"{len(rows)} rows have key {key!r} with different "
        f"{', '.join(differing)} (rows {places}); none was taken"
    )
    for row in rows:
        context.reject_row(row, differing[0], reason)
    return True


def _with_parents(valid: list[_Valid], spec: HierarchySpec) -> list[_Valid]:
    nodes = [
        (str(getattr(v.record, spec.code)), _level(v.record, spec.level)) for v in valid
    ]
    return [
        _Valid(v.record.model_copy(update={spec.parent: parent}), v.rows)
        for v, parent in zip(valid, derive_parents(nodes, spec), strict=True)
    ]


def _level(record: CanonicalRecord, field: str | None) -> int | None:
    value = getattr(record, field, None) if field else None
    return value if isinstance(value, int) else None
