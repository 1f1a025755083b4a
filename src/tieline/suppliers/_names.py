"""Company names brought to one spelling, with the legal form held apart.

A name is normalised in these steps, each a rule of its own:

1. Accents are dropped and letters upper-cased ("Façade" is "FACADE").
2. Apostrophes vanish ("ENGINEER'S" is "ENGINEERS"); "&", "+" and the word
   AND become one "&" token, spaced ("K&E" and "K & E" are "K & E").
3. Every other punctuation mark is a space; runs of spaces are one.
4. Initials are joined: two or more one-letter words in a row are one word
   ("M.J", "M J" and "MJ" are "MJ"; "L.L.C." is "LLC").
5. BROTHERS is written BROS; a leading THE is dropped.
6. Legal-form words are canonicalised wherever they stand (CORPORATION is
   CORP, COMPANY is CO, INCORPORATED is INC, LIMITED is LTD), and up to two
   at the end of the name are held apart as its legal form ("NUTTER
   CORPORATION" is core "NUTTER", legal form "CORP").
7. A last word one typing slip away from a legal-form abbreviation ("LCC",
   "ICN") is held apart as a misspelt legal form: it is not part of the core,
   and it is never taken for the form it resembles.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from rapidfuzz.distance import OSA

# Spellings of legal forms -> the canonical form: the US and UK forms of the
# estates tieline serves today, and the continental ones that are no English
# word. Left out on purpose, because as a name's last word they more often
# mean something else: SA, SPA and AG ("POOL & SPA", "SMITH AG"), NV (Nevada),
# PC, AS, AB, OY.
LEGAL_FORMS: Final[dict[str, str]] = {
    "INC": "INC",
    "INCORPORATED": "INC",
    "CORP": "CORP",
    "CORPORATION": "CORP",
    "CO": "CO",
    "COMPANY": "CO",
    "LLC": "LLC",
    "LTD": "LTD",
    "LIMITED": "LTD",
    "LLP": "LLP",
    "LP": "LP",
    "PLLC": "PLLC",
    "PLC": "PLC",
    "PTY": "PTY",
    "GMBH": "GMBH",
    "SARL": "SARL",
    "SRL": "SRL",
    "BV": "BV",
}

# Abbreviations whose one-slip misspellings ("LCC" for LLC) are recognised.
# Two-letter forms are left out: one slip away from them is half the alphabet.
_MISSPELLABLE_FORMS: Final[tuple[str, ...]] = (
    "INC",
    "LLC",
    "LTD",
    "CORP",
    "PLC",
    "LLP",
    "PLLC",
    "GMBH",
)

# Words that are written in more than one way inside a name.
_WORD_SYNONYMS: Final[dict[str, str]] = {"AND": "&", "BROTHERS": "BROS"}

# Words that say what a firm does rather than which firm it is. Two firms that
# share only these ("PHK CONSTRUCTION" and "TEK CONSTRUCTION") are not alike;
# the matching rules compare names with and without them.
TRADE_WORDS: Final[frozenset[str]] = frozenset(
    {
        "&",
        "ASPHALT",
        "BROS",
        "BUILDERS",
        "BUILDING",
        "CIVIL",
        "COMMERCIAL",
        "CONCRETE",
        "CONSTRUCTION",
        "CONSTRUCTORS",
        "CONTRACTING",
        "CONTRACTOR",
        "CONTRACTORS",
        "ELECTRIC",
        "ELECTRICAL",
        "ENGINEERING",
        "ENTERPRISES",
        "EXCAVATING",
        "EXCAVATION",
        "GROUP",
        "INDUSTRIES",
        "INFRASTRUCTURE",
        "MARKING",
        "MECHANICAL",
        "PAVEMENT",
        "PAVING",
        "PLUMBING",
        "ROOFING",
        "SERVICE",
        "SERVICES",
        "SONS",
    }
)

_APOSTROPHES = re.compile(r"['\u2018\u2019`\u00b4]")
_AMPERSANDS = re.compile(r"[&+]")
_OTHER_MARKS = re.compile(r"[^A-Z0-9&]+")


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A company name as the matching rules see it."""

    written: str
    normalised: str
    core: str
    legal_form: str | None
    misspelt_form: str | None

    @property
    def distinctive(self) -> str:
        """The core without its trade words: the part that tells firms apart."""
        words = [word for word in self.core.split() if word not in TRADE_WORDS]
        return " ".join(words) or self.core


def normalise_name(name: str) -> str:
    """The one spelling of `name`: "K&E Excavating, Inc." is "K & E EXCAVATING INC"."""
    return parse_name(name).normalised


# An import names the same few suppliers on thousands of rows; a parsed name
# is immutable, so a cache is safe.
@lru_cache(maxsize=8192)
def parse_name(name: str) -> ParsedName:
    """Split `name` into its normalised core, legal form and misspelt form."""
    words = _words(name)
    core, form = _split_legal_form(words)
    misspelt = None if form else _misspelt_form(core)
    if misspelt is not None:
        core = core[:-1]
    core = _strip_dangling_ampersands(core)
    tail = form or ([misspelt] if misspelt else [])
    return ParsedName(
        written=" ".join(name.split()),
        normalised=" ".join([*core, *tail]),
        core=" ".join(core),
        legal_form=" ".join(form) or None,
        misspelt_form=misspelt,
    )


def _words(name: str) -> list[str]:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).upper()
    text = _APOSTROPHES.sub("", text)
    text = _AMPERSANDS.sub(" & ", text)
    text = _OTHER_MARKS.sub(" ", text)
    words = _join_initials(text.split())
    words = [_WORD_SYNONYMS.get(word, word) for word in words]
    words = [LEGAL_FORMS.get(word, word) for word in words]
    if len(words) > 1 and words[0] == "THE":
        words = words[1:]
    return words


def _join_initials(words: list[str]) -> list[str]:
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if run:
            joined.extend(["".join(run)] if len(run) > 1 else run)
            run = []
        if word:
            joined.append(word)
    return joined


def _split_legal_form(words: list[str]) -> tuple[list[str], list[str]]:
    # Up to two trailing forms ("CO INC", "PTY LTD"); the core keeps a word.
    cut = len(words)
    while cut > 1 and len(words) - cut < 2 and words[cut - 1] in LEGAL_FORMS:
        cut -= 1
    return words[:cut], words[cut:]


def _misspelt_form(core: list[str]) -> str | None:
    if len(core) < 2:
        return None
    last = core[-1]
    if len(last) < 3 or not last.isalpha() or last in LEGAL_FORMS:
        return None
    # OSA counts a swap of neighbours as one slip ("ICN" for INC).
    if any(OSA.distance(last, form) <= 1 for form in _MISSPELLABLE_FORMS):
        return last
    return None


def _strip_dangling_ampersands(core: list[str]) -> list[str]:
    # "SMITH & CO" is core "SMITH", form "CO"; the "&" belonged to the form.
    while len(core) > 1 and core[-1] == "&":
        core = core[:-1]
    return core
