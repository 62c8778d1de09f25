"""Annex C (regulatory traceability): only the requirements that apply to this arrangement, marked informative,
each source cited once under a short key, and no column too narrow to read (issue 14 item 5)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.library.context import build_context
from qa_builder.library.lint import unstated_verification
from qa_builder.library.loader import load_library
from qa_builder.library.select import condition_holds
from qa_builder.library.sources import SourceIndex, split_source
from qa_builder.models.agreement import UNVERIFIED_MARK
from qa_builder.models.library import ClauseLibrary, Requirement, Source
from qa_builder.render.docx import default_template_path
from tests.arrangements.agreement_text import agreement_and_text
from tests.conftest import DEMO_EXAMPLE, EXAMPLES, ROOT

US_ONLY = EXAMPLES / "us-api-cmo.yaml"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
#: ~20 characters of 9 pt Calibri (about 4.3 pt each) plus the cell's left and right padding, in cm
MIN_COLUMN_CM = 3.5


@pytest.fixture(scope="module")
def library() -> ClauseLibrary:
    return load_library()


def test_a_us_only_agreement_has_no_eu_rows(library: ClauseLibrary) -> None:
    """Before: every requirement an included clause cites was a row, so a US-only agreement carried EU rows.

    Gaps are allowed: coverage is `check`'s test; this one is about what Annex C lists."""
    answers = load_answers(US_ONLY).answers
    assert {m for p in answers.products for m in p.markets} == {"US"}
    agreement = prepare_agreement(load_answers(US_ONLY), library, allow_gaps=True)
    cited = {ref for s in agreement.sections for c in s.clauses for ref in c.references}
    eu_cited = {ref for ref in cited if ref.startswith("EU")}
    assert eu_cited, "the test needs a US-only agreement whose clauses also cite EU requirements"
    rows = {t.requirement_id for t in agreement.traceability}
    assert not {r for r in rows if r.startswith("EU")}, rows


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_rows_are_exactly_the_requirements_that_apply(library: ClauseLibrary, example: Path) -> None:
    answers_file = load_answers(example)
    context = build_context(answers_file.answers, library.clocks)
    applies = [r.id for r in library.requirements if condition_holds(r.applies_when, context, r.id)]
    agreement = prepare_agreement(answers_file, library, allow_gaps=True)
    assert [t.requirement_id for t in agreement.traceability] == applies


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_annex_c_cites_no_internal_reference(library: ClauseLibrary, example: Path) -> None:
    """Annex C is read by the counterparty and inspectors: it names instruments, never the project's own notes
    (it printed 'Practice (DOMAIN.md TYP.inspection-notice)')."""
    agreement = prepare_agreement(load_answers(example), library, allow_gaps=True)
    printed = [row.citation for row in agreement.traceability] + [s.citation for s in agreement.sources]
    assert not [text for text in printed if re.search(r"DOMAIN|TYP\.|\.md\b", text)]


def test_each_source_is_listed_once_and_rows_use_its_short_key(library: ClauseLibrary) -> None:
    agreement = prepare_agreement(load_answers(DEMO_EXAMPLE), library, allow_gaps=True)
    keys = [s.key for s in agreement.sources]
    assert len(keys) == len(set(keys))
    for row in agreement.traceability:
        for part in row.citation.split("; "):
            assert any(part == k or part.startswith(k + " ") for k in keys), (row.requirement_id, part)
    long_citations = [s.citation for s in agreement.sources if len(s.citation) > 60]
    assert long_citations, "the demo cites long instrument titles"
    for row in agreement.traceability:  # a title is printed once, in the list, never in a row
        assert not any(c in row.citation for c in long_citations), row.citation
    used = {k for row in agreement.traceability for k in keys if k in row.citation}
    assert used == set(keys), "the list names only sources the rows cite"


def test_every_source_of_the_bundled_library_has_a_key(library: ClauseLibrary) -> None:
    """A requirement added with a source sources.yaml does not know would be listed under 'Ref. n'."""
    index = SourceIndex(library.sources)
    for requirement in library.requirements:
        index.cite(requirement.source)
    assert index.unmatched() == []


def test_source_parts_and_provisions() -> None:
    assert split_source("FDA 'A; B' (Oct 2006; Rev 1) §2; 21 CFR 211.22(a)") == [
        "FDA 'A; B' (Oct 2006; Rev 1) §2", "21 CFR 211.22(a)"]
    index = SourceIndex([Source(key="21 CFR", citation="Title 21 CFR", prefixes=["21 CFR"]),
                         Source(key="ICH Q7", citation="ICH Q7 guide", prefixes=["ICH Q7"], before_number="§"),
                         Source(key="EU GMP Annex 1", citation="Annex 1", prefixes=["EudraLex Vol 4 Annex 1"])])
    assert [c.short for c in index.cite("21 CFR 211.22(a); ICH Q7 16.12")] == ["21 CFR 211.22(a)", "ICH Q7 §16.12"]
    annex16 = index.cite("EudraLex Vol 4 Annex 16")  # 'Annex 1' is not a prefix of 'Annex 16'
    assert [c.short for c in annex16] == ["Ref. 1"] and index.unmatched() == ["EudraLex Vol 4 Annex 16"]
    assert index.used() == [("21 CFR", "Title 21 CFR"), ("ICH Q7", "ICH Q7 guide"),
                            ("Ref. 1", "EudraLex Vol 4 Annex 16")]
    directive = Source(key="Dir 2001/83/EC", citation="Directive 2001/83/EC", prefixes=["Directive 2001/83/EC"])
    continued = SourceIndex([directive])
    assert [c.short for c in continued.cite("Directive 2001/83/EC Art 46b(2); Art 52a(1)")] == [
        "Dir 2001/83/EC Art 46b(2)", "Dir 2001/83/EC Art 52a(1)"]
    guidance = SourceIndex([Source(key="FDA QA Guidance", citation="FDA QA guidance", prefixes=["FDA guidance §"])])
    assert [c.short for c in guidance.cite("FDA guidance §IV.B.4.a")] == ["FDA QA Guidance §IV.B.4.a"]
    assert [c.short for c in guidance.cite("FDA guidance 'Control of Nitrosamine Impurities'")] == ["Ref. 1"]


def test_the_docx_annex_says_it_is_informative_and_lists_sources_once(library: ClauseLibrary) -> None:
    agreement, text = agreement_and_text(DEMO_EXAMPLE, library, allow_gaps=True)
    annex = text[text.index("ANNEX C."):text.index("SIGNATURES")]
    assert "informative and not contractual" in annex
    header = "Requirement | Source | Clauses"
    assert header in annex and "Key | Source" in annex
    sources = annex[annex.index("Key | Source"):]
    for source in agreement.sources:
        assert f"{source.key} | {source.citation}" in sources
        assert annex.count(source.citation) == 1, source.citation


def _annex_c_widths_cm() -> list[list[float]]:
    with zipfile.ZipFile(default_template_path()) as package:
        root = etree.fromstring(package.read("word/document.xml"))
    found = []
    for table in root.iter(f"{W}tbl"):
        header = " ".join(t.text or "" for t in next(table.iter(f"{W}tr")).iter(f"{W}t"))
        if header in ("Requirement Source Clauses", "Key Source"):
            found.append([int(col.get(f"{W}w")) / 567 for col in table.iter(f"{W}gridCol")])
    return found


def test_no_annex_c_column_is_narrower_than_about_20_characters() -> None:
    docx_tables = _annex_c_widths_cm()
    assert len(docx_tables) == 2
    typst = (ROOT / "qa_builder" / "render" / "typeset.typ").read_text(encoding="utf-8")
    annex = typst[typst.index("ANNEX C."):typst.index("SIGNATURES")]
    typst_tables = [[float(w) for w in m.split(",") if w.strip()]
                    for m in re.findall(r"#data-table\(\(([\d., ]+)\)", annex)]
    assert len(typst_tables) == 2
    for widths in docx_tables + typst_tables:
        assert min(widths) >= MIN_COLUMN_CM - 0.05, widths
        assert abs(sum(widths) - 16.6) < 0.1, widths  # the text width


def test_a_requirement_that_does_not_say_it_was_verified_is_marked_unverified(library: ClauseLibrary) -> None:
    """Before: `verified` defaulted to true, so ~90 rows never checked against their primary text printed unmarked
    while the legend says only marked sources were not checked (review6 MAJOR). Now a row is unmarked only when
    requirements.yaml says `verified: true`."""
    agreement = prepare_agreement(load_answers(US_ONLY), library, allow_gaps=True)
    assert Requirement(id="X", source="21 CFR 1.1", summary="s").verified is False  # no key: unverified
    rows = {r.requirement_id: r for r in agreement.traceability}
    requirements = {r.id: r for r in library.requirements}
    for requirement_id, trace in rows.items():
        assert trace.citation.endswith(UNVERIFIED_MARK) != requirements[requirement_id].verified, requirement_id
    assert any(r.citation.endswith(UNVERIFIED_MARK) for r in rows.values())
    assert any(not r.citation.endswith(UNVERIFIED_MARK) for r in rows.values())


def test_every_bundled_requirement_states_whether_it_was_verified_and_where() -> None:
    """The default decides nothing silently: each row of requirements.yaml says verified true or false, with a note
    saying where the text was read or why it was not."""
    import yaml

    rows = yaml.safe_load((ROOT / "clause_library" / "requirements.yaml").read_text(encoding="utf-8"))["requirements"]
    unstated = [r["id"] for r in rows if not isinstance(r.get("verified"), bool)]
    unexplained = [r["id"] for r in rows if not (r.get("verification_note") or "").strip()]
    assert unstated == [] and unexplained == []


def test_library_check_names_a_requirement_that_does_not_say_whether_it_was_verified(library: ClauseLibrary) -> None:
    silent = Requirement.model_validate({"id": "X-SILENT", "source": "21 CFR 1.1", "summary": "s"})
    stated = Requirement.model_validate({"id": "X-STATED", "source": "21 CFR 1.1", "summary": "s", "verified": False,
                                         "verification_note": "not read"})
    edited = library.model_copy(update={"requirements": [*library.requirements, silent, stated]})
    assert [f.line() for f in unstated_verification(edited)] == [
        "clause 'requirements' (every arrangement): requirement 'X-SILENT' does not say whether its source was "
        "checked against the primary text: add verified: true or false, with a verification_note"]
    assert unstated_verification(library) == []
