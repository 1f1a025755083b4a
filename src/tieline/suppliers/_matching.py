"""When two spellings are one supplier: the rules, CERTAIN and NEAR.

Names are compared in their normalised form (see `_names`): case,
punctuation, spacing, "&"/AND/"+", initials ("M.J" = "MJ") and legal-form
spellings (CORP. = CORPORATION) never make two names differ. A spelling is
compared with every alias of a known supplier, and with the supplier's tax
ids (its own and those of suppliers merged into it).

CERTAIN: the spelling is that supplier; it is resolved to it and, when new,
kept as an alias. In order of strength:

1. `same-tax-id`: both carry a tax id and the normalised ids are equal
   ("GB 123 4567" = "GB1234567" = "1234567" with country GB).
2. `same-name`: the normalised names are equal, legal form included
   ("K&E EXCAVATING INC." = "K & E EXCAVATING INC.", "NUTTER CORP." =
   "NUTTER CORPORATION", "M.J HUGHES CONSTRUCTION INC." = "MJ HUGHES
   CONSTRUCTION INC."), and the tax ids do not differ (one side or both
   without one).
3. `same-name-one-without-legal-form`: the core names are equal and one side
   names no legal form while the other names one and the same form only
   ("WEITMAN EXCAVATION" = "WEITMAN EXCAVATION LLC"; "KODIAK PACIFIC
   CONSTRUCTION" = "KODIAK PACIFIC CONSTRUCTION CO."), with no misspelt form
   on either side and tax ids that do not differ.

Where rule 1 or 2 holds for several suppliers (possible only when they were
kept apart for their differing tax ids), the one created first is taken, so
that a repeat resolution lands where the first one did. Where rule 3 holds
for several suppliers (say "X INC." and "X LLC" were kept apart), the name
is not certain: each is a NEAR match of rule `same-name-several-suppliers`.

NEAR: perhaps the same supplier. It is not merged: the spelling gets (or
keeps) its own supplier, and the pair goes to a person with its score and
evidence. A person's "same" merges them; "different" keeps them apart, and
the pair is not asked again.

4. `same-name-other-tax-id`: rule 2 or 3 holds by name, but both carry tax
   ids and the ids differ (a typing slip, or two companies of one name).
5. `same-name-other-legal-form`: the core names are equal but the legal
   forms differ ("KERR CONTRACTORS OREGON INC." ~ "KERR CONTRACTORS OREGON
   LLC"; "GOODFELLOW BROS INC." ~ "GOODFELLOW BROS LLC"), and the tax ids do
   not differ.
6. `same-name-misspelt-legal-form`: the core names are equal and one side
   ends in a word one slip from a legal form ("KERR CONTRACTORS OREGON LCC"
   ~ "... LLC" or "... INC."), and the tax ids do not differ.
7. `similar-name`: the name score is at least `NEAR_SCORE` and the tax ids
   do not differ ("GOODFELLA BROS INC." ~ "GOODFELLOW BROS INC.", score 84.2).
   Names that are only near (5, 6, 7) with differing tax ids are two
   companies and are not asked about.

The name score (0-100) is the lower of two rapidfuzz `fuzz.ratio` scores:
one over the core names, one over the cores without their trade words
("CONSTRUCTION", "EXCAVATING", "BROS", ...). The whole-name ratio alone
ranks "PHK CONSTRUCTION LLC" ~ "TEK CONSTRUCTION INC." (87.5) above the real
"GOODFELLA BROS INC." ~ "GOODFELLOWS BROS LLC" (86.7), because the shared
trade word carries it; the trade-word-free ratio alone ranks "NORTHEAST
ELECTRIC LLC" ~ "NORTHSTAR ELECTRICAL CONTRACTORS INC." at 77.8, because most
of the name is dropped. The lower of the two needs both to agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from rapidfuzz import fuzz, process

from tieline.suppliers._names import ParsedName, parse_name

# Chosen on the 60 real contractor spellings of the Port of Portland bid tabs
# (after placeholders and the engineer's estimate are set aside): the lowest
# pair a person would want to see scores 80.0 ("GOODFELLA BROS INC." ~
# "GOODFELLOWS BROS LLC"); the highest pair of different firms scores 64.0
# ("NORTHEAST ELECTRIC LLC" ~ "NORTHSTAR ELECTRICAL CONTRACTORS INC."). 70
# sits in that gap leaning towards asking: a needless question costs a
# person a minute, a missed one costs a duplicate supplier.
NEAR_SCORE: Final[float] = 70.0


class Certainty(enum.StrEnum):
    """Whether a match makes two spellings one supplier, or only perhaps."""

    CERTAIN = "certain"
    NEAR = "near"


class MatchRule(enum.StrEnum):
    """Which rule of this module's docstring matched two spellings."""

    SAME_TAX_ID = "same-tax-id"
    SAME_NAME = "same-name"
    SAME_NAME_ONE_WITHOUT_LEGAL_FORM = "same-name-one-without-legal-form"
    SAME_NAME_SEVERAL_SUPPLIERS = "same-name-several-suppliers"
    SAME_NAME_OTHER_TAX_ID = "same-name-other-tax-id"
    SAME_NAME_OTHER_LEGAL_FORM = "same-name-other-legal-form"
    SAME_NAME_MISSPELT_LEGAL_FORM = "same-name-misspelt-legal-form"
    SIMILAR_NAME = "similar-name"

    @property
    def certainty(self) -> Certainty:
        """Whether this rule alone makes two spellings one supplier."""
        return Certainty.CERTAIN if self in _CERTAIN_RULES else Certainty.NEAR


# Strongest first: a match of an earlier rule wins over a later one.
_CERTAIN_RULES: Final[tuple[MatchRule, ...]] = (
    MatchRule.SAME_TAX_ID,
    MatchRule.SAME_NAME,
    MatchRule.SAME_NAME_ONE_WITHOUT_LEGAL_FORM,
)


@dataclass(frozen=True, slots=True)
class SupplierView:
    """What matching knows of a supplier: its spellings and tax ids."""

    supplier_id: str
    rank: int
    names: tuple[ParsedName, ...]
    tax_ids: frozenset[str]

    @property
    def legal_forms(self) -> frozenset[str]:
        """Every legal form the supplier was named with."""
        return frozenset(name.legal_form for name in self.names if name.legal_form)


@dataclass(frozen=True, slots=True)
class Match:
    """A spelling measured against one supplier: the rule, score and alias."""

    view: SupplierView
    rule: MatchRule
    score: float
    alias: ParsedName

    @property
    def certain(self) -> bool:
        """True when the rule alone makes the spelling this supplier."""
        return self.rule.certainty is Certainty.CERTAIN


class SupplierIndex:
    """The suppliers a spelling could match, found without scoring them all.

    A spelling can only match a supplier that shares its tax id, shares a
    core name with one of its aliases, or has an alias that reaches
    `NEAR_SCORE` on both parts of the name score; those lookups give the
    candidates, and `compare` decides among them. The fuzzy lookup runs
    rapidfuzz's batch scorer over the distinctive parts first (few pass),
    then checks the whole core of those that did.
    """

    def __init__(self) -> None:
        self._views: dict[str, SupplierView] = {}
        self._by_tax_id: dict[str, set[str]] = {}
        self._by_core: dict[str, set[str]] = {}
        self._cores: list[str] = []
        self._distinctives: list[str] = []
        self._owners: list[str] = []

    def put(self, view: SupplierView) -> None:
        """Add a supplier's view, or replace it with one that has more aliases."""
        self._views[view.supplier_id] = view
        for tax_id in view.tax_ids:
            self._by_tax_id.setdefault(tax_id, set()).add(view.supplier_id)
        for name in view.names:
            owners = self._by_core.setdefault(name.core, set())
            if view.supplier_id not in owners:
                owners.add(view.supplier_id)
                self._cores.append(name.core)
                self._distinctives.append(name.distinctive)
                self._owners.append(view.supplier_id)

    def candidates(self, name: ParsedName, tax_id: str | None) -> list[SupplierView]:
        """Every supplier `compare` could find a match with."""
        ids = set(self._by_core.get(name.core, ()))
        if tax_id is not None:
            ids |= self._by_tax_id.get(tax_id, set())
        ids.update(self._owners[index] for index in self._near_aliases(name))
        return [self._views[supplier_id] for supplier_id in sorted(ids)]

    def _near_aliases(self, name: ParsedName) -> list[int]:
        # One below the threshold, since name_score rounds to one decimal.
        cutoff = NEAR_SCORE - 1
        near = process.extract(
            name.distinctive,
            self._distinctives,
            scorer=fuzz.ratio,
            score_cutoff=cutoff,
            limit=None,
        )
        return [
            index
            for _part, _score, index in near
            if fuzz.ratio(name.core, self._cores[index]) >= cutoff
        ]


def name_score(a: ParsedName, b: ParsedName) -> float:
    """How alike two names are, 0 to 100, legal forms left out."""
    whole = fuzz.ratio(a.core, b.core)
    distinctive = fuzz.ratio(a.distinctive, b.distinctive)
    return round(min(whole, distinctive), 1)


def compare(name: ParsedName, tax_id: str | None, view: SupplierView) -> Match | None:
    """The rule under which `name` (with `tax_id`) matches `view`, if any."""
    alias, score = _closest_alias(name, view)
    if tax_id is not None and tax_id in view.tax_ids:
        return Match(view, MatchRule.SAME_TAX_ID, score, alias)
    tax_conflict = tax_id is not None and bool(view.tax_ids)
    rule = _name_rule(name, view)
    if rule is not None and tax_conflict:
        # Only a name that alone would be certain is worth a look with
        # differing tax ids; a near name with them is another company.
        rule = MatchRule.SAME_NAME_OTHER_TAX_ID if rule in _CERTAIN_RULES else None
    if rule is not None:
        return Match(view, rule, score, _same_name_alias(name, view))
    if not tax_conflict and score >= NEAR_SCORE:
        return Match(view, MatchRule.SIMILAR_NAME, score, alias)
    return None


def compare_names(
    a: str, b: str, *, tax_id_a: str | None = None, tax_id_b: str | None = None
) -> Match | None:
    """The rule under which spelling `a` matches spelling `b`, if any.

    Tax ids must already be normalised (`normalise_tax_id`).
    """
    view = SupplierView(
        supplier_id="",
        rank=0,
        names=(parse_name(b),),
        tax_ids=frozenset({tax_id_b} if tax_id_b else ()),
    )
    return compare(parse_name(a), tax_id_a, view)


def choose(matches: list[Match]) -> tuple[Match | None, list[Match]]:
    """The certain match that resolves a spelling, or else the near ones.

    See the module docstring for what happens when several suppliers match.
    """
    for rule in _CERTAIN_RULES:
        tier = sorted((m for m in matches if m.rule is rule), key=_by_rank)
        if len(tier) == 1 or (tier and rule is not _CERTAIN_RULES[-1]):
            return tier[0], []
        if tier:
            matches = [
                Match(m.view, MatchRule.SAME_NAME_SEVERAL_SUPPLIERS, m.score, m.alias)
                if m.rule is rule
                else m
                for m in matches
            ]
    near = [m for m in matches if not m.certain]
    return None, sorted(near, key=lambda m: (-m.score, m.view.rank))


def _by_rank(match: Match) -> int:
    return match.view.rank


def _closest_alias(name: ParsedName, view: SupplierView) -> tuple[ParsedName, float]:
    scored = [
        (name_score(name, alias), index) for index, alias in enumerate(view.names)
    ]
    score, index = max(scored, key=lambda pair: (pair[0], -pair[1]))
    return view.names[index], score


def _same_name_alias(name: ParsedName, view: SupplierView) -> ParsedName:
    exact = [alias for alias in view.names if alias.normalised == name.normalised]
    return (exact or [alias for alias in view.names if alias.core == name.core])[0]


def _name_rule(name: ParsedName, view: SupplierView) -> MatchRule | None:
    """The name-only rule (2, 3, 5 or 6) for `name` against `view`, if any."""
    if any(alias.normalised == name.normalised for alias in view.names):
        return MatchRule.SAME_NAME
    same_core = [alias for alias in view.names if alias.core == name.core]
    if not same_core:
        return None
    if name.misspelt_form or any(alias.misspelt_form for alias in same_core):
        return MatchRule.SAME_NAME_MISSPELT_LEGAL_FORM
    forms = view.legal_forms
    if name.legal_form is None or not forms or forms == {name.legal_form}:
        return MatchRule.SAME_NAME_ONE_WITHOUT_LEGAL_FORM
    return MatchRule.SAME_NAME_OTHER_LEGAL_FORM
