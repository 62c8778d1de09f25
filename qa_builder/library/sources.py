"""Annex C's citations: each requirement's source as short keys plus provisions, and each instrument once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa_builder.models.library import Source

AUTO_KEY = "Ref. {n}"
"""Key given to a source part that no catalogue entry (sources.yaml) matches, numbered in order of first use."""

_OPEN, _CLOSE = "([", ")]"
_PROVISION_ONLY = re.compile(r"^(Art\b|Art\.|Articles?\b|regs?\b|regs?\.|Sch\b|Schedule\b|para\b|paras\b|§|section\b|"
                             r"s\s\d|\d|\()")
"""A part that names only a provision ("Art 10(3)", "Sch 7 para 15(2)") continues the instrument before it."""


@dataclass(frozen=True)
class Citation:
    """One part of a requirement's source: the instrument's key and citation, and the provision within it."""

    key: str
    citation: str
    provision: str

    @property
    def short(self) -> str:
        """What a row of Annex C shows, e.g. '21 CFR 211.22(a)' or 'ICH Q7 §16.12'."""
        return f"{self.key} {self.provision}".strip()


def split_source(source: str) -> list[str]:
    """The parts of a requirement's source: split at ';' outside brackets and quotes, whitespace squashed.

    "A (x; y) §1; B" → ["A (x; y) §1", "B"].
    """
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, char in enumerate(source):
        if char == "'" and (i == 0 or not source[i - 1].isalnum() or quoted):
            quoted = not quoted
        elif not quoted and char in _OPEN:
            depth += 1
        elif not quoted and char in _CLOSE:
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0 and not quoted:
            parts.append(source[start:i])
            start = i + 1
    parts.append(source[start:])
    return [" ".join(p.split()) for p in parts if p.strip()]


class SourceIndex:
    """Splits requirement sources into citations, and remembers each instrument in order of first use."""

    def __init__(self, catalogue: Sequence[Source]) -> None:
        self._prefixes = sorted(((" ".join(prefix.split()).casefold(), source)
                                 for source in catalogue for prefix in source.prefixes),
                                key=lambda item: -len(item[0]))
        self._used: dict[str, str] = {}
        self._auto: dict[str, str] = {}

    def cite(self, source: str) -> list[Citation]:
        """The citations of one requirement's `source` text.

        A part no catalogue prefix matches becomes its own instrument with an automatic key ('Ref. 1', ...),
        so the list of sources still names every instrument once.
        """
        citations: list[Citation] = []
        for part in split_source(source):
            if citations and _PROVISION_ONLY.match(part) and not self._matches(part):
                previous = citations[-1]
                citations.append(Citation(key=previous.key, citation=previous.citation, provision=part))
                continue
            citation = self._match(part)
            self._used.setdefault(citation.key, citation.citation)
            citations.append(citation)
        return citations

    def _matches(self, part: str) -> bool:
        return any(self._fits(prefix, part) for prefix, _source in self._prefixes)

    @staticmethod
    def _fits(prefix: str, part: str) -> bool:
        return part.casefold().startswith(prefix) and (len(part) == len(prefix) or not prefix[-1].isalnum()
                                                       or not part[len(prefix)].isalnum())

    def _match(self, part: str) -> Citation:
        for prefix, source in self._prefixes:
            if self._fits(prefix, part):
                kept = len(prefix) - 1 if prefix.endswith("§") else len(prefix)  # "FDA guidance §" keeps its §
                provision = part[kept:].strip(" ,:")
                if provision[:1].isdigit() and source.before_number:
                    provision = source.before_number + provision
                return Citation(key=source.key, citation=source.citation, provision=provision)
        key = self._auto.setdefault(part, AUTO_KEY.format(n=len(self._auto) + 1))
        return Citation(key=key, citation=part, provision="")

    def used(self) -> list[tuple[str, str]]:
        """(key, citation) of every instrument cited so far, in order of first use."""
        return list(self._used.items())

    def unmatched(self) -> list[str]:
        """The source parts no catalogue entry matched (listed under automatic keys)."""
        return list(self._auto)
