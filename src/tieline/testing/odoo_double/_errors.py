"""Odoo's exceptions as the double raises them, with what each protocol shows.

Each error carries the dotted class name Odoo reports (`data.name` over
JSON-RPC, `name` over JSON-2), the message, the XML-RPC fault code (3
AccessDenied, 4 AccessError, 2 UserError and its subclasses, 1 anything else)
and the JSON-2 HTTP status (401, 403, 404, 422, 500, ...).
"""

from __future__ import annotations

_XMLRPC_CODES = {
    "odoo.exceptions.AccessDenied": 3,
    "odoo.exceptions.AccessError": 4,
    "odoo.exceptions.UserError": 2,
    "odoo.exceptions.ValidationError": 2,
    "odoo.exceptions.MissingError": 2,
    "odoo.exceptions.RedirectWarning": 2,
}

_JSON2_STATUS = {
    "odoo.exceptions.AccessDenied": 401,
    "odoo.exceptions.AccessError": 403,
    "odoo.exceptions.MissingError": 404,
    "odoo.exceptions.UserError": 422,
    "odoo.exceptions.ValidationError": 422,
    "werkzeug.exceptions.NotFound": 404,
    "werkzeug.exceptions.UnprocessableEntity": 422,
    "werkzeug.exceptions.Unauthorized": 401,
    "werkzeug.exceptions.BadRequest": 400,
}


class OdooError(Exception):
    """An exception the double's ORM or dispatcher raised, as Odoo names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message

    @property
    def xmlrpc_code(self) -> int:
        """The integer faultCode `/xmlrpc/2/` answers with."""
        return _XMLRPC_CODES.get(self.name, 1)

    @property
    def json2_status(self) -> int:
        """The HTTP status JSON-2 answers with."""
        return _JSON2_STATUS.get(self.name, 500)

    @property
    def http_error(self) -> bool:
        """Werkzeug HTTP errors list their status as a second argument."""
        return self.name.startswith("werkzeug.")

    def traceback_text(self) -> str:
        """A traceback-shaped text, which Odoo sends as `debug`."""
        # Python names a built-in exception alone, any other by its module
        # (`xml.parsers.expat.ExpatError`, `psycopg2.OperationalError`).
        builtin = self.name.startswith(("builtins.", "werkzeug."))
        shown = self.name.rsplit(".", 1)[-1] if builtin else self.name
        return (
            "Traceback (most recent call last):\n"
            '  File "<odoo-root>/odoo/http.py", line 1, in dispatch\n'
            f"{shown}: {self.message}\n"
        )


def odoo_error(kind: str, message: str) -> OdooError:
    """An `odoo.exceptions.<kind>` error."""
    return OdooError(f"odoo.exceptions.{kind}", message)


def python_error(kind: str, message: str) -> OdooError:
    """A plain Python error (`builtins.<kind>`) such as ValueError."""
    return OdooError(f"builtins.{kind}", message)


def http_error(kind: str, message: str) -> OdooError:
    """A werkzeug HTTP exception, as JSON-2 raises for routing and signatures."""
    return OdooError(f"werkzeug.exceptions.{kind}", message)


def missing(model: str, ids: list[int], uid: int) -> OdooError:
    """MissingError for write/unlink on ids that are gone."""
    shown = "".join(f"{i}," for i in ids)
    return odoo_error(
        "MissingError",
        f"Record does not exist or has been deleted.\n"
        f"(Record: {model}({shown}), User: {uid})",
    )


def required_missing(
    version: int, label: str, model: str, fstring: str, fname: str
) -> OdooError:
    """The ValidationError Odoo turns a NOT NULL violation into."""
    if version >= 19:
        text = (
            f"The operation cannot be completed: Missing required value for the "
            f"field '{fstring}' ({fname}).\nModel: '{label}' ({model})\n"
            "- create/update: a mandatory field is not set\n"
            "- delete: another model requires the record being deleted, you can "
            "archive it instead\n"
        )
    else:
        text = (
            "The operation cannot be completed:\n"
            "- Create/update: a mandatory field is not set.\n"
            "- Delete: another model requires the record being deleted. "
            "If possible, archive it instead.\n\n"
            f"Model: {label} ({model})\nField: {fstring} ({fname})\n"
        )
    return odoo_error("ValidationError", text)
