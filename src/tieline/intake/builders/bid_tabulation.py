"""The `bid-tabulation` builder: public bid tabs as a construction estate.

The profile names four tables and their fields: `projects` (project_id,
code, name, location), `items` (item_id, project_id, description,
raw_description, quantity, unit), `bids` (item_id, bidder, unit_price,
total_price) and `wbs` (item_id, code, name, rule_id). Its
options give the estate: `legal_entity` {code, name, country}, `currency`,
`cost_code_system`, `unassigned_code`, `unassigned_name`, and the
`review_rule_ids` / `review_descriptions` that mark a WBS row for review.

The rules (the foundation issue, item 8), in the order they are applied:

- One legal entity owns every project; all money is in one currency.
- Each project row is a project: its code is `code`, its origin key
  `project_id`. Rows that share a code stay separate projects and are flagged.
- A pay item is an `items` row keyed by `item_id`. One without a quantity is
  rejected, and so are its WBS row and its bid rows: it takes no further part.
- A pay item's cost code is its `wbs` row's code. A row marked for review (or
  missing) puts the item on its project's own `UNASSIGNED` code. A code seen
  under two names keeps the first; every row naming it otherwise is flagged.
- A price is the total price as read (a Decimal from the text, never a
  float), rounded half-up to the cent, line by line, before any sum. A blank
  total is no price; a zero is a price. Where quantity x unit price differs
  from the price by more than a cent, the row is flagged and kept as written.
- One price per pay item and bidder. A bidder is the engineer's estimate or a
  supplier as supplier identity resolves the name, so two spellings of one
  company on one tab are one bidder. Repeats at the same price count once
  (flagged); repeats at different prices are a conflict and every row of it
  is rejected. Rows of template placeholders ("NAME OF CONTRACTOR 3") are
  rejected: a placeholder is not a bidder.
- The engineer's estimate of each pay item is its original budget line; the
  project's budget is approved, so it counts in the revised budget.
- The award: among real bidders who priced every pay item of the project
  without conflict, the lowest total over all pay items (alternates included)
  becomes an approved subcontract whose lines are that bidder's prices. A tie
  goes to the name that sorts first and is flagged. With no qualifying bidder
  there is no award, the run notes why, and an award a former run made for the
  project is cancelled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tieline.errors import ConfigurationError, ValidationFailed
from tieline.intake.builders._context import BuildContext, describe_invalid
from tieline.intake.readers import Row, Table
from tieline.model import (
    Budget,
    BudgetLine,
    BudgetStatus,
    CanonicalRecord,
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    LegalEntity,
    Origin,
    Project,
    Supplier,
    record_id,
)
from tieline.money import check_currency, minor_unit, round_money
from tieline.store import Action, Change
from tieline.suppliers import SupplierResolver, is_engineers_estimate, is_placeholder

R = TypeVar("R", bound=CanonicalRecord)

# The bidder key under which every spelling of the engineer's estimate files.
_ESTIMATE = "engineer's estimate"

BidderRole = Literal["estimate", "placeholder", "real"]

# The fields each table of the profile must give (see the module docstring).
_FIELDS: dict[str, tuple[str, ...]] = {
    "projects": ("project_id", "code", "name", "location"),
    "items": (
        "item_id",
        "project_id",
        "description",
        "raw_description",
        "quantity",
        "unit",
    ),
    "bids": ("item_id", "bidder", "unit_price", "total_price"),
    "wbs": ("item_id", "code", "name", "rule_id"),
}


class _EntityOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    country: str | None = None


class _Options(BaseModel):
    """The profile's options for this builder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    legal_entity: _EntityOptions
    currency: str
    cost_code_system: str = Field(min_length=1)
    unassigned_code: str = Field(default="UNASSIGNED", min_length=1)
    unassigned_name: str = Field(default="Unassigned", min_length=1)
    review_rule_ids: frozenset[str] = frozenset()
    review_descriptions: frozenset[str] = frozenset()

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        return check_currency(value)


@dataclass
class _PayItem:
    """An accepted pay item and the cost code it ends up on."""

    key: str
    project_key: str
    row: Row
    description: str
    quantity: Decimal
    unit: str | None
    cost_code: str


@dataclass(frozen=True, slots=True)
class _Price:
    """One bidder's price for one pay item; `amount` None means no price."""

    amount: Decimal | None
    unit_price: Decimal | None
    row: Row


@dataclass(frozen=True, slots=True)
class _Bidder:
    """A name as bid and what it stands for; a real bidder's key is its supplier id."""

    key: str
    name: str
    role: BidderRole


@dataclass
class _Tab:
    """One project's bid tab: its pay items, its bidders and their prices."""

    project: Project
    row: Row
    items: list[_PayItem] = field(default_factory=list)
    bidders: dict[str, _Bidder] = field(default_factory=dict)
    prices: dict[str, dict[str, _Price]] = field(default_factory=dict)
    conflicts: dict[str, set[str]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.project.origin.key

    @property
    def label(self) -> str:
        return f"project {self.project.code} (source key {self.key})"

    def price(self, bidder_key: str, item_key: str) -> Decimal | None:
        """The bidder's price for the item, None if none or in conflict."""
        price = self.prices.get(bidder_key, {}).get(item_key)
        return None if price is None else price.amount


def build_bid_tabulation(context: BuildContext) -> None:
    """Build projects, cost codes, suppliers, budgets and awards from bid tabs."""
    # TODO: a project or cost code that a later export no longer holds stays
    # in the store as it was (only a withdrawn award is cancelled), so a user
    # who re-imports a trimmed folder must retire such records by hand.
    # TODO: the losing bidders' prices are not kept as records (the canonical
    # model has no bid); only the estimate (budget) and the award survive, so
    # bid comparisons still need the source files.
    options = _read_options(context)
    entity = _save(context, _legal_entity(context, options))
    tabs = _build_projects(context, options, entity)
    items, rejected = _accept_pay_items(context, options, tabs)
    _assign_cost_codes(context, options, tabs, items, rejected)
    bidders = _identify_bidders(context, _Resolver(context), items)
    _collect_prices(context, options, tabs, items, rejected, bidders)
    for tab in tabs.values():
        _save_budget(context, options, tab)
        _save_award(context, options, entity, tab)


class _Resolver:
    """Supplier identity (item 5), counting what it saves in the run's figures."""

    def __init__(self, context: BuildContext) -> None:
        self._context = context
        self._resolver = SupplierResolver(
            context.tx, system=context.profile.system, actor=context.actor
        )

    def resolve(self, name: str) -> Supplier:
        resolution = self._resolver.resolve(name)
        action = (
            Action.CREATED
            if resolution.created
            else Action.UPDATED
            if resolution.updated
            else Action.UNCHANGED
        )
        self._context.run.record(Change(action, resolution.supplier, None))
        for review in resolution.reviews:
            other = review.evidence.get("existing", {}).get("name", "another")
            self._context.run.note(
                f"supplier {name!r} may be {other!r} (score {review.score}); "
                f"kept apart until a person decides review item {review.id}"
            )
        return resolution.supplier


# --- options and the legal entity ---------------------------------------------


def _read_options(context: BuildContext) -> _Options:
    """The builder's options, once the profile is known to give every field."""
    profile = context.profile.name
    for name, fields in _FIELDS.items():
        if name not in context.tables:
            raise ConfigurationError(f"profile {profile}: no table {name!r}")
        missing = set(fields) - set(context.tables[name].spec.columns)
        if missing:
            raise ConfigurationError(
                f"profile {profile}: table {name} lacks {', '.join(sorted(missing))}"
            )
    try:
        return _Options.model_validate(context.options)
    except (ValidationError, ValidationFailed) as err:
        raise ConfigurationError(f"profile {profile}: bad options: {err}") from err


def _legal_entity(context: BuildContext, options: _Options) -> LegalEntity:
    entity = options.legal_entity
    return LegalEntity(
        origin=Origin(system=context.profile.system, key=entity.code),
        code=entity.code,
        name=entity.name,
        base_currency=options.currency,
        country=entity.country,
    )


def _save(context: BuildContext, record: R) -> R:
    context.save(record)
    return record


def _save_row(context: BuildContext, row: Row, make: Callable[[], R]) -> R | None:
    """Build and save a row's record, or reject the row naming the bad field."""
    try:
        record = make()
    except (ValidationError, ValidationFailed) as err:
        field_name, reason = describe_invalid(err)
        context.reject_row(row, field_name, reason)
        return None
    return _save(context, record)


# --- rows by natural key ------------------------------------------------------


def _unique_rows(
    context: BuildContext, table: Table
) -> tuple[dict[str, Row], set[str]]:
    """One row per natural key; identical repeats flagged, differing rejected."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in table.rows:
        groups[_natural_key(table, row)].append(row)
    kept: dict[str, Row] = {}
    conflicted: set[str] = set()
    for key, rows in groups.items():
        first = rows[0]
        if any(row.values != first.values for row in rows[1:]):
            conflicted.add(key)
            for row in rows:
                context.reject_row(
                    row,
                    "|".join(table.spec.key),
                    f"key {key!r} is on {len(rows)} rows with different values",
                )
            continue
        for row in rows[1:]:
            context.flag_row(
                row,
                "|".join(table.spec.key),
                f"repeats row {first.number}; counted once",
            )
        kept[key] = first
    context.advance(len(table.rows))
    return kept, conflicted


def _natural_key(table: Table, row: Row) -> str:
    return "|".join(str(row.values[name]) for name in table.spec.key)


# --- projects -----------------------------------------------------------------


def _build_projects(
    context: BuildContext, options: _Options, entity: LegalEntity
) -> dict[str, _Tab]:
    rows, _ = _unique_rows(context, context.tables["projects"])
    _flag_shared_codes(context, rows)
    tabs: dict[str, _Tab] = {}
    for key, row in rows.items():
        make = partial(_project, context, options, entity, key, row)
        project = _save_row(context, row, make)
        if project is not None:
            tabs[key] = _Tab(project, row)
    return tabs


def _project(
    context: BuildContext, options: _Options, entity: LegalEntity, key: str, row: Row
) -> Project:
    return Project(
        origin=Origin(system=context.profile.system, key=key),
        code=row.values["code"],
        name=row.values["name"],
        legal_entity_id=entity.id,
        currency=options.currency,
        cost_code_system=options.cost_code_system,
        location=row.values["location"],
    )


def _flag_shared_codes(context: BuildContext, rows: dict[str, Row]) -> None:
    """Projects that share a code stay apart; each of them is flagged."""
    by_code: dict[str, list[tuple[str, Row]]] = defaultdict(list)
    for key, row in rows.items():
        by_code[row.values["code"]].append((key, row))
    for code, sharing in by_code.items():
        if len(sharing) < 2:
            continue
        keys = ", ".join(key for key, _ in sharing)
        numbers = ", ".join(str(row.number) for _, row in sharing)
        for _, row in sharing:
            context.flag_row(
                row,
                "code",
                f"code {code} is shared by projects with source keys {keys} "
                f"(rows {numbers}); they stay separate projects",
            )


# --- pay items ----------------------------------------------------------------


def _accept_pay_items(
    context: BuildContext, options: _Options, tabs: dict[str, _Tab]
) -> tuple[dict[str, _PayItem], dict[str, str]]:
    """Accepted pay items by key, and why each rejected key was rejected."""
    rows, conflicted = _unique_rows(context, context.tables["items"])
    rejected = {key: f"pay item {key} has conflicting rows" for key in conflicted}
    items: dict[str, _PayItem] = {}
    for key, row in rows.items():
        tab = tabs.get(row.values["project_id"])
        if tab is None:
            reason = f"no project with source key {row.values['project_id']!r}"
            context.reject_row(row, "project_id", reason)
            rejected[key] = f"pay item {key} was rejected ({reason})"
        elif row.values["quantity"] is None:
            context.reject_row(
                row, "quantity", f"pay item {key} has no quantity: it takes no part"
            )
            rejected[key] = f"pay item {key} was rejected (no quantity)"
        else:
            items[key] = _pay_item(key, row, options)
            tab.items.append(items[key])
    return items, rejected


def _pay_item(key: str, row: Row, options: _Options) -> _PayItem:
    values = row.values
    return _PayItem(
        key=key,
        project_key=values["project_id"],
        row=row,
        description=values["description"] or values["raw_description"] or "",
        quantity=values["quantity"],
        unit=values["unit"],
        cost_code=options.unassigned_code,
    )


# --- cost codes ---------------------------------------------------------------


def _assign_cost_codes(
    context: BuildContext,
    options: _Options,
    tabs: dict[str, _Tab],
    items: dict[str, _PayItem],
    rejected: dict[str, str],
) -> None:
    """Code each pay item from its WBS row and save the codes seen."""
    rows, _ = _unique_rows(context, context.tables["wbs"])
    names: dict[str, tuple[str, Row]] = {}
    for key, row in rows.items():
        item = items.get(key)
        if item is None:
            reason = rejected.get(key, f"no pay item {key!r} among the items")
            context.reject_row(row, "item_id", reason)
        elif _marked_for_review(row, options):
            context.flag_row(
                row,
                "rule_id",
                f"pay item {key} is marked for review ({row.values['rule_id']}); "
                f"coded {options.unassigned_code}",
            )
        else:
            item.cost_code = _first_name(context, names, row)
    _flag_unmapped(context, options, items, rows)
    _save_cost_codes(context, options, tabs, names)


def _marked_for_review(row: Row, options: _Options) -> bool:
    values = row.values
    return (
        not values["code"]
        or values["rule_id"] in options.review_rule_ids
        or values["name"] in options.review_descriptions
    )


def _first_name(
    context: BuildContext, names: dict[str, tuple[str, Row]], row: Row
) -> str:
    """The row's code; a second name for a known code is flagged, not kept."""
    code: str = row.values["code"]
    name: str = row.values["name"] or code
    first_name, first_row = names.setdefault(code, (name, row))
    if name != first_name:
        context.flag_row(
            row,
            "name",
            f"cost code {code} is named {first_name!r} (row {first_row.number}); "
            f"the name {name!r} is not kept",
        )
    return code


def _flag_unmapped(
    context: BuildContext,
    options: _Options,
    items: dict[str, _PayItem],
    mapped: dict[str, Row],
) -> None:
    for key, item in items.items():
        if key not in mapped:
            context.flag_row(
                item.row,
                "item_id",
                f"pay item {key} has no usable WBS row; "
                f"coded {options.unassigned_code}",
            )


def _save_cost_codes(
    context: BuildContext,
    options: _Options,
    tabs: dict[str, _Tab],
    names: dict[str, tuple[str, Row]],
) -> None:
    # TODO: the WBS codes are saved flat; their parents ("1.2", "1.2.G40")
    # have no names in the export, so the report cannot roll costs up the
    # WBS tree yet.
    system = context.profile.system
    for code, (name, _) in names.items():
        context.save(
            CostCode(
                origin=Origin(system=system, key=code),
                system=options.cost_code_system,
                code=code,
                name=name,
            )
        )
    for tab in tabs.values():
        if any(item.cost_code == options.unassigned_code for item in tab.items):
            context.save(
                CostCode(
                    origin=Origin(
                        system=system, key=f"{tab.key}/{options.unassigned_code}"
                    ),
                    system=options.cost_code_system,
                    code=options.unassigned_code,
                    name=options.unassigned_name,
                    project_id=tab.project.id,
                )
            )


# --- bidders and suppliers ----------------------------------------------------


def _identify_bidders(
    context: BuildContext, resolver: _Resolver, items: dict[str, _PayItem]
) -> dict[str, _Bidder]:
    """Each name bid on an accepted pay item: estimate, placeholder or supplier."""
    bidders: dict[str, _Bidder] = {}
    for row in context.tables["bids"].rows:
        name: str = row.values["bidder"]
        if name in bidders or row.values["item_id"] not in items:
            continue
        if is_engineers_estimate(name):
            bidders[name] = _Bidder(_ESTIMATE, name, "estimate")
        elif is_placeholder(name):
            bidders[name] = _Bidder(name, name, "placeholder")
        else:
            supplier = resolver.resolve(name)
            bidders[name] = _Bidder(supplier.id, name, "real")
    return bidders


# --- prices -------------------------------------------------------------------


def _collect_prices(
    context: BuildContext,
    options: _Options,
    tabs: dict[str, _Tab],
    items: dict[str, _PayItem],
    rejected: dict[str, str],
    bidders: dict[str, _Bidder],
) -> None:
    """Settle one price per pay item and bidder, on each project's tab."""
    pairs = _pair_rows(context, items, rejected, bidders)
    for (item_key, _), rows in pairs.items():
        item = items[item_key]
        bidder = bidders[rows[0].values["bidder"]]
        _settle_pair(context, options, tabs[item.project_key], item, bidder, rows)
    context.advance(len(context.tables["bids"].rows))


def _pair_rows(
    context: BuildContext,
    items: dict[str, _PayItem],
    rejected: dict[str, str],
    bidders: dict[str, _Bidder],
) -> dict[tuple[str, str], list[Row]]:
    """Bid rows by (pay item, bidder); rows that can take no part rejected."""
    pairs: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in context.tables["bids"].rows:
        item_key: str = row.values["item_id"]
        if item_key not in items:
            reason = rejected.get(item_key, f"no pay item {item_key!r} among the items")
            context.reject_row(row, "item_id", reason)
            continue
        bidder = bidders[row.values["bidder"]]
        if bidder.role == "placeholder":
            reason = f"{bidder.name!r} is a template placeholder, not a bidder"
            context.reject_row(row, "bidder", reason)
            continue
        pairs[(item_key, bidder.key)].append(row)
    return pairs


def _settle_pair(
    context: BuildContext,
    options: _Options,
    tab: _Tab,
    item: _PayItem,
    bidder: _Bidder,
    rows: list[Row],
) -> None:
    """Keep one price for the pair, or reject every row of a conflict."""
    tab.bidders.setdefault(bidder.key, bidder)
    prices = [_read_price(row, options) for row in rows]
    distinct = list(dict.fromkeys(_shown(p.amount) for p in prices))
    if len(distinct) > 1:
        tab.conflicts.setdefault(bidder.key, set()).add(item.key)
        for row in rows:
            context.reject_row(
                row,
                "total_price",
                f"{bidder.name!r} priced pay item {item.key} on {len(rows)} rows "
                f"at different totals ({', '.join(distinct)}): a conflict",
            )
        return
    first = prices[0]
    for row in rows[1:]:
        context.flag_row(
            row,
            "total_price",
            f"repeats row {first.row.number} ({bidder.name!r}, pay item {item.key}, "
            f"same total); counted once",
        )
    tab.prices.setdefault(bidder.key, {})[item.key] = first
    _check_extension(context, options, item, first)


def _read_price(row: Row, options: _Options) -> _Price:
    """The total price as written, rounded half-up to the cent; blank is none."""
    total: Decimal | None = row.values["total_price"]
    amount = None if total is None else round_money(total, options.currency)
    return _Price(amount, row.values["unit_price"], row)


def _shown(amount: Decimal | None) -> str:
    return "no price" if amount is None else str(amount)


def _check_extension(
    context: BuildContext, options: _Options, item: _PayItem, price: _Price
) -> None:
    """Flag a price that is not quantity x unit price to within a cent."""
    if price.amount is None or price.unit_price is None:
        return
    extended = item.quantity * price.unit_price
    tolerance = Decimal(1).scaleb(-minor_unit(options.currency))
    if abs(extended - price.amount) > tolerance:
        context.flag_row(
            price.row,
            "total_price",
            f"quantity {item.quantity} x unit price {price.unit_price} = {extended}, "
            f"but the total price is {price.amount}; kept as written",
        )


# --- budgets ------------------------------------------------------------------


def _save_budget(context: BuildContext, options: _Options, tab: _Tab) -> None:
    """The engineer's estimate, line by line, as the approved original budget."""
    lines = [
        BudgetLine(
            line_key=item.key,
            cost_code=item.cost_code,
            description=item.description,
            quantity=item.quantity,
            unit=item.unit,
            amount=amount,
        )
        for item in tab.items
        if (amount := tab.price(_ESTIMATE, item.key)) is not None
    ]
    if not lines:
        context.run.note(f"{tab.label}: no engineer's estimate; its budget is empty")
    context.save(
        Budget(
            origin=Origin(system=context.profile.system, key=tab.key),
            project_id=tab.project.id,
            currency=options.currency,
            status=BudgetStatus.APPROVED,
            lines=lines,
        )
    )


# --- awards -------------------------------------------------------------------


def _save_award(
    context: BuildContext, options: _Options, entity: LegalEntity, tab: _Tab
) -> None:
    """The lowest complete bid as an approved subcontract, or a note why none."""
    totals, reasons = _qualifying_totals(tab)
    if not totals:
        context.run.note(f"{tab.label}: no award: {_why_no_award(tab, reasons)}")
        _cancel_former_award(context, tab)
        return
    best = min(totals.values())
    lowest = sorted(
        (tab.bidders[key] for key, total in totals.items() if total == best),
        key=lambda bidder: bidder.name,
    )
    winner, names = lowest[0], [bidder.name for bidder in lowest]
    if len(names) > 1:
        context.flag_row(
            tab.row,
            "award",
            f"tie at {best} between {', '.join(names)}; awarded to {winner.name}, "
            "the name that sorts first",
        )
    context.save(_award(context, options, entity, tab, winner))


def _qualifying_totals(tab: _Tab) -> tuple[dict[str, Decimal], dict[str, str]]:
    """Totals of real bidders who priced every pay item, and why others did not."""
    totals: dict[str, Decimal] = {}
    reasons: dict[str, str] = {}
    for key, bidder in tab.bidders.items():
        if bidder.role != "real":
            continue
        conflicts = len(tab.conflicts.get(key, ()))
        prices = [tab.price(key, item.key) for item in tab.items]
        missing = sum(1 for price in prices if price is None) - conflicts
        if conflicts:
            reasons[bidder.name] = f"conflicting prices on {conflicts} pay item(s)"
        elif missing:
            reasons[bidder.name] = f"no price on {missing} pay item(s)"
        else:
            totals[key] = sum((p for p in prices if p is not None), Decimal(0))
    return totals, reasons


def _why_no_award(tab: _Tab, reasons: dict[str, str]) -> str:
    if not tab.items:
        return "it has no accepted pay items"
    if not reasons:
        return "no real bidder (only the engineer's estimate or placeholder names)"
    detail = "; ".join(f"{name}: {why}" for name, why in sorted(reasons.items()))
    return f"no real bidder priced every pay item without conflict ({detail})"


def _award(
    context: BuildContext,
    options: _Options,
    entity: LegalEntity,
    tab: _Tab,
    winner: _Bidder,
) -> Commitment:
    project = tab.project
    return Commitment(
        origin=Origin(system=context.profile.system, key=tab.key),
        number=f"{project.code}-{tab.key}",
        commitment_type=CommitmentType.SUBCONTRACT,
        legal_entity_id=entity.id,
        project_id=project.id,
        supplier_id=winner.key,
        currency=options.currency,
        status=CommitmentStatus.APPROVED,
        description=f"Award of {project.name} to {winner.name}",
        lines=[_award_line(tab, winner, item) for item in tab.items],
    )


def _award_line(tab: _Tab, winner: _Bidder, item: _PayItem) -> CommitmentLine:
    price = tab.prices[winner.key][item.key]
    if price.amount is None:  # _qualifying_totals lets no such bidder win
        raise ValidationFailed(
            f"{winner.name} has no price for pay item {item.key}", field="total_price"
        )
    return CommitmentLine(
        line_key=item.key,
        description=item.description,
        project_id=tab.project.id,
        cost_code=item.cost_code,
        quantity=item.quantity,
        unit=item.unit,
        unit_price=price.unit_price,
        amount=price.amount,
    )


def _cancel_former_award(context: BuildContext, tab: _Tab) -> None:
    """An award an earlier run made stops counting once the tab no longer earns it."""
    former = context.tx.get(
        Commitment, record_id(Commitment.kind, context.profile.system, tab.key)
    )
    if former is not None and former.status is not CommitmentStatus.CANCELLED:
        context.save(former.model_copy(update={"status": CommitmentStatus.CANCELLED}))
        context.run.note(f"{tab.label}: the award of a former run is cancelled")
