"""Parents of codes in a table, by a declarative rule (see `profile`).

Both rules look for the nearest candidate among the codes of the same
import; a code whose candidates are all missing (or, with levels, none is
at a lower level) has no parent.

TODO: candidates come only from the same import, not from codes already in
the store; importing a file of child codes alone (say a company's additions
to MasterFormat) leaves them without parents even when the store holds them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from tieline.intake.profile import HierarchySpec

Node = tuple[str, int | None]


def derive_parents(nodes: Sequence[Node], spec: HierarchySpec) -> list[str | None]:
    """The parent code of each (code, level), in the order given."""
    candidates = _zero_trailing if spec.rule == "zero_trailing" else _drop_segments
    index: dict[str, list[Node]] = defaultdict(list)
    for node in nodes:
        index[_lookup_key(node[0], spec)].append(node)
    return [
        _first_parent(node, candidates(node[0], spec.separator), index)
        for node in nodes
    ]


def _lookup_key(code: str, spec: HierarchySpec) -> str:
    return _significant(code) if spec.rule == "zero_trailing" else code


def _significant(code: str) -> str:
    """The code's letters and digits, trailing zeros dropped: "03 30 00" -> "033"."""
    return "".join(c for c in code if c.isalnum()).rstrip("0")


def _zero_trailing(code: str, _separator: str) -> Iterator[str]:
    # Zeroing the last non-zero digit of "03311313" gives "03311310", whose
    # significant form is the significant form shortened by one, zeros dropped.
    key = _significant(code)
    while key:
        key = key[:-1].rstrip("0")
        yield key


def _drop_segments(code: str, separator: str) -> Iterator[str]:
    parts = code.split(separator)
    while len(parts) > 1:
        parts.pop()
        yield separator.join(parts)


def _first_parent(
    node: Node, candidates: Iterator[str], index: dict[str, list[Node]]
) -> str | None:
    code, level = node
    for candidate in candidates:
        for other, other_level in index.get(candidate, ()):
            if other == code:
                continue
            if level is None or other_level is None or other_level < level:
                return other
    return None
