"""Odoo domains for the double: parse the prefix notation, then test records.

A domain is a list of leaves `(path, operator, value)` and the prefix
operators `&`, `|` and `!`; leaves side by side are joined by an implicit
`&`. Paths may be dotted through many2one and x2many fields; a leaf on an
x2many holds when any related record matches, as in Odoo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tieline.testing.odoo_double._errors import python_error

OPERATORS = frozenset(
    {
        "=",
        "!=",
        "<>",
        "<",
        ">",
        "<=",
        ">=",
        "=?",
        "in",
        "not in",
        "like",
        "not like",
        "ilike",
        "not ilike",
        "=like",
        "=ilike",
        "child_of",
        "parent_of",
    }
)


class Records(Protocol):
    """What the evaluator needs from the ORM."""

    version: int

    def field_type(self, model: str, name: str) -> tuple[str, str | None] | None:
        """(type, relation) of `model.name`, or None when there is no such field."""

    def raw(self, model: str, rec_id: int, name: str) -> Any:
        """The stored or computed value: ids for relations, None for empty."""

    def display_name(self, model: str, rec_id: int) -> str:
        """The record's display name."""

    def all_ids(self, model: str) -> list[int]:
        """Every id of `model`, archived included."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One condition `(path, operator, value)`."""

    path: str
    operator: str
    value: Any


Node = tuple[str, list["Node"]] | Leaf


def parse(domain: Any, model: str, records: Records) -> Node:
    """Turn a domain list into a tree, checking syntax, fields and operators."""
    if not isinstance(domain, list | tuple):
        raise python_error(
            "TypeError", f"Domain() invalid argument type for domain: {domain!r}"
        )
    items = list(domain)
    stack: list[Node] = []
    for item in reversed(items):
        if item in ("&", "|"):
            if len(stack) < 2:
                raise _syntax(domain)
            stack.append((item, [stack.pop(), stack.pop()]))
        elif item == "!":
            if not stack:
                raise _syntax(domain)
            stack.append(("!", [stack.pop()]))
        elif isinstance(item, list | tuple) and len(item) == 3:
            stack.append(_leaf(item, model, records))
        elif item in (True, False) or item in ([1, "=", 1], [0, "=", 1]):
            stack.append(Leaf("id", "!=" if item else "=", False))
        else:
            raise _syntax(domain)
    if not stack:
        return ("&", [])
    return ("&", list(reversed(stack)))


def _syntax(domain: Any) -> Exception:
    return python_error(
        "ValueError", f"Domain {list(domain)!r} is syntactically not correct."
    )


def _leaf(item: Sequence[Any], model: str, records: Records) -> Leaf:
    path, operator, value = item
    operator = str(operator).lower() if isinstance(operator, str) else operator
    shown = tuple(item)
    if operator not in OPERATORS:
        if records.version >= 19:
            raise python_error("ValueError", f"Invalid operator in condition {shown!r}")
        raise python_error("ValueError", f"Invalid leaf {shown!r}")
    current = model
    for part in str(path).split("."):
        described = records.field_type(current, part)
        if described is None:
            word = "condition" if records.version >= 19 else "leaf"
            raise python_error(
                "ValueError",
                f"Invalid field {current}.{part} in {word} {shown!r}",
            )
        current = described[1] or current
    return Leaf(str(path), "!=" if operator == "<>" else operator, value)


def matches(node: Node, model: str, rec_id: int, records: Records) -> bool:
    """Whether record `rec_id` of `model` satisfies the parsed domain."""
    if isinstance(node, Leaf):
        return _match_leaf(node, model, rec_id, records)
    op, children = node
    if op == "!":
        return not matches(children[0], model, rec_id, records)
    results = (matches(child, model, rec_id, records) for child in children)
    return any(results) if op == "|" else all(results)


def names_field(node: Node, name: str) -> bool:
    """Whether the domain has a leaf on field `name` (e.g. `active`)."""
    if isinstance(node, Leaf):
        return node.path.split(".")[0] == name
    return any(names_field(child, name) for child in node[1])


def _match_leaf(leaf: Leaf, model: str, rec_id: int, records: Records) -> bool:
    parts = leaf.path.split(".")
    holders = [(model, rec_id)]
    for part in parts[:-1]:
        holders = _follow(holders, part, records)
    last = parts[-1]
    if leaf.operator == "=?" and leaf.value in (False, None):
        return True
    for holder_model, holder_id in holders:
        ftype, relation = records.field_type(holder_model, last) or ("char", None)
        if last == "id" and leaf.operator in ("child_of", "parent_of"):
            ftype, relation = "many2one", holder_model
        value = records.raw(holder_model, holder_id, last)
        if _compare(leaf, ftype, relation, value, records):
            return True
    if not holders:
        return leaf.operator in ("!=", "not in", "not like", "not ilike") or (
            leaf.operator == "=" and leaf.value is False
        )
    return False


def _follow(
    holders: list[tuple[str, int]], part: str, records: Records
) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for model, rec_id in holders:
        described = records.field_type(model, part)
        if described is None or described[1] is None:
            continue
        value = records.raw(model, rec_id, part)
        ids = value if isinstance(value, list) else ([value] if value else [])
        out.extend((described[1], i) for i in ids)
    return out


def _compare(
    leaf: Leaf, ftype: str, relation: str | None, value: Any, records: Records
) -> bool:
    op, target = leaf.operator, leaf.value
    if op == "=?":
        op = "="
    if ftype in ("one2many", "many2many") or (ftype == "many2one" and relation):
        return _compare_relation(op, target, ftype, relation, value, records)
    if ftype == "json":
        return _compare_json(op, target, value, records)
    if ftype == "datetime" and isinstance(target, str) and len(target) == 10:
        target = target + " 00:00:00"
    return _compare_scalar(op, target, value)


def _compare_scalar(op: str, target: Any, value: Any) -> bool:
    # Identity checks: 0 == False in Python, but 0 is a value in Odoo.
    empty = value is None or value is False or value == ""
    if op == "=":
        return empty if target is False else value == target
    if op == "!=":
        return not empty if target is False else value != target
    if op in ("in", "not in"):
        wanted = list(target) if isinstance(target, list | tuple) else [target]
        hit = value in wanted or (empty and False in wanted)
        return hit if op == "in" else not hit
    if op in ("<", ">", "<=", ">="):
        if empty or target is None or target is False:
            return False
        return bool(_ORDERINGS[op](value, target))
    if op in ("like", "ilike", "=like", "=ilike", "not like", "not ilike"):
        return _like(op, target, value)
    return False


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _like(op: str, target: Any, value: Any) -> bool:
    text = "" if value in (None, False) else str(value)
    pattern = str(target)
    if op in ("like", "ilike", "not like", "not ilike"):
        pattern = f"%{pattern}%"
    regex = "".join(
        ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern
    )
    flags = re.IGNORECASE | re.DOTALL if "ilike" in op else re.DOTALL
    found = re.fullmatch(regex, text, flags) is not None
    if op.startswith("not"):
        return not found and value not in (None, False)
    return found and value not in (None, False)


def _compare_relation(
    op: str,
    target: Any,
    ftype: str,
    relation: str | None,
    value: Any,
    records: Records,
) -> bool:
    ids = value if isinstance(value, list) else ([value] if value else [])
    if op in ("child_of", "parent_of") and relation:
        wanted = _hierarchy(op, relation, target, records)
        return bool(set(ids) & wanted)
    if isinstance(target, str) and op not in ("in", "not in"):
        names = [records.display_name(relation or "", i) for i in ids]
        if op in ("=", "!="):
            hit = target in names
            return hit if op == "=" else not hit
        return any(_like(op, target, name) for name in names) if names else False
    if op == "=":
        return not ids if target is False else target in ids
    if op == "!=":
        return bool(ids) if target is False else target not in ids
    if op in ("in", "not in"):
        wanted_ids = set(target if isinstance(target, list | tuple) else [target])
        hit = bool(set(ids) & wanted_ids) or (not ids and False in wanted_ids)
        return hit if op == "in" else not hit
    return False


def _hierarchy(op: str, model: str, target: Any, records: Records) -> set[int]:
    roots = set(target if isinstance(target, list | tuple) else [target])
    parent_field = "parent_id"
    result = set(roots)
    if op == "parent_of":
        frontier = list(roots)
        while frontier:
            parent = records.raw(model, frontier.pop(), parent_field)
            if parent and parent not in result:
                result.add(parent)
                frontier.append(parent)
        return result
    changed = True
    while changed:
        changed = False
        for rec_id in records.all_ids(model):
            parent = records.raw(model, rec_id, parent_field)
            if parent in result and rec_id not in result:
                result.add(rec_id)
                changed = True
    return result


def _compare_json(op: str, target: Any, value: Any, records: Records) -> bool:
    # analytic_distribution: keys are "id" or "id,id"; `in` matches an id
    # anywhere in a key, `ilike` matches an account's name.
    if not isinstance(value, dict):
        return op in ("=", "!=") and (target is False) == (op == "=")
    ids = {int(part) for key in value for part in str(key).split(",")}
    if op in ("in", "not in"):
        hit = bool(ids & set(target if isinstance(target, list) else [target]))
        return hit if op == "in" else not hit
    if op in ("ilike", "like"):
        names = (records.display_name("account.analytic.account", i) for i in ids)
        return any(_like(op, target, name) for name in names)
    if op == "=":
        return target is not False and value == target
    return op == "!=" and target is False
