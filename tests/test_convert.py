"""DOCX → PDF/A-2b conversion with real LibreOffice (no mocks)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from docx import Document
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from qa_builder.errors import ConversionError
from qa_builder.render.pdf import PdfConverter

pytestmark = pytest.mark.libreoffice

PLACEHOLDER = "Right-click to update the table of contents."
HEADINGS = [f"Section {i} heading" for i in range(1, 6)]


def add_toc_field(paragraph: Paragraph) -> None:
    """Append a complex TOC field whose cached result is only placeholder text (as Word leaves it)."""

    def field_char(kind: str) -> None:
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        paragraph.add_run()._r.append(element)

    field_char("begin")
    instruction = OxmlElement("w:instrText")
    instruction.set(qn("xml:space"), "preserve")
    instruction.text = ' TOC \\o "1-3" \\h \\z \\u '
    paragraph.add_run()._r.append(instruction)
    field_char("separate")
    paragraph.add_run(PLACEHOLDER)
    field_char("end")


def make_docx(path: Path, headings: list[str] = HEADINGS) -> Path:
    """Write a DOCX: a TOC on page 1, then one Heading 1 per page with some body text."""
    document = Document()
    document.add_paragraph("Contents", style="Title")
    add_toc_field(document.add_paragraph())
    for heading in headings:
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        document.add_heading(heading, level=1)
        for _ in range(4):
            document.add_paragraph(
                "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 4
            )
    document.save(str(path))
    return path


def page_text(pdf: Path, index: int) -> str:
    document = pdfium.PdfDocument(str(pdf))
    try:
        return str(document[index].get_textpage().get_text_range())
    finally:
        document.close()


def processes_using(folder: Path) -> list[str]:
    """Command lines of processes that mention folder (workers, oosplash, soffice.bin)."""
    result = subprocess.run(
        ["pgrep", "-af", str(folder)], capture_output=True, text=True, check=False
    )
    return [line for line in result.stdout.splitlines() if "pgrep" not in line]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_docx(tmp_path_factory.mktemp("docx") / "sample.docx")


@pytest.fixture(scope="module")
def pool() -> Iterator[PdfConverter]:
    converter = PdfConverter(workers=2, timeout=120)
    folder = converter._folder
    with converter:
        yield converter
    assert not folder.exists()
    assert processes_using(folder) == []


def test_pdf_is_pdfa2b_with_embedded_fonts_and_a_filled_toc(
    pool: PdfConverter, sample: Path, tmp_path: Path
) -> None:
    pdf = tmp_path / "out.pdf"
    pool.convert(sample, pdf)

    assert pdf.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [
        "out.pdf"
    ]  # no temporary file left behind
    xmp = subprocess.run(
        ["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"<pdfaid:part>2</pdfaid:part>|pdfaid:part=\"2\"", xmp), xmp
    assert re.search(
        r"<pdfaid:conformance>B</pdfaid:conformance>|pdfaid:conformance=\"B\"", xmp
    ), xmp

    fonts = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    for row in rows:  # columns from the right: emb sub uni object-id generation
        assert row.split()[-5] == "yes", f"font not embedded: {row}"

    assert len(pdfium.PdfDocument(str(pdf))) == 1 + len(HEADINGS)
    toc = page_text(pdf, 0)
    assert PLACEHOLDER not in toc
    for number, heading in enumerate(HEADINGS, start=2):  # heading i is on page i + 1
        assert re.search(rf"{heading}[ .\u2026]*\s*{number}\b", toc), toc
        assert heading in page_text(pdf, number - 1)


def test_two_threads_convert_four_documents(
    pool: PdfConverter, sample: Path, tmp_path: Path
) -> None:
    pdfs = [tmp_path / f"doc-{i}.pdf" for i in range(4)]
    with ThreadPoolExecutor(max_workers=2) as threads:
        list(threads.map(lambda pdf: pool.convert(sample, pdf), pdfs))
    for pdf in pdfs:
        assert pdf.read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in pdfs)


@pytest.mark.parametrize(
    "content", [b"this is not a DOCX", b"PK\x03\x04 truncated zip"]
)
def test_corrupt_input_fails_and_the_pool_keeps_working(
    pool: PdfConverter, sample: Path, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(content)
    with pytest.raises(ConversionError, match=r"bad\.docx"):
        pool.convert(bad, tmp_path / "bad.pdf")
    assert not (tmp_path / "bad.pdf").exists()

    pool.convert(sample, tmp_path / "good.pdf")
    assert (tmp_path / "good.pdf").is_file()


def test_damaged_docx_fails_fast_instead_of_waiting_for_a_repair_answer(
    pool: PdfConverter, sample: Path, tmp_path: Path
) -> None:
    import time
    import zipfile

    damaged = tmp_path / "damaged.docx"
    with zipfile.ZipFile(sample) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"</w:body>", b"", 1)  # malformed XML: LibreOffice would offer a repair
            target.writestr(item, data)
    started = time.monotonic()
    with pytest.raises(ConversionError, match=r"damaged\.docx"):
        pool.convert(damaged, tmp_path / "damaged.pdf", timeout=60)
    assert time.monotonic() - started < 30, "must not sit in a repair prompt until the timeout"
    pool.convert(sample, tmp_path / "after.pdf")
    assert (tmp_path / "after.pdf").is_file()


def test_missing_input_file(pool: PdfConverter, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="does not exist"):
        pool.convert(tmp_path / "nope.docx", tmp_path / "nope.pdf")


def test_crashed_libreoffice_is_restarted_and_the_document_retried(
    sample: Path, tmp_path: Path
) -> None:
    with PdfConverter(workers=1) as converter:
        converter.convert(sample, tmp_path / "first.pdf")
        office = subprocess.run(
            ["pgrep", "-f", f"soffice.bin.*{converter._folder}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        assert len(office) == 1
        os.kill(int(office[0]), signal.SIGKILL)

        converter.convert(sample, tmp_path / "second.pdf")
        assert (tmp_path / "second.pdf").is_file()


def test_timeout_kills_the_worker_and_the_next_document_converts(
    sample: Path, tmp_path: Path
) -> None:
    with PdfConverter(workers=1, timeout=0.01) as converter:
        folder = converter._folder
        with pytest.raises(ConversionError, match=r"sample\.docx.*0\.01 s timeout"):
            converter.convert(sample, tmp_path / "slow.pdf")
        assert list(tmp_path.iterdir()) == []  # neither the PDF nor a partial file

        converter.convert(sample, tmp_path / "next.pdf", timeout=120)
        assert (tmp_path / "next.pdf").is_file()
    assert processes_using(folder) == []


def test_workers_are_recycled(sample: Path, tmp_path: Path) -> None:
    with PdfConverter(workers=1, recycle_after=1) as converter:
        for i in range(3):
            converter.convert(sample, tmp_path / f"r{i}.pdf")
        workers = sorted(p.name for p in converter._folder.iterdir())
        assert "worker-1" not in workers and "worker-2" not in workers


def test_missing_soffice_names_the_install_command() -> None:
    with pytest.raises(ConversionError, match="apt-get install"):
        PdfConverter(soffice="/nonexistent")


def test_no_libreoffice_remains_after_an_exception(
    sample: Path, tmp_path: Path
) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        PdfConverter(workers=2) as converter,
    ):
        folder = converter._folder
        converter.convert(sample, tmp_path / "x.pdf")
        raise RuntimeError("boom")
    assert processes_using(folder) == []
    assert not folder.exists()
