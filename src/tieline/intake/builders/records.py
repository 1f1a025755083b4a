"""The generic builder: each table is one canonical kind, one row one record.

A row's natural key (the table's `key` columns, joined with `|`) is its
origin key, so the same row always lands on the same record. Two rows with
the same key and the same values count once; with different values they are
a conflict, and every row of that key is rejected.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import ValidationError

from tieline.errors import ValidationFailed
from tieline.intake.builders._context import BuildContext, describe_invalid
from tieline.intake.readers import Row
from tieline.model import RECORD_TYPES, Origin


def build_records(context: BuildContext) -> None:
    """Save one record per distinct key of every table that names a kind."""
    for table in context.tables.values():
        if table.spec.kind is None:
            continue
        model = RECORD_TYPES.get(table.spec.kind)
        if model is None:
            raise ValidationFailed(
                f"table {table.spec.name}: no canonical kind {table.spec.kind!r}",
                field="kind",
            )
        for key, rows in _group_by_key(table.spec.key, table.rows).items():
            if _conflicting(context, key, rows):
                continue
            row = rows[0]
            try:
                record = model.model_validate(
                    {
                        **_fields(row),
                        "origin": Origin(system=context.profile.system, key=key),
                    }
                )
            except (ValidationError, ValidationFailed) as err:
                field, reason = describe_invalid(err)
                context.reject_row(row, field, reason)
                continue
            context.save(record)
            context.advance(len(rows))


def _fields(row: Row) -> dict[str, Any]:
    return {
        name: value for name, value in row.values.items() if not name.startswith("_")
    }


def _group_by_key(key: tuple[str, ...], rows: list[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for index, row in enumerate(rows):
        natural = "|".join(str(row.values[k]) for k in key) if key else f"row-{index}"
        groups[natural].append(row)
    return groups


def _conflicting(context: BuildContext, key: str, rows: list[Row]) -> bool:
    distinct = {tuple(sorted((k, str(v)) for k, v in r.values.items())) for r in rows}
    if len(distinct) == 1:
        return False
    for row in rows:
        context.reject_row(
            row, "key", f"key {key!r} appears on {len(rows)} rows with different values"
        )
    return True
