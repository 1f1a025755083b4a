"""Cursor pagination over records, with keyset queries.

A cursor is opaque to clients: base64url of the sort, the last row's sort
value and id. The next page starts strictly after that row, so rows written
meanwhile neither repeat nor shift a page. A cursor carries no authority:
authorization is applied to every row of every page.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Select, and_, or_

from tieline.api._problems import FieldError, Problem


class Sort(enum.StrEnum):
    """Orders a list can be read in."""

    CREATED = "created_at"
    CREATED_DESC = "-created_at"
    CHANGED = "changed_at"
    CHANGED_DESC = "-changed_at"

    @property
    def column_name(self) -> str:
        """The column sorted on."""
        return self.value.lstrip("-")

    @property
    def descending(self) -> bool:
        """True for newest first."""
        return self.value.startswith("-")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the previous page stopped."""

    sort: Sort
    value: datetime
    id: str

    def encode(self) -> str:
        """The opaque form handed to clients."""
        blob = json.dumps([self.sort.value, self.value.isoformat(), self.id])
        return base64.urlsafe_b64encode(blob.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: Sort) -> Cursor:
        """Read a cursor; 400 if it is not one of ours or is for another sort."""
        try:
            padded = text + "=" * (-len(text) % 4)
            name, value, record_id = json.loads(base64.urlsafe_b64decode(padded))
            cursor = cls(Sort(name), datetime.fromisoformat(value), str(record_id))
        except (ValueError, TypeError, binascii.Error) as err:
            raise _bad_cursor("not a cursor this API issued") from err
        if cursor.sort is not sort:
            raise _bad_cursor("the cursor belongs to another sort order")
        return cursor


def _bad_cursor(message: str) -> Problem:
    return Problem(
        400, f"cursor: {message}", errors=[FieldError(field="cursor", message=message)]
    )


def keyset(
    query: Select[Any],
    sort: Sort,
    column: Column[Any],
    id_column: Column[Any],
    cursor: Cursor | None,
) -> Select[Any]:
    """`query` ordered by (column, id) and starting after `cursor`."""
    if cursor is not None:
        if sort.descending:
            after = or_(
                column < cursor.value,
                and_(column == cursor.value, id_column < cursor.id),
            )
        else:
            after = or_(
                column > cursor.value,
                and_(column == cursor.value, id_column > cursor.id),
            )
        query = query.where(after)
    if sort.descending:
        return query.order_by(column.desc(), id_column.desc())
    return query.order_by(column, id_column)
