"""A tax id written in any of its forms normalises to one spelling."""

from __future__ import annotations

import pytest

from tieline.errors import ValidationFailed
from tieline.suppliers import normalise_tax_id


@pytest.mark.parametrize(
    ("written", "country", "normalised"),
    [
        ("GB 123 4567", None, "GB1234567"),
        ("GB1234567", None, "GB1234567"),
        ("1234567", "GB", "GB1234567"),
        ("GB 123 4567", "GB", "GB1234567"),
        ("gb 123-4567", "gb", "GB1234567"),
        ("XI 123 4567", "GB", "XI1234567"),
        ("123.456.789", "GR", "EL123456789"),
        ("EL123456789", "GR", "EL123456789"),
        ("12-3456789", "US", "US123456789"),
        ("B-1234567/8", "ES", "ESB12345678"),
        ("CHE-123.456.789", "CH", "CHE123456789"),
        ("de 123 456 789", None, "DE123456789"),
        ("123 456 789", None, "123456789"),
    ],
)
def test_a_tax_id_normalises_to_one_spelling(
    written: str, country: str | None, normalised: str
) -> None:
    assert normalise_tax_id(written, country=country) == normalised


def test_the_three_forms_of_one_id_are_equal() -> None:
    forms = {
        normalise_tax_id("GB 123 4567"),
        normalise_tax_id("GB1234567"),
        normalise_tax_id("1234567", country="GB"),
    }

    assert forms == {"GB1234567"}


@pytest.mark.parametrize(
    ("written", "country", "field", "message"),
    [
        (" - ", None, "tax_id", "empty"),
        ("GB#1234567", None, "tax_id", "other than letters and digits"),
        ("DE123456789", "GB", "tax_id", "prefix DE, but the supplier's country is GB"),
        ("1234567", "GBR", "country", "not a two-letter ISO 3166 code"),
    ],
)
def test_a_tax_id_that_cannot_be_read_is_refused_naming_the_field(
    written: str, country: str | None, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message) as caught:
        normalise_tax_id(written, country=country)

    assert caught.value.field == field
