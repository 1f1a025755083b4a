"""Spellings of one company normalise alike, and each pair falls under one rule."""

from __future__ import annotations

import pytest

from tieline.suppliers import (
    MatchRule,
    compare_names,
    name_score,
    normalise_name,
    parse_name,
)


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("K&E EXCAVATING INC.", "K & E EXCAVATING INC"),
        ("K & E EXCAVATING INC.", "K & E EXCAVATING INC"),
        ("k&e   excavating,  inc", "K & E EXCAVATING INC"),
        ("M.J HUGHES CONSTRUCTION INC.", "MJ HUGHES CONSTRUCTION INC"),
        ("M. J. Hughes Construction Inc", "MJ HUGHES CONSTRUCTION INC"),
        ("C.R CONTRACTING LLC", "CR CONTRACTING LLC"),
        ("DIRT AND AGGREGATE INTERCHANGE INC.", "DIRT & AGGREGATE INTERCHANGE INC"),
        ("LANDIS+LANDIS CONSTRUCTION LLC", "LANDIS & LANDIS CONSTRUCTION LLC"),
        ("KNIFE RIVER CORPORATION - NORTHWEST", "KNIFE RIVER CORP NORTHWEST"),
        ("NUTTER CORPORATION", "NUTTER CORP"),
        ("Acme Builders L.L.C.", "ACME BUILDERS LLC"),
        ("Acme Incorporated", "ACME INC"),
        ("Acme Company", "ACME CO"),
        ("Acme Limited", "ACME LTD"),
        ("The Façade Company Ltd", "FACADE CO LTD"),
        ("ENGINEER\u2019S ESTIMATE", "ENGINEERS ESTIMATE"),
        ("Goodfellow Brothers Inc.", "GOODFELLOW BROS INC"),
        ("Smith & Co.", "SMITH CO"),
    ],
)
def test_a_name_normalises_to_one_spelling(written: str, normalised: str) -> None:
    assert normalise_name(written) == normalised


def test_the_legal_form_is_held_apart_from_the_core_name() -> None:
    parsed = parse_name("VELLUTINI CORPORATION DBA ROYAL ELECTRIC COMPANY")

    assert parsed.core == "VELLUTINI CORP DBA ROYAL ELECTRIC"
    assert parsed.legal_form == "CO"
    assert parsed.misspelt_form is None
    assert parsed.written == "VELLUTINI CORPORATION DBA ROYAL ELECTRIC COMPANY"


def test_a_word_one_slip_from_a_legal_form_is_held_apart_as_misspelt() -> None:
    lcc = parse_name("KERR CONTRACTORS OREGON LCC")
    icn = parse_name("Acme Paving ICN")

    assert (lcc.core, lcc.legal_form, lcc.misspelt_form) == (
        "KERR CONTRACTORS OREGON",
        None,
        "LCC",
    )
    assert (icn.core, icn.misspelt_form) == ("ACME PAVING", "ICN")


def test_a_name_that_is_only_a_legal_form_keeps_it_as_its_core() -> None:
    parsed = parse_name("Incorporated")

    assert (parsed.core, parsed.legal_form) == ("INC", None)


def test_trade_words_are_left_out_of_the_distinctive_part() -> None:
    assert parse_name("PHK CONSTRUCTION LLC").distinctive == "PHK"
    assert parse_name("K & E EXCAVATING INC.").distinctive == "K E"
    assert parse_name("CONSTRUCTION SERVICES").distinctive == "CONSTRUCTION SERVICES"


CERTAIN_PAIRS = [
    ("K&E EXCAVATING INC.", "K & E EXCAVATING INC.", MatchRule.SAME_NAME),
    ("NUTTER CORP.", "NUTTER CORPORATION", MatchRule.SAME_NAME),
    (
        "M.J HUGHES CONSTRUCTION INC.",
        "MJ HUGHES CONSTRUCTION INC.",
        MatchRule.SAME_NAME,
    ),
    ("Acme Co.", "ACME COMPANY", MatchRule.SAME_NAME),
    ("Acme Inc.", "ACME INCORPORATED", MatchRule.SAME_NAME),
    ("Acme LLC", "ACME L.L.C.", MatchRule.SAME_NAME),
    ("Acme Ltd", "ACME LIMITED", MatchRule.SAME_NAME),
    ("Goodfellow Brothers Inc", "GOODFELLOW BROS. INC.", MatchRule.SAME_NAME),
    (
        "LANDIS+LANDIS CONSTRUCTION LLC",
        "Landis & Landis Construction, LLC",
        MatchRule.SAME_NAME,
    ),
    (
        "MJ HUGHES CONSTRUCTION",
        "M.J HUGHES CONSTRUCTION INC.",
        MatchRule.SAME_NAME_ONE_WITHOUT_LEGAL_FORM,
    ),
    (
        "WEITMAN EXCAVATION",
        "WEITMAN EXCAVATION LLC",
        MatchRule.SAME_NAME_ONE_WITHOUT_LEGAL_FORM,
    ),
    (
        "KODIAK PACIFIC CONSTRUCTION",
        "KODIAK PACIFIC CONSTRUCTION CO.",
        MatchRule.SAME_NAME_ONE_WITHOUT_LEGAL_FORM,
    ),
    (
        "DIRT & AGGREGATE INTERCHANGE",
        "DIRT AND AGGREGATE INTERCHANGE INC.",
        MatchRule.SAME_NAME_ONE_WITHOUT_LEGAL_FORM,
    ),
]


@pytest.mark.parametrize(("a", "b", "rule"), CERTAIN_PAIRS)
def test_spellings_of_one_company_are_a_certain_match(
    a: str, b: str, rule: MatchRule
) -> None:
    forward, backward = compare_names(a, b), compare_names(b, a)

    assert forward is not None
    assert backward is not None
    assert (forward.rule, backward.rule) == (rule, rule)
    assert forward.certain
    assert forward.score == 100.0


NEAR_PAIRS = [
    (
        "KERR CONTRACTORS OREGON INC.",
        "KERR CONTRACTORS OREGON LLC",
        MatchRule.SAME_NAME_OTHER_LEGAL_FORM,
        100.0,
    ),
    (
        "KERR CONTRACTORS OREGON LLC",
        "KERR CONTRACTORS OREGON LCC",
        MatchRule.SAME_NAME_MISSPELT_LEGAL_FORM,
        100.0,
    ),
    (
        "KERR CONTRACTORS OREGON INC.",
        "KERR CONTRACTORS OREGON LCC",
        MatchRule.SAME_NAME_MISSPELT_LEGAL_FORM,
        100.0,
    ),
    (
        "KERR CONTRACTORS OREGON",
        "KERR CONTRACTORS OREGON LCC",
        MatchRule.SAME_NAME_MISSPELT_LEGAL_FORM,
        100.0,
    ),
    (
        "GOODFELLOW BROS INC.",
        "GOODFELLOW BROS LLC",
        MatchRule.SAME_NAME_OTHER_LEGAL_FORM,
        100.0,
    ),
    ("GOODFELLA BROS INC.", "GOODFELLOW BROS INC.", MatchRule.SIMILAR_NAME, 84.2),
    ("GOODFELLA BROS INC.", "GOODFELLOW BROS LLC", MatchRule.SIMILAR_NAME, 84.2),
    ("GOODFELLOW BROS LLC", "GOODFELLOWS BROS LLC", MatchRule.SIMILAR_NAME, 95.2),
    ("GOODFELLA BROS INC.", "GOODFELLOWS BROS LLC", MatchRule.SIMILAR_NAME, 80.0),
]


@pytest.mark.parametrize(("a", "b", "rule", "score"), NEAR_PAIRS)
def test_perhaps_the_same_company_is_a_near_match_with_its_score(
    a: str, b: str, rule: MatchRule, score: float
) -> None:
    forward, backward = compare_names(a, b), compare_names(b, a)

    assert forward is not None
    assert backward is not None
    assert (forward.rule, backward.rule) == (rule, rule)
    assert not forward.certain
    assert (forward.score, backward.score) == (score, score)


@pytest.mark.parametrize(
    ("a", "b", "score"),
    [
        # A shared trade word makes the whole names look alike (87.5), the
        # parts that tell the firms apart do not.
        ("PHK CONSTRUCTION LLC", "TEK CONSTRUCTION INC.", 33.3),
        # The highest-scoring pair of different firms in the bid tabs.
        ("NORTHEAST ELECTRIC LLC", "NORTHSTAR ELECTRICAL CONTRACTORS INC.", 64.0),
        ("COFFMAN EXCAVATION", "WEITMAN EXCAVATION", 42.9),
        ("EMERY & SONS", "MCCLURE AND SONS INC.", 33.3),
    ],
)
def test_different_companies_do_not_match(a: str, b: str, score: float) -> None:
    assert compare_names(a, b) is None
    assert name_score(parse_name(a), parse_name(b)) == score


def test_one_tax_id_is_one_company_whatever_the_names() -> None:
    match = compare_names(
        "Harbour Civil Ltd",
        "HCE Holdings PLC",
        tax_id_a="GB1234567",
        tax_id_b="GB1234567",
    )

    assert match is not None
    assert match.rule is MatchRule.SAME_TAX_ID
    assert match.certain


def test_one_name_under_two_tax_ids_is_only_near() -> None:
    match = compare_names(
        "Harbour Civil Ltd",
        "HARBOUR CIVIL LIMITED",
        tax_id_a="GB1234567",
        tax_id_b="GB7654321",
    )

    assert match is not None
    assert match.rule is MatchRule.SAME_NAME_OTHER_TAX_ID
    assert not match.certain


def test_a_tax_id_on_one_side_only_leaves_the_name_rules_in_force() -> None:
    match = compare_names("NUTTER CORP.", "NUTTER CORPORATION", tax_id_a="US123")

    assert match is not None
    assert match.rule is MatchRule.SAME_NAME


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("GOODFELLA BROS INC.", "GOODFELLOW BROS INC."),
        ("KERR CONTRACTORS OREGON INC.", "KERR CONTRACTORS OREGON LLC"),
    ],
)
def test_near_names_under_two_tax_ids_are_two_companies(a: str, b: str) -> None:
    assert compare_names(a, b, tax_id_a="US111", tax_id_b="US222") is None
