"""Load Odoo XML data files (`<odoo><record .../><function .../></odoo>`).

Records of models the double knows are created with the fields it knows;
`ref="..."` resolves against the external ids loaded so far (and the base
ones the double seeds); simple `eval` literals are read safely. What cannot
be loaded (unknown models or fields, unresolved references, Python `eval`
expressions that need a live Odoo) is counted in the report, never guessed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from tieline.testing.odoo_double._errors import OdooError
from tieline.testing.odoo_double._methods import call, find
from tieline.testing.odoo_double._orm import Env

_REF = re.compile(r"ref\(\s*'([^']+)'\s*\)")


@dataclass
class LoadReport:
    """What a load created and what it had to leave out, with reasons."""

    created: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def load_xml(env: Env, path: Path, *, module: str) -> LoadReport:
    """Load one data file as `module`, returning what was and was not loaded."""
    report = LoadReport()
    root = etree.parse(str(path)).getroot()
    for node in root.iter("record", "function"):
        if node.tag == "record":
            _load_record(env, node, module, report)
        else:
            _run_function(env, node, module, report)
    return report


def _xmlid(ref: str, module: str) -> tuple[str, str]:
    return tuple(ref.split(".", 1)) if "." in ref else (module, ref)  # type: ignore[return-value]


def resolve(env: Env, ref: str, module: str) -> int | None:
    """The record id behind an external id, or None if it is not loaded."""
    mod, name = _xmlid(ref, module)
    for row in env.db.tables["ir.model.data"].values():
        if row.get("module") == mod and row.get("name") == name:
            res_id: int = row["res_id"]
            return res_id
    return None


def _load_record(env: Env, node: Any, module: str, report: LoadReport) -> None:
    model, xml_id = node.get("model"), node.get("id")
    if model == "product.template":
        # The double keeps one variant per template: a template is loaded as
        # its product, and a product naming its template updates that one.
        model = "product.product"
    if model not in env.db.models:
        report.skipped.append(f"record {xml_id}: model {model} is not in the double")
        return
    vals: dict[str, Any] = {}
    for child in node.iter("field"):
        name = child.get("name")
        if name not in env.db.models[model].fields:
            report.skipped.append(f"record {xml_id}: field {model}.{name} unknown")
            continue
        value = _field_value(env, child, module)
        described = env.db.models[model].fields[name]
        allowed = {key for key, _ in described.selection or ()}
        if value is _SKIP or (described.selection and value not in allowed):
            report.skipped.append(f"record {xml_id}: field {name} not resolvable")
            continue
        vals[name] = value
    existing = resolve(env, xml_id, module)
    template = vals.pop("product_tmpl_id", None) if model == "product.product" else None
    if existing is None and template is not None:
        env.write(model, [template], vals)
        _register(env, xml_id, module, model, template)
        return
    if existing is not None:
        env.write(model, [existing], vals)
        return
    try:
        rec_id = env.create(model, [vals])[0]
    except OdooError as err:
        report.skipped.append(f"record {xml_id}: {err.message}")
        return
    _register(env, xml_id, module, model, rec_id)
    report.created[model] = report.created.get(model, 0) + 1


def _register(env: Env, xml_id: str, module: str, model: str, rec_id: int) -> None:
    mod, name = _xmlid(xml_id, module)
    env.db.insert(
        "ir.model.data",
        {
            "module": mod,
            "name": name,
            "model": model,
            "res_id": rec_id,
            "complete_name": f"{mod}.{name}",
        },
    )


_SKIP = object()


def _field_value(env: Env, node: Any, module: str) -> Any:
    if node.get("ref"):
        found = resolve(env, node.get("ref"), module)
        return _SKIP if found is None else found
    if node.get("eval") is not None:
        return _eval(env, node.get("eval"), module)
    if node.get("type") == "base64" or node.get("file"):
        return _SKIP
    text = (node.text or "").strip()
    return {"True": True, "False": False}.get(text, text)


def _eval(env: Env, text: str, module: str) -> Any:
    if "obj()" in text or "Command." in text:
        return _SKIP
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        found = resolve(env, match.group(1), module)
        if found is None:
            missing.append(match.group(1))
            return "0"
        return str(found)

    try:
        value = ast.literal_eval(_REF.sub(substitute, text))
    except (ValueError, SyntaxError):
        return _SKIP
    return _SKIP if missing else value


def _run_function(env: Env, node: Any, module: str, report: LoadReport) -> None:
    model, name = node.get("model"), node.get("name")
    args = _eval(env, node.get("eval") or "_", module) if node.get("eval") else _SKIP
    if args is _SKIP or not isinstance(args, list) or not args:
        report.skipped.append(f"function {model}.{name}: arguments need a live Odoo")
        return
    entry = find(env, model, name, json2=False)
    bound = {"ids": args[0]} if entry.on_records else {}
    try:
        call(env, model, name, bound)
    except OdooError as err:
        report.skipped.append(f"function {model}.{name}: {err.message}")
