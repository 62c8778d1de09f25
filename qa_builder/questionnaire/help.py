"""Help for the interview's questions: what each answer decides, and the verified sources that make it matter.

The texts and the requirement / jurisdiction-rule ids live in ``questionnaire_help.yaml`` beside this module;
the citations themselves come from the clause library (requirements.yaml, sources.yaml, jurisdictions.yaml),
shown the way Annex C shows them. `qa-builder questionnaire` and the web interview both ask `question_help`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import get_args

import yaml
from pydantic import Field, ValidationError

from qa_builder.errors import LibraryError
from qa_builder.library.sources import AUTO_KEY, SourceIndex
from qa_builder.models.answers import Market
from qa_builder.models.jurisdictions import CertificationRule, Jurisdictions, Rule
from qa_builder.models.library import ClauseLibrary, Requirement
from qa_builder.models.text import LibraryModel

HELP_FILE = Path(__file__).with_name("questionnaire_help.yaml")
UNVERIFIED = "unverified"
SOURCES_ON_ONE_LINE = 4
"""Up to this many citations print on one line; more print one per line (a web page lists them folded)."""
ALL_MARKETS = "all markets"
_AUTO_KEY = re.compile("^" + re.escape(AUTO_KEY).replace(r"\{n\}", r"\d+") + "$")


class HelpEntry(LibraryModel):
    """One entry of questionnaire_help.yaml: the questions it explains and what it cites."""

    keys: list[str] = Field(min_length=1, description="Question keys without list positions, "
                                                      "e.g. 'products.markets'.")
    decides: str = Field(min_length=1, description="What the answer decides, in plain words.")
    requirements: list[str] = Field(default_factory=list, description="Verified requirement ids.")
    rules: list[str] = Field(default_factory=list, description="Jurisdiction rules: 'group' or 'group.rule_id'.")


class HelpFile(LibraryModel):
    """The whole of questionnaire_help.yaml."""

    questions: list[HelpEntry] = Field(min_length=1)


@dataclass(frozen=True)
class HelpCitation:
    """One cited source: a requirement's source as Annex C shows it, for some markets where a rule says so.

    Attributes:
        requirement_id: the requirements.yaml id the citation comes from.
        text: the short citation, e.g. 'Dir 2001/83/EC Art. 51(1)-(3)'.
        markets: the markets a jurisdiction rule applies it to; empty for a requirement cited directly.
        verified: False when requirements.yaml marks the provision unverified.
        instruments: (key, full citation) of each instrument `text` names (sources.yaml).
    """

    requirement_id: str
    text: str
    markets: tuple[str, ...]
    verified: bool
    instruments: tuple[tuple[str, str], ...]

    @property
    def where(self) -> str:
        """The markets it applies to ('EU', 'UK, CH', 'all markets'); '' for a requirement cited directly."""
        if set(self.markets) >= set(get_args(Market)):
            return ALL_MARKETS
        return ", ".join(self.markets)

    @property
    def line(self) -> str:
        """The citation on one line: 'EU: Dir 2001/83/EC Art. 51(1)-(3)', '… (unverified)' where it is."""
        where = f"{self.where}: " if self.where else ""
        return f"{where}{self.text}{'' if self.verified else f' ({UNVERIFIED})'}"


@dataclass(frozen=True)
class QuestionHelp:
    """What an answer decides and the sources that make it matter."""

    decides: str
    citations: tuple[HelpCitation, ...]

    @property
    def folded(self) -> bool:
        """Too many citations for one line: they are listed one per line (folded away on a web page)."""
        return len(self.citations) > SOURCES_ON_ONE_LINE

    def lines(self) -> list[str]:
        """The help as plain text lines (the terminal questionnaire prints them)."""
        found = [self.decides]
        if self.folded:
            found.append("Sources:")
            found.extend(f"- {c.line}" for c in self.citations)
        elif self.citations:
            found.append("Sources: " + "; ".join(c.line for c in self.citations))
        return found


def help_key(question_key: str) -> str:
    """The key a question's help is filed under: list positions left out.

    'contract_acceptor.sites[0].activities' -> 'contract_acceptor.sites.activities'.
    """
    return re.sub(r"\[\d+\]", "", question_key)


def question_help(question_key: str) -> QuestionHelp | None:
    """The help of one interview question, by its key (list positions allowed).

    Returns:
        The help, or None when no entry of questionnaire_help.yaml names the question.

    Raises:
        LibraryError: the help file or the bundled clause library cannot be read, or the help cites
            something the library does not hold (tests/test_questionnaire_help.py keeps that from shipping).
    """
    return _bundled_help().get(help_key(question_key))


@functools.cache
def _bundled_help() -> dict[str, QuestionHelp]:
    from qa_builder.library.loader import load_library

    resolved, problems = resolve_help(read_help_file(HELP_FILE), load_library())
    if problems:
        raise LibraryError(problems)
    return resolved


def read_help_file(path: Path) -> HelpFile:
    """Read questionnaire_help.yaml.

    Raises:
        LibraryError: the file is missing, not YAML, or does not follow `HelpFile`.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return HelpFile.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LibraryError(f"{path}: cannot be read ({str(exc).splitlines()[0]})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise LibraryError(f"{path}: {where}: {first['msg']}") from exc


def resolve_help(help_file: HelpFile, library: ClauseLibrary) -> tuple[dict[str, QuestionHelp], list[str]]:
    """Turn the help entries into help per question key, citing the library's requirements and rules.

    Args:
        help_file: the entries of questionnaire_help.yaml.
        library: the clause library whose requirements.yaml, sources.yaml and jurisdictions.yaml are cited.

    Returns:
        (help by question key without list positions, problems). A problem is a line naming the entry and
        what is wrong: a key explained twice, an unknown requirement id or rule, a requirement cited directly
        that requirements.yaml marks unverified, or a source part that no sources.yaml key matches.
    """
    requirements = {r.id: r for r in library.requirements}
    index = SourceIndex(library.sources)
    rules = _rules(library.jurisdictions)
    resolved: dict[str, QuestionHelp] = {}
    problems: list[str] = []
    for number, entry in enumerate(help_file.questions, start=1):
        where = f"{HELP_FILE.name}: questions[{number}] ({entry.keys[0]})"
        citations: list[HelpCitation] = []
        for requirement_id in entry.requirements:
            requirement = requirements.get(requirement_id)
            if requirement is None:
                problems.append(f"{where}: requirement {requirement_id!r} is not in requirements.yaml")
                continue
            if not requirement.verified:
                problems.append(f"{where}: requirement {requirement_id!r} is marked verified: false in "
                                "requirements.yaml; cite a verified one")
            citations.append(_cite(requirement, (), index, where, problems))
        for name in entry.rules:
            found = rules.get(name)
            if found is None:
                problems.append(f"{where}: rule {name!r} is not in jurisdictions.yaml")
                continue
            for rule in found:
                requirement = requirements.get(rule.source)
                if requirement is None:
                    problems.append(f"{where}: rule {name!r} cites {rule.source!r}, not in requirements.yaml")
                    continue
                citations.append(_cite(requirement, tuple(rule.markets), index, where, problems))
        entry_help = QuestionHelp(entry.decides, _merged(citations))
        for key in entry.keys:
            if key in resolved:
                problems.append(f"{where}: question {key!r} is explained by an earlier entry too")
            resolved[key] = entry_help
    return resolved, problems


def _cite(requirement: Requirement, markets: tuple[str, ...], index: SourceIndex, where: str,
          problems: list[str]) -> HelpCitation:
    parts = index.cite(requirement.source)
    for part in parts:
        if _AUTO_KEY.match(part.key):
            problems.append(f"{where}: {requirement.id}'s source part {part.citation!r} matches no key of "
                            "sources.yaml")
    return HelpCitation(requirement_id=requirement.id, text="; ".join(p.short for p in parts), markets=markets,
                        verified=requirement.verified,
                        instruments=tuple(dict.fromkeys((p.key, p.citation) for p in parts)))


def _merged(citations: list[HelpCitation]) -> tuple[HelpCitation, ...]:
    """One citation per requirement, in order of first mention: the markets of the rules citing it joined;
    cited directly (no markets), it holds everywhere."""
    merged: dict[str, HelpCitation] = {}
    for citation in citations:
        before = merged.get(citation.requirement_id)
        if before is None:
            merged[citation.requirement_id] = citation
        else:
            markets = () if not before.markets or not citation.markets else tuple(
                dict.fromkeys(before.markets + citation.markets))
            merged[citation.requirement_id] = replace(before, markets=markets)
    return tuple(merged.values())


def _rules(jurisdictions: Jurisdictions) -> dict[str, Sequence[Rule | CertificationRule]]:
    """Every rule by 'group.id', and every group by its name."""
    groups: dict[str, Sequence[Rule | CertificationRule]] = {
        "gmp_bases": jurisdictions.gmp_bases, "certifications": jurisdictions.certifications,
        "defect_reporting": jurisdictions.defect_reporting, "change_regimes": jurisdictions.change_regimes,
        "retention_minima": jurisdictions.retention_minima, "duties": jurisdictions.duties,
    }
    found: dict[str, Sequence[Rule | CertificationRule]] = dict(groups)
    for name, group in groups.items():
        found.update({f"{name}.{rule.id}": (rule,) for rule in group})
    return found
