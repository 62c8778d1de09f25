"""End to end: DOCX + PDF/A with TOC page numbers and empty signature fields, from each PDF engine (Typst, the
default, and LibreOffice); the DOCX opens in real LibreOffice without repair."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import docx
import pypdfium2 as pdfium
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from qa_builder.builds.batch import BatchItem, build_many
from qa_builder.builds.pipeline import BuildSettings
from qa_builder.files import sha256_file
from qa_builder.library.loader import load_library
from qa_builder.render.docx import default_template_path
from tests.conftest import DEMO_EXAMPLE, MINIMAL_ANSWERS
from tests.doctext import docx_text, page_refs, pdf_pages

pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module")
def example_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, BatchItem]:
    """Every example built once with the default engine, two at a time (review errors or gaps would fail)."""
    out = tmp_path_factory.mktemp("examples")
    settings = BuildSettings(out_dir=out, library=load_library(), template=default_template_path())
    return {item.answers: item for item in build_many(EXAMPLE_FILES, settings, jobs=2)}


@pytest.fixture(params=["typst", "libreoffice"])
def any_build(request: pytest.FixtureRequest) -> Path:
    """The minimal build from each PDF engine: Typst (the default) and LibreOffice (--pdf-engine libreoffice)."""
    name = "minimal_build" if request.param == "typst" else "minimal_build_libreoffice"
    build: Path = request.getfixturevalue(name)
    return build


def test_the_default_engine_is_typst_and_libreoffice_converts_the_docx(minimal_build: Path,
                                                                     minimal_build_libreoffice: Path) -> None:
    assert "Creator:         Typst" in _pdfinfo(minimal_build), _pdfinfo(minimal_build)
    assert "LibreOffice" in _pdfinfo(minimal_build_libreoffice), _pdfinfo(minimal_build_libreoffice)


def _pdfinfo(folder: Path) -> str:
    """pdfinfo's report on the folder's PDF (its creator and producer name the engine)."""
    return subprocess.run(["pdfinfo", str(folder / "QA-MIN-1_v1.pdf")], capture_output=True, text=True,
                          check=True).stdout


def test_outputs_and_build_record(any_build: Path) -> None:
    names = sorted(p.name for p in any_build.iterdir())
    assert names == ["QA-MIN-1_v1.build.json", "QA-MIN-1_v1.docx", "QA-MIN-1_v1.pdf"]
    record = json.loads((any_build / "QA-MIN-1_v1.build.json").read_text(encoding="utf-8"))
    assert record["agreement_id"] == "QA-MIN-1" and record["library_version"] == "0.0.1"
    assert [c["id"] + "@" + str(c["version"]) for c in record["clauses"]] == ["scope@2", "audits@1", "release@1"]
    assert record["clauses"][1]["position"] == "preferred"
    assert record["answers_sha256"] == sha256_file(MINIMAL_ANSWERS)
    assert record["template_sha256"] == sha256_file(default_template_path())
    for artefact in record["artefacts"]:
        path = any_build / artefact["file"]
        assert artefact["sha256"] == sha256_file(path)
        assert artefact["size"] == path.stat().st_size
    assert {a["role"] for a in record["artefacts"]} == {"docx", "pdf"}
    assert len(record["model_digest"]) == 64
    assert not list(any_build.glob(".*")), "no staging or temp files left behind"


def test_docx_reads_back_with_escaping_and_unicode(minimal_build: Path) -> None:
    document = docx.Document(str(minimal_build / "QA-MIN-1_v1.docx"))
    # Clause paragraphs sit inside content controls (w:sdt), which python-docx's document.paragraphs skips.
    text = docx_text(minimal_build / "QA-MIN-1_v1.docx")
    assert 'Müller & Søn <Pharma> "AG"' in text
    assert "株式会社テスト製薬" in text
    assert "1.1\tScope" in text and "2.1\tBatch Release" in text
    assert "{{" not in text and "{%" not in text
    header = document.sections[0].header.paragraphs[0].text
    assert "QA-MIN-1" in header and "Version 1" in header
    raci = next(t for t in document.tables if len(t.columns) == 6)
    assert raci.rows[0]._tr.trPr.find(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tblHeader") is not None
    assert [raci.rows[i].cells[2].text for i in (1, 2)] == ["Final batch release", "Execute batch manufacture"]


def test_docx_opens_in_libreoffice_without_repair(minimal_build: Path, tmp_path: Path, converter: Any) -> None:
    # A DOCX LibreOffice cannot open raises ConversionError; the produced PDF proves it opened.
    converter.convert(minimal_build / "QA-MIN-1_v1.docx", tmp_path / "again.pdf")
    assert (tmp_path / "again.pdf").stat().st_size > 10_000


def test_pdf_is_pdfa2b_with_embedded_fonts(any_build: Path) -> None:
    pdf = any_build / "QA-MIN-1_v1.pdf"
    raw = pdf.read_bytes()
    assert re.search(rb"pdfaid:part[>=\"']+2", raw) and re.search(rb"pdfaid:conformance[>=\"']+B", raw)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    assert all(row.split()[-5] == "yes" for row in rows), fonts  # the 'emb' column


def test_pdf_text_headings_clauses_and_toc_page_numbers(any_build: Path) -> None:
    pages = pdf_pages(any_build / "QA-MIN-1_v1.pdf")
    everything = "\n".join(pages)
    for heading in ("QUALITY AGREEMENT", "1. GENERAL", "2. RELEASE", "ANNEX A.", "SIGNATURES"):
        assert heading in everything.replace("\t", " ").replace("  ", " "), heading
    assert "The Sponsor releases." in everything
    assert "株式会社テスト製薬" in everything
    toc = pages[1]
    assert "refreshed when the document is opened" not in toc
    assert re.search(r"GENERAL\.{5,}\s*3", toc), toc
    assert re.search(r"SIGNATURES\.{5,}\s*\d+", toc), toc
    assert re.search(r"Page 2 of \d+", toc)


def test_signature_fields_are_empty_named_and_on_signature_page(any_build: Path) -> None:
    pdf = any_build / "QA-MIN-1_v1.pdf"
    pages = pdf_pages(pdf)
    signature_page = max(i for i, text in enumerate(pages) if "SIGNATURES" in text)
    with pdf.open("rb") as handle:
        reader = PdfFileReader(handle)
        fields = list(enumerate_sig_fields(reader))
        assert [name for name, _value, _ref in fields] == ["sig_sponsor_1", "sig_contract_acceptor_1"]
        pages_in_order = page_refs(reader.root.raw_get("/Pages"))
        assert len(pages_in_order) == len(pages)
        boxes = []
        for _name, value, ref in fields:
            field = ref.get_object()
            assert value is None, "field must be empty"
            assert pages_in_order.index(field.raw_get("/P")) == signature_page
            assert int(field["/F"]) & 4, "printable (PDF/A)"
            boxes.append([float(x) for x in field["/Rect"]])
    document = pdfium.PdfDocument(str(pdf))
    textpage = document[signature_page].get_textpage()
    for box, name in zip(boxes, ["Anna Müller", "山田太郎"], strict=True):
        x1, y1, x2, y2 = box
        assert x2 - x1 > 200 and y2 - y1 > 60
        assert 0 < x1 < x2 < 595 and 0 < y1 < y2 < 842
        searcher = textpage.search(name)
        hit = searcher.get_next()
        assert hit is not None
        nx1, ny1, _nx2, _ny2 = textpage.get_charbox(hit[0])
        assert nx1 < x1, "the field sits right of the signatory's printed details"
        assert y1 < ny1 < y2 + 20, "and level with them"
    document.close()


def test_example_builds_with_default_library(example_builds: dict[Path, BatchItem]) -> None:
    result = example_builds[DEMO_EXAMPLE].result
    assert result is not None
    pdf = next(path for path in result.files if path.suffix == ".pdf")
    pages = pdf_pages(pdf)
    text = "\n".join(pages)
    assert "RESPONSIBILITIES MATRIX" in text
    with pdf.open("rb") as handle:
        assert len(list(enumerate_sig_fields(PdfFileReader(handle)))) >= 2


EXAMPLE_FILES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))


def test_there_are_examples_for_each_common_arrangement() -> None:
    assert {p.name for p in EXAMPLE_FILES} >= {
        "us-eu-drug-product-cmo.yaml", "us-api-cmo.yaml", "us-eu-biologic-cdmo.yaml",
        "sterile-fill-finish-cmo.yaml", "contract-qc-laboratory.yaml", "eu-api-third-country.yaml",
        "us-bla-drug-substance.yaml", "eu-imp-clinical-supply.yaml", "uk-ch-finished-product.yaml",
        "jp-us-sterile.yaml"}


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_example_builds_without_gaps(example_builds: dict[Path, BatchItem], example: Path) -> None:
    item = example_builds[example]
    assert item.error is None, item.error  # review errors or coverage gaps
    result = item.result
    assert result is not None and result.record is not None
    assert result.record.uncovered_requirements == []
    assert result.record.review_findings == []
    pdf = next(path for path in result.files if path.suffix == ".pdf")
    pages = pdf_pages(pdf)
    assert "SIGNATURES" in pages[-1] or "SIGNATURES" in pages[-2]
    with pdf.open("rb") as handle:
        fields = [name for name, _v, _r in enumerate_sig_fields(PdfFileReader(handle))]
    assert fields == result.record.signature_fields


def test_docx_property_elements_follow_the_schema_order(minimal_build: Path) -> None:
    """Word offers to 'repair' files whose property elements are repeated or out of schema order."""
    import runpy
    import zipfile

    from lxml import etree

    order = runpy.run_path(str(Path(__file__).resolve().parent.parent / "tools" / "make_template.py"))[
        "SCHEMA_ORDER"]
    namespace = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    problems = []
    with zipfile.ZipFile(minimal_build / "QA-MIN-1_v1.docx") as package:
        parts = [n for n in package.namelist() if n.startswith("word/") and n.endswith(".xml")
                 and n.split("/")[-1].startswith(("document", "header", "footer", "styles"))]
        assert "word/document.xml" in parts and "word/styles.xml" in parts
        for part in parts:
            root = etree.fromstring(package.read(part))
            for tag, sequence in order.items():
                for element in root.iter(namespace + tag):
                    names = [c.tag.replace(namespace, "") for c in element if isinstance(c.tag, str)]
                    known = [n for n in names if n in sequence]
                    if len(set(known)) != len(known) or known != sorted(known, key=sequence.index):
                        problems.append(f"{part}: {tag} {names}")
    assert not problems, problems[:5]


def test_fields_are_placed_alike_from_many_threads_at_once(minimal_build: Path) -> None:
    """`regenerate --jobs` and the web app place fields from several threads; PDFium is not thread-safe, so the
    calls must be serialised (without that, most calls failed with 'Failed to load page' or corrupted memory)."""
    from concurrent.futures import ThreadPoolExecutor

    from qa_builder.render.fields import locate_fields

    data = (minimal_build / "QA-MIN-1_v1.pdf").read_bytes()
    names = ["sig_sponsor_1", "sig_contract_acceptor_1"]
    alone = locate_fields(data, names)
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda _: locate_fields(data, names), range(40)))
    assert together == [alone] * 40


def test_a_build_selects_and_assembles_the_agreement_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The review checks and the build share one preflight (it ran twice: ~0.2 s per agreement, in every build
    and regeneration)."""
    from qa_builder.builds import pipeline
    from qa_builder.review import checks, preflight

    calls: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("preflight")
        return preflight.preflight(*args, **kwargs)

    monkeypatch.setattr(checks, "preflight", counted)
    monkeypatch.setattr(pipeline, "preflight", counted)
    settings = BuildSettings(out_dir=tmp_path / "out", library=load_library(), template=default_template_path(),
                             fmt="docx")
    result = pipeline.build_one(DEMO_EXAMPLE, settings)
    assert result.record is not None and calls == ["preflight"]
