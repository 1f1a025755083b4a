"""The double's in-memory ORM: records, values as Odoo shows them, CRUD.

Values are kept raw (ids for relations, None for empty) and shaped on read as
Odoo does: many2one as `[id, display_name]` (a bare id with `load=None`),
x2many as id lists, `False` for empty, naive UTC `YYYY-MM-DD HH:MM:SS`
datetimes, integers and floats as 0 when unset. Every call runs under one lock
and is one transaction: an error rolls back everything the call wrote.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tieline.testing.odoo_double import _domain
from tieline.testing.odoo_double._errors import (
    OdooError,
    missing,
    odoo_error,
    python_error,
    required_missing,
)
from tieline.testing.odoo_double._schema import INVERSES, ModelSpec, models_for

Raw = dict[str, Any]
Compute = Callable[["Database", int], Any]

_NUMERIC = ("integer", "float", "monetary")
_UNSET = object()


def utc_now() -> datetime:
    """The wall clock, naive UTC to the second, as Odoo stores write_date."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class User:
    """A user the double knows: login, password, companies and groups."""

    uid: int
    login: str
    password: str
    name: str
    company_id: int
    company_ids: list[int]
    groups: set[str] = field(default_factory=set)


class Database:
    """Every record of every model, for one simulated Odoo database."""

    def __init__(self, version: int, *, name: str = "odoo") -> None:
        self.version = version
        self.name = name
        self.models: dict[str, ModelSpec] = models_for(version)
        self.tables: dict[str, dict[int, Raw]] = {m: {} for m in self.models}
        self.next_ids: dict[str, int] = {}
        self.sequences: dict[str, int] = {}
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] = utc_now
        self.computes: dict[tuple[str, str], Compute] = {}
        self.defaults: dict[str, Callable[[Env, Raw], None]] = {}
        self.checks: dict[str, Callable[[Env, int], None]] = {}
        self.api_keys: dict[str, int] = {}
        self.users: dict[int, User] = {}
        self.xmlids: dict[str, tuple[str, int]] = {}

    # The evaluator's view of the data (see _domain.Records).
    def field_type(self, model: str, name: str) -> tuple[str, str | None] | None:
        """(type, relation) of a field, or None when the model has no such field."""
        spec = self.models.get(model)
        if spec is None or name not in spec.fields:
            return None
        described = spec.fields[name]
        return described.type, described.relation

    def raw(self, model: str, rec_id: int, name: str) -> Any:
        """A field's raw value: stored, inverse (one2many) or computed."""
        if name == "id":
            return rec_id
        compute = self.computes.get((model, name))
        if compute is not None:
            return compute(self, rec_id)
        inverse = INVERSES.get((model, name))
        if inverse is not None:
            comodel = self.models[model].fields[name].relation or ""
            return self.ordered_ids(
                comodel,
                [
                    i
                    for i, row in self.tables[comodel].items()
                    if row.get(inverse) == rec_id
                ],
            )
        if name == "display_name":
            return self.display_name(model, rec_id)
        return self.tables[model].get(rec_id, {}).get(name)

    def display_name(self, model: str, rec_id: int) -> str:
        """The display name of a record (its rec_name unless computed)."""
        compute = self.computes.get((model, "display_name"))
        if compute is not None:
            return str(compute(self, rec_id))
        row = self.tables.get(model, {}).get(rec_id, {})
        spec = self.models.get(model)
        value = row.get(spec.rec_name) if spec is not None else None
        return str(value) if value else f"{model},{rec_id}"

    def all_ids(self, model: str) -> list[int]:
        """Every id of `model`, archived included."""
        return list(self.tables[model])

    def ordered_ids(self, model: str, ids: list[int]) -> list[int]:
        """Ids in the model's default order."""
        return order_ids(self, model, ids, self.models[model].order)

    # Storage.
    def insert(self, model: str, values: Raw) -> int:
        """Store a new row and return its id (no defaults, no checks)."""
        rec_id = self.next_ids.get(model, 1)
        self.next_ids[model] = rec_id + 1
        now = self.clock().strftime("%Y-%m-%d %H:%M:%S")
        row = {"create_date": now, "write_date": now, **values}
        self.tables[model][rec_id] = row
        return rec_id

    def next_sequence(self, code: str) -> int:
        """The next number of a named sequence (P00001, WH/IN/00001, ...)."""
        self.sequences[code] = self.sequences.get(code, 0) + 1
        return self.sequences[code]

    def stamp(self, model: str, rec_id: int, uid: int) -> None:
        """Mark a record written now by `uid`."""
        row = self.tables[model][rec_id]
        row["write_date"] = self.clock().strftime("%Y-%m-%d %H:%M:%S")
        row["write_uid"] = uid

    @contextmanager
    def transaction(self, *, snapshot: bool = True) -> Iterator[None]:
        """Run a call atomically: on error, put every table back as it was.

        The copy to roll back to costs time in proportion to the whole
        database; a call that writes nothing passes `snapshot=False`.
        """
        if not snapshot:
            with self.lock:
                yield
            return
        with self.lock:
            saved = (
                copy.deepcopy(self.tables),
                dict(self.next_ids),
                dict(self.sequences),
                dict(self.xmlids),
            )
            try:
                yield
            except BaseException:
                self.tables, self.next_ids, self.sequences, self.xmlids = saved
                raise


def order_ids(db: Database, model: str, ids: list[int], order: str | None) -> list[int]:
    """Sort ids by an Odoo `order` clause; non-stored terms are ignored."""
    result = sorted(ids)
    terms = [t.split() for t in (order or "id").split(",") if t.strip()]
    for term in reversed(terms):
        name = term[0]
        if ":" in name:
            name = name.split(":")[0]
        descending = len(term) > 1 and term[1].lower() == "desc"
        described = db.field_type(model, name)
        # Odoo silently ignores an order on a non-stored field (it only
        # logs a warning), e.g. product.product.standard_price.
        if described is None or (model, name) in NON_STORED:
            continue
        result.sort(key=lambda i: _sort_key(db.raw(model, i, name)), reverse=descending)
    return result


NON_STORED = {("product.product", "standard_price")}


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value is False:
        return (0, 0)
    if isinstance(value, list):
        return (1, value[0] if value else 0)
    if isinstance(value, bool | int | float):
        return (1, float(value))
    return (2, str(value).lower())


class Env:
    """One call's environment: the database, the user and the context."""

    def __init__(self, db: Database, uid: int, context: dict[str, Any]) -> None:
        self.db = db
        self.uid = uid
        self.context = context
        self.user = db.users[uid]
        self.companies = self._allowed_companies()

    def _allowed_companies(self) -> list[int]:
        allowed = self.context.get("allowed_company_ids")
        if not allowed:
            return list(self.user.company_ids)
        if not set(allowed) <= set(self.user.company_ids):
            raise odoo_error(
                "AccessError", "Access to unauthorized or invalid companies."
            )
        return list(allowed)

    @property
    def company_id(self) -> int:
        """The first allowed company: the one defaults follow."""
        return self.companies[0]

    def spec(self, model: str) -> ModelSpec:
        """The model, or the error Odoo gives for an unknown one."""
        spec = self.db.models.get(model)
        if spec is None:
            raise odoo_error("UserError", f"Object {model} doesn't exist")
        return spec

    # Visibility.
    def visible(self, model: str, rec_id: int) -> bool:
        """Whether the record belongs to an allowed company (or to none)."""
        spec = self.db.models[model]
        if "company_id" not in spec.fields or model in ("res.users", "res.company"):
            return True
        company = self.db.tables[model].get(rec_id, {}).get("company_id")
        return company is None or company in self.companies

    def check_visible(self, model: str, ids: list[int], operation: str) -> None:
        """AccessError for a record of a company the call may not see."""
        if all(self.visible(model, i) for i in ids):
            return
        label = self.db.models[model].label
        raise odoo_error(
            "AccessError",
            "Uh-oh! Looks like you have stumbled upon some top-secret records.\n\n"
            f"Sorry, {self.user.name} (id={self.uid}) doesn't have '{operation}' "
            f"access to:\n- {label} ({model})\n\nIf you really, really need "
            "access, perhaps you can win over your friendly administrator with "
            "a batch of freshly baked cookies.",
        )

    def in_group(self, module: str, name: str) -> bool:
        """Whether the user's groups (as its record holds them) include the
        group of external id `module.name`."""
        field_name = "group_ids" if self.db.version >= 19 else "groups_id"
        row = self.db.tables["res.users"].get(self.uid, {})
        held = set(row.get(field_name) or [])
        return any(
            r.get("module") == module and r.get("name") == name and r["res_id"] in held
            for r in self.db.tables["ir.model.data"].values()
        )

    def check_model_access(self, model: str) -> None:
        """Analytic plans need the Analytic Accounting group, even for admin."""
        if model == "account.analytic.plan" and not self.in_group(
            "analytic", "group_analytic_accounting"
        ):
            groups = (
                "\t- Analytic Accounting\n\t- Show Full Accounting Features"
                if self.db.version >= 19
                else "\t- Technical/Analytic Accounting\n"
                "\t- Technical/Show Full Accounting Features"
            )
            raise odoo_error(
                "AccessError",
                "You are not allowed to access 'Analytic Plans' "
                "(account.analytic.plan) records.\n\nThis operation is allowed for "
                f"the following groups:\n{groups}\n\nContact your administrator "
                "to request access if necessary.",
            )

    # Search.
    def search(
        self,
        model: str,
        domain: Any,
        *,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        """Ids matching `domain`, archived ones only when asked for."""
        spec = self.spec(model)
        self.check_model_access(model)
        tree = _domain.parse(domain or [], model, self.db)
        skip_archived = (
            "active" in spec.fields
            and self.context.get("active_test", True) is not False
            and not _domain.names_field(tree, "active")
        )
        ids = [
            i
            for i, row in self.db.tables[model].items()
            if not (skip_archived and row.get("active") is False)
            and self.visible(model, i)
            and _domain.matches(tree, model, i, self.db)
        ]
        ids = order_ids(self.db, model, ids, order or spec.order)
        ids = ids[offset:]
        return ids[:limit] if limit else ids

    # Read.
    def read(
        self,
        model: str,
        ids: list[int],
        fields: list[str] | None,
        load: Any = "_classic_read",
    ) -> list[Raw]:
        """Records as Odoo's `read` shapes them; unknown ids are left out."""
        spec = self.spec(model)
        self.check_model_access(model)
        names = list(fields) if fields else [f for f in spec.fields if f != "id"]
        self._check_field_groups(model, names)
        for name in names:
            if name not in spec.fields:
                raise python_error(
                    "ValueError", f"Invalid field {name!r} on model {model!r}"
                )
        found = [i for i in ids if i in self.db.tables[model]]
        self.check_visible(model, found, "read")
        return [self._shape(model, i, names, load) for i in found]

    def _check_field_groups(self, model: str, names: list[str]) -> None:
        """AccessError naming the fields that only a group may read (the whole
        read fails, even for admin, as recorded on 17)."""
        restricted = sorted(
            n for n in names if (model, n) in GROUP_FIELDS and self.db.version < 19
        )
        if not restricted:
            return
        label = self.db.models[model].label
        listed = "\n".join(
            f"- {n} (allowed for groups '{GROUP_FIELDS[(model, n)]}')"
            for n in restricted
        )
        raise odoo_error(
            "AccessError",
            "The requested operation can not be completed due to security "
            f"restrictions.\n\nDocument type: {label} ({model})\nOperation: read\n"
            f"User: {self.uid}\nFields:\n{listed}",
        )

    def _shape(self, model: str, rec_id: int, names: list[str], load: Any) -> Raw:
        out: Raw = {"id": rec_id}
        for name in names:
            if name != "id":
                out[name] = self.shape_value(model, rec_id, name, load)
        return out

    def shape_value(self, model: str, rec_id: int, name: str, load: Any) -> Any:
        """One field's value as the wire shows it."""
        described = self.db.models[model].fields[name]
        value = self.db.raw(model, rec_id, name)
        ftype = described.type
        if ftype == "many2one":
            if not value:
                return False
            if load is None:
                return value
            return [value, self.db.display_name(described.relation or "", value)]
        if ftype in ("one2many", "many2many"):
            return list(value or [])
        if ftype in _NUMERIC:
            return value if value is not None else (0 if ftype == "integer" else 0.0)
        if ftype == "boolean":
            return bool(value)
        return False if value is None or (value == "" and ftype != "char") else value

    # Write.
    def create(self, model: str, vals_list: list[Raw]) -> list[int]:
        """Create records from `vals_list`, applying defaults and checks."""
        spec = self.spec(model)
        self.check_model_access(model)
        created = []
        for vals in vals_list:
            if not isinstance(vals, dict):
                raise python_error(
                    "ValueError",
                    "dictionary update sequence element #0 has length 1; 2 is required",
                )
            self._check_vals(model, vals)
            row: Raw = {"create_uid": self.uid, "write_uid": self.uid}
            if "active" in spec.fields:
                row["active"] = True
            plain, relational = self._split(model, vals)
            row.update(plain)
            default = self.db.defaults.get(model)
            if default is not None:
                default(self, row)
            rec_id = self.db.insert(model, row)
            self._apply_relational(model, rec_id, relational)
            self._after_write(model, rec_id, set(vals) | {"__create__"})
            created.append(rec_id)
        return created

    def write(self, model: str, ids: list[int], vals: Raw) -> bool:
        """Write `vals` on every id; MissingError for ids that are gone."""
        self.spec(model)
        self.check_model_access(model)
        gone = [i for i in ids if i not in self.db.tables[model]]
        if gone:
            raise missing(model, gone, self.uid)
        self.check_visible(model, ids, "write")
        self._check_vals(model, vals)
        guard = self.db.checks.get(f"{model}:write")
        for rec_id in ids:
            if guard is not None:
                self.context["__vals__"] = vals
                guard(self, rec_id)
            plain, relational = self._split(model, vals)
            self.db.tables[model][rec_id].update(plain)
            self._apply_relational(model, rec_id, relational)
            self.db.stamp(model, rec_id, self.uid)
            self._after_write(model, rec_id, set(vals))
        return True

    def unlink(self, model: str, ids: list[int]) -> bool:
        """Delete records (and their cascaded lines); MissingError if gone."""
        self.spec(model)
        gone = [i for i in ids if i not in self.db.tables[model]]
        if gone:
            raise missing(model, gone, self.uid)
        self.check_visible(model, ids, "unlink")
        guard = self.db.checks.get(f"{model}:unlink")
        for rec_id in ids:
            if guard is not None:
                guard(self, rec_id)
        for rec_id in ids:
            self.delete(model, rec_id)
        return True

    def delete(self, model: str, rec_id: int) -> None:
        """Remove one record and the one2many lines that cascade with it."""
        for (owner, fname), inverse in INVERSES.items():
            if owner != model or fname in ("child_ids", "children_ids"):
                continue
            comodel = self.db.models[owner].fields[fname].relation or ""
            for child in list(self.db.raw(owner, rec_id, fname) or []):
                if self.db.tables[comodel].get(child, {}).get(inverse) == rec_id:
                    self.delete(comodel, child)
        self.db.tables[model].pop(rec_id, None)
        for key, (xml_model, res_id) in list(self.db.xmlids.items()):
            if xml_model == model and res_id == rec_id:
                del self.db.xmlids[key]

    def _check_vals(self, model: str, vals: Raw) -> None:
        spec = self.db.models[model]
        for name, value in vals.items():
            described = spec.fields.get(name)
            if described is None:
                where = (
                    f"in {model!r}" if self.db.version >= 19 else f"on model {model!r}"
                )
                raise python_error("ValueError", f"Invalid field {name!r} {where}")
            allowed = {key for key, _ in described.selection or ()}
            if described.type == "selection" and value and value not in allowed:
                raise python_error(
                    "ValueError", f"Wrong value for {model}.{name}: {value!r}"
                )

    def _split(self, model: str, vals: Raw) -> tuple[Raw, Raw]:
        spec = self.db.models[model]
        plain: Raw = {}
        relational: Raw = {}
        for name, value in vals.items():
            described = spec.fields[name]
            if described.type in ("one2many", "many2many"):
                relational[name] = value
            else:
                plain[name] = _convert(described.type, value)
        return plain, relational

    def _apply_relational(self, model: str, rec_id: int, values: Raw) -> None:
        for name, commands in values.items():
            described = self.db.models[model].fields[name]
            comodel = described.relation or ""
            if described.type == "many2many":
                self._m2m(model, rec_id, name, comodel, commands)
            elif (model, name) in INVERSES:
                self._o2m(rec_id, comodel, INVERSES[(model, name)], commands)

    def _m2m(
        self, model: str, rec_id: int, name: str, comodel: str, commands: Any
    ) -> None:
        row = self.db.tables[model][rec_id]
        current: list[int] = list(row.get(name) or [])
        if commands is False or commands is None:
            commands = [[5, 0, 0]]
        elif commands and all(isinstance(c, int) for c in commands):
            commands = [[6, 0, list(commands)]]
        for command in commands:
            code = command[0]
            if code == 0:
                current.append(self.create(comodel, [command[2]])[0])
            elif code == 1:
                self.write(comodel, [command[1]], command[2])
            elif code == 2:
                self.unlink(comodel, [command[1]])
                current = [i for i in current if i != command[1]]
            elif code == 3:
                current = [i for i in current if i != command[1]]
            elif code == 4 and command[1] not in current:
                current.append(command[1])
            elif code == 5:
                current = []
            elif code == 6:
                current = list(dict.fromkeys(command[2]))
        row[name] = current

    def _o2m(self, rec_id: int, comodel: str, inverse: str, commands: Any) -> None:
        table = self.db.tables[comodel]
        for command in commands or []:
            code = command[0]
            if code == 0:
                self.create(comodel, [{**command[2], inverse: rec_id}])
            elif code == 1:
                self.write(comodel, [command[1]], command[2])
            elif code == 2:
                self.unlink(comodel, [command[1]])
            elif code == 3:
                table[command[1]][inverse] = None
            elif code == 4:
                self.write(comodel, [command[1]], {inverse: rec_id})
            elif code in (5, 6):
                keep = set(command[2]) if code == 6 else set()
                for child, row in list(table.items()):
                    if row.get(inverse) == rec_id and child not in keep:
                        self.delete(comodel, child)
                for child in keep:
                    table[child][inverse] = rec_id

    def _after_write(self, model: str, rec_id: int, names: set[str]) -> None:
        hook = self.db.checks.get(model)
        if hook is not None:
            self.context["__names__"] = names
            hook(self, rec_id)
        self._check_required(model, rec_id)

    def _check_required(self, model: str, rec_id: int) -> None:
        spec = self.db.models[model]
        row = self.db.tables[model][rec_id]
        for name in REQUIRED.get(model, ()):
            value = row.get(name)
            # 0 is a value (a note line's quantity); only "not set" fails.
            if name in spec.fields and (value is None or value is False or value == ""):
                described = spec.fields[name]
                raise required_missing(
                    self.db.version, spec.label, model, described.string, name
                )


# Fields Odoo 17 lets only a group read (`groups=` on the field), even admin.
GROUP_FIELDS: dict[tuple[str, str], str] = {
    ("account.analytic.account", "debit"): (
        "Technical / Show Accounting Features - Readonly"
    ),
    ("account.analytic.account", "credit"): (
        "Technical / Show Accounting Features - Readonly"
    ),
}

# Required fields the double enforces (the others get defaults, as in Odoo).
REQUIRED: dict[str, tuple[str, ...]] = {
    "purchase.order": ("partner_id",),
    "purchase.order.line": ("product_qty",),
    "res.partner.bank": ("acc_number", "partner_id"),
    "account.analytic.account": ("plan_id", "name"),
    "account.analytic.plan": ("name",),
    "project.project": ("name",),
    "product.product": ("name",),
    "res.company": ("name",),
    "ir.model.data": ("name", "module", "model"),
}


def _convert(ftype: str, value: Any) -> Any:
    if value is False or value is None:
        return False if ftype == "boolean" else None
    if ftype == "many2one":
        # Odoo accepts a string where an id is expected and clears the field.
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if ftype == "json" and isinstance(value, dict):
        return {str(k): round(float(v), 2) for k, v in value.items()}
    if ftype == "datetime" and isinstance(value, str) and len(value) == 10:
        return value + " 00:00:00"
    if ftype in ("float", "monetary") and isinstance(value, int | float):
        return float(value)
    return value


def require_ids(value: Any) -> list[int]:
    """Ids as a list, from one id or a list of them."""
    if isinstance(value, bool):
        raise python_error("TypeError", "ids must be integers")
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    if isinstance(value, str) and value.isdigit():
        # Odoo 19 browses a string as one id that matches no record: a read
        # with `"ids": "1"` answers [], as recorded.
        return []
    if isinstance(value, str):
        # Any other string reaches PostgreSQL one character per id.
        raise OdooError(
            "psycopg2.errors.InvalidTextRepresentation",
            f'invalid input syntax for type integer: "{value[:1]}"',
        )
    raise python_error("ValueError", f"invalid ids {value!r}")


_ = (_UNSET, OdooError)
