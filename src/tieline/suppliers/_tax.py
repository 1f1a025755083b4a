"""Tax ids brought to one spelling: "GB 123 4567", "GB1234567" and "1234567"
with country GB are all "GB1234567".

Rules: spaces, dots, dashes and slashes are dropped and letters upper-cased;
anything else that is not a letter or digit is refused. When the supplier's
country is known, the id carries that country's VAT prefix: kept when the id
already starts with it, added when it does not. Greece's VAT prefix is EL,
not its ISO code GR; a GB company may be registered under XI (Northern
Ireland). An id that starts with another country's VAT prefix followed by a
digit is refused rather than guessed at. Without a country the id is kept as
written (after the clean-up), prefix or not.

TODO: only the characters and the country prefix are checked, not the
number's length or check digits, so a truncated id such as "GB12" is
accepted, imported without a flag and sent to Odoo as the partner's VAT.
python-stdnum's per-country VAT validators would catch it; it is not one of
tieline's dependencies yet, and our own table of national formats would be
worse kept than that library.
"""

from __future__ import annotations

import re
from typing import Final

from tieline.errors import ValidationFailed

# VAT prefixes: the EU's (EL for Greece), the UK's (GB, and XI for Northern
# Ireland), Switzerland's and Norway's.
# fmt: off
VAT_PREFIXES: Final[frozenset[str]] = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR",
    "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO",
    "SE", "SI", "SK", "GB", "XI", "CH", "NO",
})
# fmt: on

# Countries whose VAT prefixes are not (only) their ISO 3166 code.
_PREFIXES_OF_COUNTRY: Final[dict[str, tuple[str, ...]]] = {
    "GR": ("EL", "GR"),
    "GB": ("GB", "XI"),
}

_SEPARATORS = re.compile(r"[\s./-]+")
_ALLOWED = re.compile(r"[A-Z0-9]+")
_COUNTRY = re.compile(r"[A-Z]{2}")


def normalise_tax_id(tax_id: str, *, country: str | None = None) -> str:
    """The one spelling of `tax_id`, with `country`'s prefix when it is known."""
    cleaned = _SEPARATORS.sub("", tax_id).upper()
    if not cleaned:
        raise ValidationFailed("the tax id is empty", record=tax_id, field="tax_id")
    if not _ALLOWED.fullmatch(cleaned):
        raise ValidationFailed(
            f"the tax id {tax_id!r} holds characters other than letters and digits",
            record=tax_id,
            field="tax_id",
        )
    if country is None:
        return cleaned
    return _with_prefix(cleaned, _country(country, tax_id), tax_id)


def _country(country: str, tax_id: str) -> str:
    code = country.strip().upper()
    if not _COUNTRY.fullmatch(code):
        raise ValidationFailed(
            f"country {country!r} is not a two-letter ISO 3166 code",
            record=tax_id,
            field="country",
        )
    return code


def _with_prefix(cleaned: str, country: str, written: str) -> str:
    prefixes = _PREFIXES_OF_COUNTRY.get(country, (country,))
    if cleaned[:2] in prefixes and len(cleaned) > 2:
        return cleaned
    head = cleaned[:2]
    if head in VAT_PREFIXES and cleaned[2:3].isdigit():
        raise ValidationFailed(
            f"the tax id {written!r} carries the prefix {head}, "
            f"but the supplier's country is {country}",
            record=written,
            field="tax_id",
        )
    return prefixes[0] + cleaned
