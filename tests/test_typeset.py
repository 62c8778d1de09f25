"""The Typst engine: PDF/A-2b typeset from the Agreement model, with fields that sign.

That it says what the DOCX says: tests/test_pdf_says_what_docx_says.py.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pypdfium2 as pdfium
import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from qa_builder.builds.pipeline import BuildResult, BuildSettings, build_one
from qa_builder.errors import ConversionError
from qa_builder.library.loader import load_library
from qa_builder.models.library import ClauseLibrary
from qa_builder.render.docx import default_template_path
from qa_builder.render.typeset import PdfTypesetter
from qa_builder.signing.keys import load_pkcs12_key
from qa_builder.signing.pades import SignatureRequest, sign_pdf
from tests.conftest import EXAMPLES, MINI_LIBRARY, MINIMAL_ANSWERS, answers_data, run_cli, write_answers
from tests.doctext import page_refs, pdf_pages, squash

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="module")
def typesetter() -> Iterator[PdfTypesetter]:
    with PdfTypesetter() as engine:
        yield engine


@pytest.fixture(scope="module")
def default_library() -> ClauseLibrary:
    return load_library()


def _build(answers: Path, out: Path, library: ClauseLibrary, engine: PdfTypesetter) -> BuildResult:
    settings = BuildSettings(out_dir=out, library=library, template=default_template_path(), pdf_engine="typst")
    return build_one(answers, settings, engine)


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory, typesetter: PdfTypesetter) -> BuildResult:
    return _build(MINIMAL_ANSWERS, tmp_path_factory.mktemp("minimal"), load_library(MINI_LIBRARY), typesetter)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory, typesetter: PdfTypesetter,
             default_library: ClauseLibrary) -> dict[str, BuildResult]:
    out = tmp_path_factory.mktemp("examples")
    return {path.name: _build(path, out, default_library, typesetter) for path in EXAMPLE_FILES}


def _file(result: BuildResult, suffix: str) -> Path:
    return next(p for p in result.files if p.name.endswith(suffix))


def test_pdf_is_pdfa2b_tagged_with_every_font_embedded(minimal: BuildResult) -> None:
    pdf = _file(minimal, ".pdf")
    raw = pdf.read_bytes()
    assert re.search(rb"pdfaid:part[>=\"']+2", raw) and re.search(rb"pdfaid:conformance[>=\"']+B", raw)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Tagged:\s+yes", info), info
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert any("Carlito" in row for row in rows) and any("NotoSansCJK" in row for row in rows), fonts
    assert all(row.split()[-5] == "yes" for row in rows), fonts  # the 'emb' column


def test_toc_page_numbers_are_the_pages_of_the_headings(examples: dict[str, BuildResult]) -> None:
    pages = pdf_pages(_file(examples["us-eu-drug-product-cmo.yaml"], ".pdf"))
    toc = pages[1]
    entries = re.findall(r"^(.+?)\s*\.{4,}\s*(\d+)\s*$", toc, flags=re.MULTILINE)
    titles = [title for title, _page in entries]
    assert len(entries) >= 17 and titles[-1] == "SIGNATURES", toc
    assert any(t.startswith("ANNEX A.") for t in titles) and any(t.startswith("1.") for t in titles), titles
    squashed = [squash(p) for p in pages]
    for title, number in entries:
        key = squash(title)
        shown = [i + 1 for i, text in enumerate(squashed) if i > 1 and key in text]
        assert shown, f"{title} is on no page"
        assert shown[0] == int(number), f"TOC says {title} is on page {number}; it first appears on {shown[0]}"
    assert re.search(rf"Page 2 of {len(pages)}\b", toc), toc


def _lines(pdf: Path, page_index: int) -> list[tuple[float, float, float, str]]:
    """The text lines of one page as (top, left, right, text), top down; points from the page's top left."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[page_index]
        height, textpage = page.get_height(), page.get_textpage()
        runs = sorted((height - bottom, height - top, left, right, textpage.get_text_bounded(left, bottom, right, top))
                      for left, bottom, right, top in (textpage.get_rect(i) for i in range(textpage.count_rects())))
        grouped: list[list[tuple[float, float, float, float, str]]] = []
        for run in runs:  # runs of one line: their feet within 3 pt
            if grouped and run[0] - grouped[-1][0][0] < 3:
                grouped[-1].append(run)
            else:
                grouped.append([run])
        lines = []
        for group in grouped:
            group.sort(key=lambda run: run[2])
            lines.append((min(run[1] for run in group), group[0][2], max(run[3] for run in group),
                          "".join(run[4] for run in group)))
        return sorted(lines)
    finally:
        document.close()


def test_contents_entries_read_number_space_title_like_the_docx(examples: dict[str, BuildResult]) -> None:
    # The DOCX's TOC field prints "1. PURPOSE ..." with one space; the number was once set in a 1 cm column.
    pdf = _file(examples["us-eu-drug-product-cmo.yaml"], ".pdf")
    words = subprocess.run(["pdftotext", "-f", "2", "-l", "2", "-bbox", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout
    boxes = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', words)
    number = next(b for b in boxes if b[3] == "1.")
    title = next(b for b in boxes if b[3] == "PURPOSE," and abs(float(b[1]) - float(number[1])) < 2)
    gap = float(title[0]) - float(number[2])
    assert 1 < gap < 5, f"'1.' and 'PURPOSE,' are {gap:.1f} pt apart on the contents page; a word space is ~2.4 pt"
    lines = _lines(pdf, 1)
    entries = [text for _top, _left, _right, text in lines if re.search(r"\.{4,}\s*\d+$", text)]
    assert entries and entries[0].startswith("1. PURPOSE, SCOPE AND GENERAL PROVISIONS."), entries
    assert any(entry.startswith("ANNEX A. RESPONSIBILITIES MATRIX.") for entry in entries), entries


def test_justified_lines_reach_the_right_margin(examples: dict[str, BuildResult]) -> None:
    # A body line followed by another line of the same paragraph ends at the right margin (A4 less 2.2 cm).
    # Loose lines once stayed ragged: the paragraph was justified to its widest line, not to the text width.
    pdf = _file(examples["us-eu-drug-product-cmo.yaml"], ".pdf")
    right_margin = 595.28 - 2.2 / 2.54 * 72
    checked = 0
    for index in range(2, len(pdf_pages(pdf))):
        lines = [line for line in _lines(pdf, index) if abs(line[1] - 90.8) < 1.5]  # body text, 1 cm indent
        for (top, _left, right, text), (next_top, *_rest) in itertools.pairwise(lines):
            if next_top - top < 15:  # the next line of the same paragraph (paragraphs are 20 pt apart)
                checked += 1
                assert right > right_margin - 4, f"page {index + 1}: ragged justified line {text!r} ends at {right}"
    assert checked > 300, checked


def test_header_and_footer_on_every_page_but_the_cover(minimal: BuildResult) -> None:
    pages = pdf_pages(_file(minimal, ".pdf"))
    assert "Confidential · QA-MIN-1 · Version 1" in pages[0] and "Page 1 of" not in pages[0]
    for number, text in enumerate(pages[1:], start=2):
        assert f"Page {number} of {len(pages)}" in text
        assert "Quality Agreement QA-MIN-1 · Version 1 · Minimal Test Agreement" in text


@pytest.mark.parametrize("example", ["minimal", "us-eu-drug-product-cmo.yaml"])
def test_one_empty_named_field_over_each_signatory_block(minimal: BuildResult, examples: dict[str, BuildResult],
                                                         example: str) -> None:
    result = minimal if example == "minimal" else examples[example]
    assert result.agreement is not None
    signatories = result.agreement.signatories
    pdf = _file(result, ".pdf")
    pages = pdf_pages(pdf)
    signature_page = max(i for i, text in enumerate(pages) if "SIGNATURES" in text)
    with pdf.open("rb") as handle:
        reader = PdfFileReader(handle)
        fields = list(enumerate_sig_fields(reader))
        assert [name for name, _value, _ref in fields] == [s.field_name for s in signatories]
        pages_in_order = page_refs(reader.root.raw_get("/Pages"))
        boxes = []
        for _name, value, ref in fields:
            field = ref.get_object()
            assert value is None, "field must be empty"
            assert pages_in_order.index(field.raw_get("/P")) == signature_page
            assert int(field["/F"]) & 4, "printable (PDF/A)"
            boxes.append([float(x) for x in field["/Rect"]])
    document = pdfium.PdfDocument(str(pdf))
    textpage = document[signature_page].get_textpage()
    for box, signatory in zip(boxes, signatories, strict=True):
        x1, y1, x2, y2 = box
        assert x2 - x1 > 200 and y2 - y1 > 60
        assert 0 < x1 < x2 < 595 and 0 < y1 < y2 < 842
        searcher = textpage.search(f"Name: {signatory.name}")
        hit = searcher.get_next()
        assert hit is not None, signatory.name
        nx1, ny1, _nx2, _ny2 = textpage.get_charbox(hit[0])
        assert nx1 < x1, "the field sits right of the signatory's printed details"
        assert y1 < ny1 < y2 + 20, "and level with them"
    document.close()
    for a, b in itertools.pairwise(boxes):
        assert a[1] >= b[3] or b[1] >= a[3], "fields do not overlap"


def test_a_typeset_pdf_signs_and_validates(minimal: BuildResult, tmp_path: Path, test_pki: Any) -> None:
    pdf = _file(minimal, ".pdf")
    first, both = tmp_path / "certified.pdf", tmp_path / "signed.pdf"
    for source, target, field, signer, certify in ((pdf, first, "sig_sponsor_1", "sponsor", True),
                                                   (first, both, "sig_contract_acceptor_1", "contract-acceptor",
                                                    False)):
        request = SignatureRequest(field=field, meaning="approval", certify=certify, level="B-LT",
                                   tsa_url=test_pki.tsa_url, trust_roots=(test_pki.root_pem,))
        sign_pdf(source, target, request, load_pkcs12_key(test_pki.p12(signer), test_pki.passphrase()))
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(test_pki.root_pem))], allow_fetching=False)
    with both.open("rb") as handle:
        signatures = PdfFileReader(handle).embedded_signatures
        assert len(signatures) == 2
        for embedded in signatures:
            status = validate_pdf_signature(embedded, context)
            assert status.intact and status.valid and status.trusted, status.pretty_print_details()
            assert status.docmdp_ok is not False
    report = subprocess.run(["pdfsig", str(both)], capture_output=True, text=True, timeout=60).stdout
    assert report.count("Signature is Valid.") == 2, report


# -- scripts and literal text ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scripts_build(tmp_path_factory: pytest.TempPathFactory, typesetter: PdfTypesetter) -> BuildResult:
    folder = tmp_path_factory.mktemp("scripts")
    data = answers_data()
    data["sponsor"]["name"] = "תעשיות פארמה בע\"מ #strong[x] *bold* $x^2$ ] \\ @ref <lbl> // note"
    data["contract_acceptor"]["name"] = "شركة الدواء العربية"
    data["signatories"][1]["name"] = "王小明"
    data["products"][0]["name"] = "Exam#plol *10* mg $tablets$ ]"
    return _build(write_answers(folder, data), folder / "out", load_library(MINI_LIBRARY), typesetter)


def test_cjk_and_rtl_names_render_with_fonts_for_their_scripts(scripts_build: BuildResult) -> None:
    pdf = _file(scripts_build, ".pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for name in ("תעשיות פארמה", "شركة الدواء العربية", "王小明"):
        assert name in text, name
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "DejaVuSans" in fonts and "NotoSansCJK" in fonts, fonts  # Hebrew/Arabic and Han from their fonts
    assert all(row.split()[-5] == "yes" for row in fonts.splitlines()[2:]), fonts


def test_markup_characters_in_user_text_print_literally(scripts_build: BuildResult) -> None:
    body = squash("".join(pdf_pages(_file(scripts_build, ".pdf"))))
    assert squash("#strong[x] *bold* $x^2$ ] \\ @ref <lbl> // note") in body
    assert squash("Exam#plol *10* mg $tablets$ ]") in body


# -- failures ----------------------------------------------------------------------------------------------


def test_a_panic_inside_typst_is_one_conversion_error(minimal: BuildResult, tmp_path: Path) -> None:
    # Typst's PDF writer panics on Hebrew/Arabic set without kerning (what the template once did for all text);
    # the panic reaches Python as a BaseException, which no build loop caught: one clear error instead.
    from qa_builder.errors import Hint, Remedy

    assert minimal.agreement is not None
    template = tmp_path / "panics.typ"
    template.write_text('#set text(font: ("Carlito", "DejaVu Sans"), kerning: false)\n'
                        '#block(width: 100%, "תעשיות פארמה and شركة الدواء العربية")', encoding="utf-8")
    with PdfTypesetter(template=template) as engine:
        with pytest.raises(ConversionError, match=r"QA-MIN-1: Typst failed while typesetting the PDF") as failed:
            engine.typeset(minimal.agreement, tmp_path / "panic.pdf")
        assert failed.value.hint == Hint(Remedy.LIBREOFFICE_ENGINE)
        assert not (tmp_path / "panic.pdf").exists()
        (pid,) = engine.process_ids
        with pytest.raises(ConversionError, match=r"QA-MIN-1: Typst failed"):  # the same process answers again
            engine.typeset(minimal.agreement, tmp_path / "panic.pdf")
        assert engine.process_ids == [pid]


def test_documents_are_typeset_in_parallel_processes_that_are_recycled(minimal: BuildResult, tmp_path: Path) -> None:
    """Two threads in one Typst process took turns on its memo caches (one core for two builds); each document
    now goes to one of `workers` processes, replaced after `recycle_after` documents."""
    import threading

    assert minimal.agreement is not None
    agreement = minimal.agreement
    def cpu_ticks(pid: int) -> int:
        return sum(int(n) for n in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13])

    with PdfTypesetter(workers=2) as engine:
        engine.start()
        pids = engine.process_ids
        assert len(pids) == 2
        engine.typeset(agreement, tmp_path / "warm.pdf")  # both processes have loaded their fonts by now
        before = {pid: cpu_ticks(pid) for pid in pids}
        threads = [threading.Thread(target=engine.typeset, args=(agreement.model_copy(update={"title": f"T{i}"}),
                                                                 tmp_path / f"{i}.pdf")) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all((tmp_path / f"{i}.pdf").read_bytes().startswith(b"%PDF-") for i in range(2))
        assert all(cpu_ticks(pid) > before[pid] for pid in pids), "one process typeset both documents"
    assert engine.process_ids == []
    with PdfTypesetter(recycle_after=2) as engine:
        engine.typeset(agreement, tmp_path / "1.pdf")
        (first,) = engine.process_ids
        engine.typeset(agreement, tmp_path / "2.pdf")
        assert engine.process_ids == []  # its two documents done, it was stopped
        engine.typeset(agreement, tmp_path / "3.pdf")
        assert engine.process_ids != [first] and len(engine.process_ids) == 1


def test_a_killed_or_overrunning_typst_process_is_one_error_and_replaced(minimal: BuildResult, tmp_path: Path) -> None:
    import os
    import signal

    assert minimal.agreement is not None
    with PdfTypesetter() as engine:
        engine.start()
        (pid,) = engine.process_ids
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ConversionError, match=r"^QA-MIN-1: the Typst process ended while typesetting the PDF"):
            engine.typeset(minimal.agreement, tmp_path / "killed.pdf")
        assert not (tmp_path / "killed.pdf").exists()
        engine.typeset(minimal.agreement, tmp_path / "next.pdf")  # a fresh process
        assert pid not in engine.process_ids and (tmp_path / "next.pdf").is_file()
    with PdfTypesetter(timeout=0.05) as engine:
        with pytest.raises(ConversionError, match=r"the Typst process did not (read the document|finish) in time"):
            engine.typeset(minimal.agreement, tmp_path / "slow.pdf")
        assert engine.process_ids == [] and not (tmp_path / "slow.pdf").exists()


def test_missing_fonts_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"fonts Carlito, .* are not installed: install them with"):
        PdfTypesetter(font_dirs=[tmp_path])


def test_cli_builds_with_typst_and_reports_missing_fonts_in_one_line(tmp_path: Path) -> None:
    command = ["build", str(MINIMAL_ANSWERS), "--library", str(MINI_LIBRARY), "--pdf-engine", "typst", "-o"]
    done = run_cli(*command, str(tmp_path / "ok"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ok" / "QA-MIN-1_v1.pdf").is_file() and (tmp_path / "ok" / "QA-MIN-1_v1.docx").is_file()
    failed = run_cli(*command, str(tmp_path / "no"), env={"QA_BUILDER_FONT_DIRS": str(tmp_path)})
    assert failed.returncode != 0
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "are not installed" in lines[0] and "Traceback" not in failed.stderr, failed.stderr
    assert not (tmp_path / "no").exists() or not list((tmp_path / "no").iterdir())


def test_cli_refuses_the_engine_option_for_workspace_builds(tmp_path: Path) -> None:
    done = run_cli("build", "--workspace", str(tmp_path), "--pdf-engine", "typst")
    assert done.returncode == 2 and "--pdf-engine" in done.stderr and "Traceback" not in done.stderr, done.stderr


def _rss_mib(pid: int) -> float:
    import os

    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_stays_flat_over_many_documents(examples: dict[str, BuildResult], tmp_path: Path) -> None:
    # Without ageing Typst's memo cache, each 38-page document left ~45 MiB behind for ten more compiles.
    agreement = examples["us-eu-drug-product-cmo.yaml"].agreement
    assert agreement is not None
    with PdfTypesetter() as engine:
        engine.typeset(agreement, tmp_path / "warm.pdf")
        engine.typeset(agreement.model_copy(update={"title": "warm 2"}), tmp_path / "warm.pdf")
        (pid,) = engine.process_ids
        before = _rss_mib(pid)
        for i in range(8):
            engine.typeset(agreement.model_copy(update={"title": f"{agreement.title} {i}"}), tmp_path / f"{i}.pdf")
        grown = _rss_mib(pid) - before
        assert engine.process_ids == [pid]
    assert grown < 100, f"resident memory grew by {grown:.0f} MiB over 8 documents"


def test_typst_refuses_a_custom_docx_template(tmp_path: Path, typesetter: PdfTypesetter) -> None:
    import shutil

    from qa_builder.cli.errors import error_text
    from qa_builder.errors import Hint, Remedy, TemplateError

    custom = tmp_path / "ours.docx"
    document = docx.Document(str(default_template_path()))
    document.add_paragraph("Our own closing words, which only the DOCX would carry.")
    document.save(str(custom))
    settings = BuildSettings(out_dir=tmp_path / "out", library=load_library(MINI_LIBRARY), template=custom,
                             pdf_engine="typst")
    with pytest.raises(TemplateError) as refused:
        build_one(MINIMAL_ANSWERS, settings, typesetter)
    assert refused.value.hint == Hint(Remedy.LIBREOFFICE_ENGINE)  # the library names the remedy, not a flag
    assert "--" not in str(refused.value)
    assert error_text(refused.value).endswith("DOCX says; use --pdf-engine libreoffice")  # as the CLI prints it
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.pdf"))
    copy = tmp_path / "copy.docx"  # a workspace's unchanged copy of the bundled template is fine
    shutil.copy(default_template_path(), copy)
    built = build_one(MINIMAL_ANSWERS, BuildSettings(out_dir=tmp_path / "ok", library=load_library(MINI_LIBRARY),
                                                     template=copy, pdf_engine="typst"), typesetter)
    assert _file(built, ".pdf").is_file()


@pytest.mark.libreoffice
def test_cli_defaults_to_typst_and_to_libreoffice_for_a_custom_template(tmp_path: Path) -> None:
    # Typst is the default engine; a custom template's DOCX can only be converted, so it selects LibreOffice.
    custom = tmp_path / "ours.docx"
    document = docx.Document(str(default_template_path()))
    document.add_paragraph("Our own closing words, which only the DOCX would carry.")
    document.save(str(custom))
    command = ["build", str(MINIMAL_ANSWERS), "--library", str(MINI_LIBRARY)]
    creators = {}
    for name, extra in (("default", []), ("custom", ["--template", str(custom)]),
                        ("explicit", ["--pdf-engine", "libreoffice"])):
        done = run_cli(*command, *extra, "-o", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        info = subprocess.run(["pdfinfo", str(tmp_path / name / "QA-MIN-1_v1.pdf")], capture_output=True,
                              text=True, check=True).stdout
        creators[name] = re.search(r"^Creator:\s*(\S+)", info, flags=re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert creators == {"default": "Typst", "custom": "Writer", "explicit": "Writer"}, creators
    assert "Our own closing words" in "".join(pdf_pages(tmp_path / "custom" / "QA-MIN-1_v1.pdf"))
    refused = run_cli(*command, "--template", str(custom), "--pdf-engine", "typst", "-o", str(tmp_path / "refused"))
    assert refused.returncode != 0 and "use --pdf-engine libreoffice" in refused.stderr, refused.stderr


def test_a_row_taller_than_a_page_splits_instead_of_losing_its_text(tmp_path: Path, default_library: ClauseLibrary,
                                                                    typesetter: PdfTypesetter) -> None:
    """Attack round 9: with 200 products the cover's Products row was taller than a page; Typst's unsplittable row
    ran over the footer and products 87-199 were missing from the PDF that gets signed (the DOCX had them all)."""
    import copy

    import yaml

    data = yaml.safe_load((EXAMPLES / "us-api-cmo.yaml").read_text(encoding="utf-8"))
    first = data["products"][0]
    data["products"] = [{**copy.deepcopy(first), "name": f"Dravoxetine Hydrochloride batch family {i}"}
                        for i in range(200)]  # copies: shared objects would be written as YAML aliases
    answers = tmp_path / "many-products.yaml"
    answers.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    result = _build(answers, tmp_path / "out", default_library, typesetter)
    from tests.doctext import docx_text

    pdf = next(p for p in result.files if p.suffix == ".pdf")
    docx = next(p for p in result.files if p.suffix == ".docx")
    # poppler's pdftotext reads only what lies on a page (pdfium also returns text drawn past the page's foot)
    shown = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                    check=True).stdout.split())
    sent = " ".join(docx_text(docx).split())
    for i in (0, 86, 87, 150, 199):
        pattern = rf"batch family {i}(?!\d)"
        assert len(re.findall(pattern, shown)) == len(re.findall(pattern, sent)) > 0, i
