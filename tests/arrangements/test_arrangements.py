"""The arrangement suite (issue 14 item 4): answers files across product type x market x acceptor kind x release
model, each with "must say" and "must not say" assertions on the rendered agreement, written from the primary
sources they name (the sidecar `<name>.expect.yaml` beside each case). Each case must also pass `check` with no
findings, which includes `library coverage` (a coverage gap is the error QA-COV-001).

The text is the rendered DOCX (docxtpl, no LibreOffice): every paragraph, including those inside the clauses'
content controls, and every table row (annexes A-C and signatures included), as a reader sees it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from qa_builder.answers.load import load_answers
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.models.library import ClauseLibrary
from qa_builder.review.checks import review_answers
from tests.arrangements.agreement_text import agreement_and_text

HERE = Path(__file__).resolve().parent
EXPECTATIONS = sorted(HERE.glob("*.expect.yaml"))

#: the cases of the issue's "What was seen" (and its item 4 list) the suite must hold, by `covers` tag
REQUIRED_CASES = {
    "eu-imp-clinical-supply", "eu-api-third-country", "us-bla-drug-substance", "eu-acceptor-qp-certification",
    "uk-only-sponsor-release", "ch", "jp-us-sterile", "product-a-us-product-b-eu", "contract-lab-stability",
    "ca", "au", "kr", "biological-drug-product-us-eu", "otc",
}
#: the bundled examples the issue names, each also a case of this suite
EXAMPLES = {"eu-api-third-country.yaml", "us-bla-drug-substance.yaml", "eu-imp-clinical-supply.yaml",
            "uk-ch-finished-product.yaml", "jp-us-sterile.yaml"}


class Assertion(BaseModel):
    """One pattern (a Python regular expression) and the primary source it is written from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    why: str
    source: str
    verified: bool = Field(default=True, description="False when the source's substance was not confirmed against "
                                                     "the primary text (REGULATORY-FACTS UNVERIFIED rows).")


class Pairing(BaseModel):
    """Patterns that must (or must never) meet in one sentence of the agreement."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patterns: list[str] = Field(min_length=2)
    why: str
    source: str
    verified: bool = True


class Expectation(BaseModel):
    """A case of the suite: the answers file and what its agreement must and must not say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answers: str
    arrangement: str
    covers: list[str] = Field(default_factory=list)
    must_say: list[Assertion] = Field(default_factory=list)
    must_not_say: list[Assertion] = Field(default_factory=list)
    together: list[Pairing] = Field(default_factory=list)
    never_together: list[Pairing] = Field(default_factory=list)


def _expectation(path: Path) -> Expectation:
    return Expectation.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _answers_path(path: Path) -> Path:
    return (path.parent / _expectation(path).answers).resolve()


def _name(path: Path) -> str:
    return path.name.removesuffix(".expect.yaml")


@cache
def _library() -> ClauseLibrary:
    return load_library()


@cache
def _rendered(path: Path) -> tuple[Agreement, str]:
    return agreement_and_text(_answers_path(path), _library(), allow_gaps=True)  # gaps: see the check test


def _sentences(text: str) -> list[str]:
    """Each line (paragraph or table row) split into sentences at '. ' and '; ' (no sentence spans two lines);
    an abbreviation such as "U.S." or "e.g." does not end a sentence."""
    return [s for line in text.splitlines() for s in re.split(_SENTENCE_END, line) if s.strip()]


_SENTENCE_END = r"(?<![A-Z]\.[A-Z]\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.;])\s+"


Kind = Literal["must_say", "must_not_say", "together", "never_together"]


def _assertions() -> list[tuple[Path, Kind, int]]:
    found: list[tuple[Path, Kind, int]] = []
    for path in EXPECTATIONS:
        expectation = _expectation(path)
        for kind in ("must_say", "must_not_say", "together", "never_together"):
            found += [(path, kind, i) for i in range(len(getattr(expectation, kind)))]  # type: ignore[misc]
    return found


def _assertion_id(case: tuple[Path, Kind, int]) -> str:
    path, kind, index = case
    item = getattr(_expectation(path), kind)[index]
    label = item.pattern if isinstance(item, Assertion) else " + ".join(item.patterns)
    return f"{_name(path)}:{kind}:{re.sub(r'[^A-Za-z0-9/.]+', '_', label)[:40]}"


def test_the_suite_covers_the_matrix() -> None:
    assert len(EXPECTATIONS) >= 15
    covered = {tag for path in EXPECTATIONS for tag in _expectation(path).covers}
    assert covered >= REQUIRED_CASES, sorted(REQUIRED_CASES - covered)
    answers = [load_answers(_answers_path(p)).answers for p in EXPECTATIONS]
    product_types = {str(p.type) for a in answers for p in a.products}
    markets = {str(m) for a in answers for p in a.products for m in p.markets}
    kinds = {a.contract_acceptor.kind for a in answers}
    models = {a.release_model for a in answers} | {
        p.release.model for a in answers for p in a.products if p.release is not None and p.release.model}
    assert product_types >= {"api", "biological_drug_substance", "drug_product", "sterile_drug_product",
                             "otc_drug_product", "biological_drug_product", "investigational"}, product_types
    assert markets >= {"US", "EU", "UK", "CH", "JP", "CA", "AU", "KR"}, markets
    assert kinds == {"cmo", "cdmo", "contract_laboratory"}
    assert models == {"cmo_release_with_sponsor_secondary", "sponsor_release", "qp_certification"}
    certifiers = {a.release.certifier for a in answers} | {
        p.release.certifier for a in answers for p in a.products if p.release is not None}
    assert {"sponsor", "contract_acceptor"} <= certifiers


def test_no_application_number_names_two_products() -> None:
    """A regulator reading two cases with one NDA number for two products takes the fixtures as careless (review4)."""
    owner: dict[str, tuple[str, str]] = {}
    for path in EXPECTATIONS:
        for product in load_answers(_answers_path(path)).answers.products:
            for number in product.application_numbers:
                key = re.sub(r"\s*\(.*\)$", "", number).strip()
                seen = owner.setdefault(key, (product.name, path.name))
                assert seen[0] == product.name, f"{key}: {seen[0]} ({seen[1]}) and {product.name} ({path.name})"


def test_the_named_examples_are_cases_of_the_suite() -> None:
    answers = {_answers_path(p) for p in EXPECTATIONS}
    for name in EXAMPLES:
        assert (HERE.parent.parent / "examples" / name).resolve() in answers, name


def test_every_assertion_names_its_source() -> None:
    for path in EXPECTATIONS:
        expectation = _expectation(path)
        for item in [*expectation.must_say, *expectation.must_not_say, *expectation.together,
                     *expectation.never_together]:
            assert item.source.strip() and item.why.strip(), (path.name, item)
            patterns = [item.pattern] if isinstance(item, Assertion) else item.patterns
            for pattern in patterns:
                re.compile(pattern)


@pytest.mark.parametrize("path", EXPECTATIONS, ids=_name)
def test_the_arrangement_passes_check_and_coverage(path: Path) -> None:
    """`check` reports nothing: no review finding and no coverage gap (QA-COV-001)."""
    findings = review_answers(load_answers(_answers_path(path)), _library())
    assert findings == [], "\n".join(f"{f.id} {f.severity} {f.field}: {f.message}" for f in findings)


@pytest.mark.parametrize("case", _assertions(), ids=_assertion_id)
def test_the_agreement_says_what_the_law_requires(case: tuple[Path, Kind, int]) -> None:
    path, kind, index = case
    _agreement, text = _rendered(path)
    item = getattr(_expectation(path), kind)[index]
    where = f"{_answers_path(path).name}: {item.why} [{item.source}]"
    if isinstance(item, Assertion):
        match = re.search(item.pattern, text, re.MULTILINE)
        if kind == "must_say":
            assert match is not None, f"the agreement never says /{item.pattern}/: {where}"
        else:
            assert match is None, (f"the agreement says {match.group(0)!r} (/{item.pattern}/) in: "
                                   f"{_line_of(text, match.start())!r}: {where}")
        return
    hits = [s for s in _sentences(text) if all(re.search(p, s) for p in item.patterns)]
    if kind == "together":
        assert hits, f"no sentence says all of {item.patterns}: {where}"
    else:
        assert not hits, f"{len(hits)} sentence(s) say all of {item.patterns}, e.g. {hits[0][:300]!r}: {where}"


def _line_of(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start:end if end >= 0 else None]
    return line if len(line) <= 300 else line[max(0, position - start - 150):position - start + 150]
