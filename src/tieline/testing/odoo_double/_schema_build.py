"""Rebuild the double's schema files from recorded `fields_get` answers.

Run `python -m tieline.testing.odoo_double._schema_build <recordings folder>`;
it reads `020-fields-get.json` (Odoo 17) and `odoo19/020-fields-get.json`
(Odoo 19) and writes `schema/odoo17.json` and `schema/odoo19.json` beside
this file. Only the attributes the double answers with are kept: string,
type, required, readonly, relation and selection.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "schema"
KEPT = ("string", "type", "required", "readonly", "relation", "selection")


def _compact(fields: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {key: attrs[key] for key in KEPT if attrs.get(key) not in (None, False)}
        for name, attrs in fields.items()
    }


def _models(exchanges: list[dict[str, Any]]) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for exchange in exchanges:
        body = exchange["request_body"]
        if exchange["protocol"] == "jsonrpc":
            args = body["params"]["args"]
            model, result = args[3], exchange["response_body"].get("result")
            wanted = args[6].get("attributes") if len(args) > 6 else None
        elif exchange["protocol"] == "json2":
            model, result = exchange["path"].split("/")[3], exchange["response_body"]
            wanted = (body or {}).get("attributes")
        else:
            continue
        if wanted and "type" in wanted and model not in models:
            models[model] = _compact(result)
    return models


def build(recordings: Path) -> None:
    """Write the two schema files from the recordings folder."""
    for version, path in (
        ("17", recordings / "020-fields-get.json"),
        ("19", recordings / "odoo19" / "020-fields-get.json"),
    ):
        models = _models(json.loads(path.read_text()))
        target = HERE / f"odoo{version}.json"
        target.write_text(json.dumps(models, indent=0, sort_keys=True) + "\n")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
