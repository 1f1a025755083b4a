"""The model methods the double answers, and how each protocol binds arguments.

Over JSON-RPC and XML-RPC (`execute_kw`) arguments are positional plus
keywords; over JSON-2 every argument is a keyword and `ids` names the
records. Signature errors read as Odoo's do in each case: a Python
`TypeError` in 17, a 422 `UnprocessableEntity` over JSON-2.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tieline.testing.odoo_double._errors import (
    OdooError,
    http_error,
    odoo_error,
    python_error,
)
from tieline.testing.odoo_double._orm import Env, require_ids

Impl = Callable[[Env, str, dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Method:
    """A callable method: its parameters, which are required, and its body."""

    params: tuple[str, ...]
    required: tuple[str, ...]
    impl: Impl
    on_records: bool = False
    models: tuple[str, ...] = ()
    since: int = 0
    until: int = 99
    defaults: tuple[tuple[str, Any], ...] = ()


METHODS: dict[str, list[Method]] = {}


def method(
    name: str,
    params: tuple[str, ...],
    *,
    required: tuple[str, ...] = (),
    on_records: bool = False,
    models: tuple[str, ...] = (),
    since: int = 0,
    until: int = 99,
    defaults: tuple[tuple[str, Any], ...] = (),
) -> Callable[[Impl], Impl]:
    """Register `impl` as method `name` (on every model unless `models`)."""

    def register(impl: Impl) -> Impl:
        entry = Method(
            params, required, impl, on_records, models, since, until, defaults
        )
        METHODS.setdefault(name, []).append(entry)
        return impl

    return register


# Methods that change nothing: they need the lock, not a copy to roll back to.
READ_ONLY = frozenset(
    {
        "check_access_rights",
        "check_access_rule",
        "context_get",
        "default_get",
        "exists",
        "fields_get",
        "has_access",
        "name_get",
        "name_search",
        "read",
        "read_group",
        "search",
        "search_count",
        "search_read",
    }
)

PRIVATE_IN_19 = frozenset({"exists", "check_access", "browse"})


def find(env: Env, model: str, name: str, *, json2: bool) -> Method:
    """The method `name` of `model`, or the error Odoo gives for it."""
    version = env.db.version
    if name.startswith("_") or (version >= 19 and name in PRIVATE_IN_19):
        shown = f"'{model}.{name}'" if version >= 19 else name
        raise odoo_error(
            "AccessError",
            f"Private methods (such as {shown}) cannot be called remotely.",
        )
    for entry in METHODS.get(name, []):
        if (not entry.models or model in entry.models) and (
            entry.since <= version <= entry.until
        ):
            return entry
    if version >= 19:
        text = f"The method '{model}.{name}' does not exist"
        if json2:
            raise http_error("NotFound", text)
        raise python_error("AttributeError", text)
    raise python_error(
        "AttributeError", f"The method '{name}' does not exist on the model '{model}'"
    )


def bind_positional(
    entry: Method, name: str, args: list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Bind execute_kw's positional and keyword arguments (17's TypeErrors)."""
    params = (("ids",) if entry.on_records else ()) + entry.params
    if len(args) > len(params):
        raise python_error(
            "TypeError",
            f"BaseModel.{name}() takes {len(params) + 1} positional arguments "
            f"but {len(args) + 1} were given",
        )
    bound = dict(zip(params, args, strict=False))
    for key, value in kwargs.items():
        if key == "context":
            continue
        if key not in params:
            raise python_error(
                "TypeError",
                f"BaseModel.{name}() got an unexpected keyword argument '{key}'",
            )
        bound[key] = value
    needed = (("ids",) if entry.on_records else ()) + entry.required
    absent = [p for p in needed if p not in bound]
    if absent:
        raise python_error(
            "TypeError",
            f"BaseModel.{name}() missing {len(absent)} required positional "
            f"argument{'s' if len(absent) > 1 else ''}: "
            + " and ".join(f"'{p}'" for p in absent),
        )
    return {**dict(entry.defaults), **bound}


def bind_json2(
    entry: Method, model: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Bind JSON-2's keyword body (`ids` names the records)."""
    if "ids" in body and not entry.on_records:
        raise http_error("UnprocessableEntity", f"cannot call {model}.{name} with ids")
    # As Python's signature binding does: a missing argument is reported
    # before an unexpected one (`create` with `vals` misses `vals_list`).
    for key in entry.required:
        if key not in body:
            raise http_error(
                "UnprocessableEntity", f"missing a required argument: '{key}'"
            )
    bound: dict[str, Any] = {}
    for key, value in body.items():
        if key == "context":
            continue
        if key != "ids" and key not in entry.params:
            raise http_error(
                "UnprocessableEntity", f"got an unexpected keyword argument '{key}'"
            )
        bound[key] = value
    if entry.on_records:
        bound.setdefault("ids", [])
    return {**dict(entry.defaults), **bound}


def call(env: Env, model: str, name: str, bound: dict[str, Any]) -> Any:
    """Run a bound method inside one transaction."""
    entry = find(env, model, name, json2=False)
    if "ids" in bound:
        bound["ids"] = require_ids(bound["ids"])
    try:
        with env.db.transaction(snapshot=name not in READ_ONLY):
            return entry.impl(env, model, bound)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        # Odoo reports a plain Python error as builtins.<class>.
        raise python_error(type(err).__name__, str(err)) from err


# The methods every model has.


@method("search", ("domain", "offset", "limit", "order"), required=("domain",))
def _search(env: Env, model: str, a: dict[str, Any]) -> Any:
    return env.search(
        model,
        a["domain"],
        offset=a.get("offset") or 0,
        limit=a.get("limit"),
        order=a.get("order"),
    )


@method(
    "search_read",
    ("domain", "fields", "offset", "limit", "order", "load"),
)
def _search_read(env: Env, model: str, a: dict[str, Any]) -> Any:
    ids = env.search(
        model,
        a.get("domain") or [],
        offset=a.get("offset") or 0,
        limit=a.get("limit"),
        order=a.get("order"),
    )
    return env.read(model, ids, a.get("fields"), a.get("load", "_classic_read"))


@method("read", ("fields", "load"), on_records=True)
def _read(env: Env, model: str, a: dict[str, Any]) -> Any:
    return env.read(model, a["ids"], a.get("fields"), a.get("load", "_classic_read"))


@method("search_count", ("domain", "limit"), required=("domain",))
def _search_count(env: Env, model: str, a: dict[str, Any]) -> Any:
    return len(env.search(model, a["domain"], limit=a.get("limit")))


@method("create", ("vals_list",), required=("vals_list",))
def _create(env: Env, model: str, a: dict[str, Any]) -> Any:
    values = a["vals_list"]
    single = isinstance(values, dict)
    ids = env.create(model, [values] if single else list(values))
    if env.context.get("__json2__"):
        return ids
    return ids[0] if single else ids


@method("write", ("vals",), required=("vals",), on_records=True)
def _write(env: Env, model: str, a: dict[str, Any]) -> Any:
    return env.write(model, a["ids"], a["vals"])


@method("unlink", (), on_records=True)
def _unlink(env: Env, model: str, a: dict[str, Any]) -> Any:
    return env.unlink(model, a["ids"])


@method("exists", (), on_records=True, until=18)
def _exists(env: Env, model: str, a: dict[str, Any]) -> Any:
    return [i for i in a["ids"] if i in env.db.tables[model]]


def _name_search(env: Env, model: str, a: dict[str, Any], extra: Any) -> Any:
    name = a.get("name") or ""
    operator = a.get("operator") or "ilike"
    domain = list(extra or [])
    if name:
        domain = [*domain, ("display_name", operator, name)]
        if model == "product.product":
            domain = ["|", ("default_code", operator, name), *domain[-1:], *domain[:-1]]
    ids = env.search(model, domain, limit=a.get("limit") or 100)
    return [[i, env.db.display_name(model, i)] for i in ids]


@method("name_search", ("name", "args", "operator", "limit"), until=18)
def _name_search_17(env: Env, model: str, a: dict[str, Any]) -> Any:
    return _name_search(env, model, a, a.get("args"))


@method("name_search", ("name", "domain", "operator", "limit"), since=19)
def _name_search_19(env: Env, model: str, a: dict[str, Any]) -> Any:
    return _name_search(env, model, a, a.get("domain"))


@method("name_get", (), on_records=True, until=18)
def _name_get(env: Env, model: str, a: dict[str, Any]) -> Any:
    ids = [i for i in a["ids"] if i in env.db.tables[model]]
    return [[i, env.db.display_name(model, i)] for i in ids]


@method("name_create", ("name",), required=("name",))
def _name_create(env: Env, model: str, a: dict[str, Any]) -> Any:
    text = str(a["name"])
    vals: dict[str, Any] = {"name": text}
    if model == "res.partner" and "<" in text and text.endswith(">"):
        person, email = text[:-1].split("<", 1)
        vals = {"name": person.strip(), "email": email.strip()}
    rec_id = env.create(model, [vals])[0]
    return [rec_id, env.db.display_name(model, rec_id)]


@method("copy", ("default",), on_records=True)
def _copy(env: Env, model: str, a: dict[str, Any]) -> Any:
    spec = env.spec(model)
    source = env.db.tables[model][a["ids"][0]]
    vals = {
        k: v
        for k, v in source.items()
        if k in spec.fields
        and spec.fields[k].type not in ("one2many", "many2many")
        and k not in ("create_date", "write_date", "create_uid", "write_uid")
    }
    vals.update(a.get("default") or {})
    new_id = env.create(model, [vals])[0]
    return [new_id] if env.db.version >= 19 else new_id


@method("fields_get", ("allfields", "attributes"))
def _fields_get(env: Env, model: str, a: dict[str, Any]) -> Any:
    spec = env.spec(model)
    wanted = a.get("allfields") or list(spec.fields)
    attributes = a.get("attributes")
    out = {}
    for name in wanted:
        if name in spec.fields:
            described = spec.fields[name].describe()
            if attributes:
                described = {k: v for k, v in described.items() if k in attributes}
            out[name] = described
    return out


@method("default_get", ("fields_list",), required=("fields_list",), until=18)
def _default_get_17(env: Env, model: str, a: dict[str, Any]) -> Any:
    return default_values(env, model, a["fields_list"])


@method("default_get", ("fields",), required=("fields",), since=19)
def _default_get_19(env: Env, model: str, a: dict[str, Any]) -> Any:
    return default_values(env, model, a["fields"])


# Fields the double fills when a record is created but Odoo computes from
# other fields rather than defaulting, so `default_get` does not name them.
_COMPUTED_NOT_DEFAULTED = frozenset({("purchase.order", "date_planned")})


def default_values(env: Env, model: str, names: list[str]) -> dict[str, Any]:
    """What `default_get` answers: the defaults a new record would get."""
    names = [n for n in names if (model, n) not in _COMPUTED_NOT_DEFAULTED]
    row: dict[str, Any] = {}
    if "active" in env.spec(model).fields:
        row["active"] = True  # every new record starts active
    hook = env.db.defaults.get(model)
    if hook is not None:
        hook(env, row)
    spec = env.spec(model)
    out: dict[str, Any] = {}
    for name in names:
        value = row.get(name)
        if value is None or name not in spec.fields:
            continue
        if spec.fields[name].type in ("one2many", "many2many"):
            value = [[6, 0, list(value)]]
        out[name] = value
    return out


@method(
    "check_access_rights", ("operation", "raise_exception"), required=("operation",)
)
def _check_access_rights(env: Env, model: str, a: dict[str, Any]) -> Any:
    try:
        env.check_model_access(model)
    except OdooError:
        if a.get("raise_exception", True):
            raise
        return False
    if env.db.version >= 19 and a.get("raise_exception", True):
        return None
    return True


@method("check_access_rule", ("operation",), required=("operation",), on_records=True)
def _check_access_rule(env: Env, model: str, a: dict[str, Any]) -> Any:
    env.check_visible(model, a["ids"], a["operation"])
    return None


@method(
    "has_access", ("operation",), required=("operation",), on_records=True, since=19
)
def _has_access(env: Env, model: str, a: dict[str, Any]) -> Any:
    return all(env.visible(model, i) for i in a["ids"])


@method("action_archive", (), on_records=True)
def _archive(env: Env, model: str, a: dict[str, Any]) -> Any:
    env.write(model, a["ids"], {"active": False})
    return None


@method("action_unarchive", (), on_records=True)
def _unarchive(env: Env, model: str, a: dict[str, Any]) -> Any:
    env.write(model, a["ids"], {"active": True})
    return None


@method("context_get", (), models=("res.users",))
def _context_get(env: Env, model: str, a: dict[str, Any]) -> Any:
    return {"lang": "en_US", "tz": "Europe/Brussels", "uid": env.uid}


@method(
    "read_group",
    ("domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"),
    required=("domain", "fields", "groupby"),
)
def _read_group(env: Env, model: str, a: dict[str, Any]) -> Any:
    groupby = a["groupby"] if isinstance(a["groupby"], list) else [a["groupby"]]
    lazy = a.get("lazy", True) is not False
    keys = groupby[:1] if lazy else groupby
    ids = env.search(model, a["domain"])
    groups: dict[tuple[Any, ...], list[int]] = {}
    for rec_id in ids:
        key = tuple(_group_key(env, model, rec_id, g) for g in keys)
        groups.setdefault(key, []).append(rec_id)
    rows = [
        _group_row(env, model, a, keys, groupby, k, v, lazy) for k, v in groups.items()
    ]
    orderby = a.get("orderby")
    if orderby:
        term = str(orderby).split()
        rows.sort(
            key=lambda r: (r.get(term[0]) is False, r.get(term[0]) or 0),
            reverse=len(term) > 1 and term[1].lower() == "desc",
        )
    offset = a.get("offset") or 0
    limit = a.get("limit")
    rows = rows[offset:]
    return rows[:limit] if limit else rows


def _group_key(env: Env, model: str, rec_id: int, spec: str) -> Any:
    name, _, interval = spec.partition(":")
    value = env.db.raw(model, rec_id, name)
    if interval == "month" and value:
        year, month = int(value[:4]), int(value[5:7])
        return f"{calendar.month_name[month]} {year}"
    return value


def _group_row(
    env: Env,
    model: str,
    a: dict[str, Any],
    keys: list[str],
    groupby: list[str],
    key: tuple[Any, ...],
    ids: list[int],
    lazy: bool,
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    domain: list[Any] = []
    for spec, value in zip(keys, key, strict=True):
        name = spec.split(":")[0]
        described = env.db.models[model].fields[name]
        if described.type == "many2one" and value:
            row[spec] = [value, env.db.display_name(described.relation or "", value)]
        else:
            row[spec] = value if value is not None else False
        domain.append([name, "=", value if value is not None else False])
    if lazy:
        row[f"{keys[0].split(':')[0]}_count"] = len(ids)
    else:
        row["__count"] = len(ids)
    for aggregate in a["fields"]:
        name = aggregate.split(":")[0]
        row[name] = sum(env.db.raw(model, i, name) or 0 for i in ids)
    row["__domain"] = list(a["domain"]) + domain
    if lazy and len(groupby) > 1:
        row["__context"] = {"group_by": groupby[1:]}
    return row
