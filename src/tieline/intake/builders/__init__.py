"""Builders turn the tables a profile read into canonical records.

A profile names its builder. `records` is the generic one: each table names a
canonical kind and its columns are the record's fields. Builders for layouts
with rules of their own (bid tabulations, UBL invoices) register here too.
"""

from __future__ import annotations

from collections.abc import Callable

from tieline.intake.builders._context import BuildContext
from tieline.intake.builders.bid_tabulation import build_bid_tabulation
from tieline.intake.builders.estate import build_estate
from tieline.intake.builders.records import build_records
from tieline.intake.builders.ubl import build_ubl

Builder = Callable[[BuildContext], None]

BUILDERS: dict[str, Builder] = {
    "records": build_records,
    "bid-tabulation": build_bid_tabulation,
    "ubl": build_ubl,
    "estate": build_estate,
}


def register(name: str, builder: Builder) -> None:
    """Make `builder` available to profiles as `builder = "<name>"`."""
    BUILDERS[name] = builder


__all__ = ["BUILDERS", "BuildContext", "Builder", "register"]
