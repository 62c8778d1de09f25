"""Visible signature manifestation: real pyHanko signatures, rendered with poppler and measured (no mocks)."""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from PIL import Image
from pyhanko.keys import load_private_key_from_pemder_data
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from qa_builder.signing import appearance
from qa_builder.signing.appearance import (
    DEFAULT_FONT_SIZE,
    MEANINGS,
    Manifestation,
    StampFontError,
    manifestation_text,
    stamp_font_path,
    stamp_style,
)

FIELD_BOX = (50, 600, 290, 680)  # x1, y1, x2, y2 in pt on an A4 page
PAGE_HEIGHT = 842
DPI = 100
SIGNED_AT = dt.datetime(2026, 11, 25, 23, 59, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module", autouse=True)
def font_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Prepared fonts go to a fresh cache folder, so these tests also cover preparing them."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        mp.delenv(appearance.FONT_ENV, raising=False)
        yield cache / "qa-builder" / "fonts"


@dataclass(frozen=True)
class ThrowawayKey:
    """A throwaway self-signed signing certificate and its pyHanko signer."""

    certificate: x509.Certificate
    signer: signers.SimpleSigner
    cert_der: bytes

    @property
    def issuer(self) -> str:
        return str(self.certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    @property
    def serial(self) -> str:
        return format(self.certificate.serial_number, "X")


@pytest.fixture(scope="module")
def test_key() -> ThrowawayKey:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "QA Builder Test Signer"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qa-builder tests")])
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=7))
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256()))
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    signing_cert = asn1_x509.Certificate.load(cert_der)
    signer = signers.SimpleSigner(signing_cert=signing_cert,
                                  signing_key=load_private_key_from_pemder_data(key_der, None),
                                  cert_registry=SimpleCertificateStore.from_certs([signing_cert]))
    return ThrowawayKey(certificate=cert, signer=signer, cert_der=cert_der)


def manifestation(key: ThrowawayKey, **changes: Any) -> Manifestation:
    base = Manifestation(printed_name="Müller & Søn", title="Head of Quality Assurance", organisation="Acme Pharma",
                         meaning="approval", signed_at=SIGNED_AT, issuer=key.issuer, serial=key.serial)
    return replace(base, **changes)


def pdf_with_empty_field() -> bytes:
    """A one-page A4 PDF (made with pyHanko) with one empty signature field 'sig'."""
    writer = PdfFileWriter()
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)]),
        generic.NameObject("/Resources"): generic.DictionaryObject(),
        generic.NameObject("/Contents"): writer.add_object(generic.StreamObject(stream_data=b"")),
    })
    writer.insert_page(page)
    base = io.BytesIO()
    writer.write(base)
    incremental = IncrementalPdfFileWriter(base)
    fields.append_signature_field(incremental, fields.SigFieldSpec("sig", on_page=0, box=FIELD_BOX))
    out = io.BytesIO()
    incremental.write(out)
    return out.getvalue()


def sign(key: ThrowawayKey, m: Manifestation, target: Path) -> Path:
    pdf_signer = signers.PdfSigner(signers.PdfSignatureMetadata(field_name="sig"), key.signer,
                                   stamp_style=stamp_style(m))
    signed = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf_with_empty_field())))
    target.write_bytes(signed.getvalue())
    return target


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def field_image(pdf: Path) -> Image.Image:
    """The signature field's area of page 1 rendered by pdftoppm at 100 dpi, in grey levels."""
    prefix = pdf.with_suffix("")
    run("pdftoppm", "-r", str(DPI), "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(prefix))
    page = Image.open(prefix.with_suffix(".png")).convert("L")
    px = DPI / 72
    x1, y1, x2, y2 = FIELD_BOX
    return page.crop((round(x1 * px), round((PAGE_HEIGHT - y2) * px), round(x2 * px), round((PAGE_HEIGHT - y1) * px)))


def text_line_bands(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (left, top, right, bottom) of the dark text lines, found by the blank rows between them."""
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    dark_rows = [[x for x in range(width) if pixels[x, y] < 128] for y in range(height)]  # type: ignore[operator]
    bands: list[tuple[int, int, int, int]] = []
    top: int | None = None
    for y in [*range(height), height]:
        row = dark_rows[y] if y < height else []
        if row and top is None:
            top = y
        elif not row and top is not None:
            xs = [x for r in dark_rows[top:y] for x in r]
            bands.append((min(xs), top, max(xs) + 1, y))
            top = None
    return bands


def expected_width_px(font_file: Path, line: str, font_size: int = DEFAULT_FONT_SIZE) -> float:
    """Width of `line` from the font's advance widths, in pixels at DPI (ignores kerning)."""
    font = TTFont(str(font_file), lazy=True)
    cmap = font.getBestCmap()
    metrics = font["hmtx"].metrics
    units = sum(metrics[cmap[ord(c)]][0] for c in line)
    return float(units) / float(font["head"].unitsPerEm) * font_size * DPI / 72


def postscript_name(font_file: Path) -> str:
    return str(TTFont(str(font_file), lazy=True)["name"].getDebugName(6))


def check_rendered_stamp(pdf: Path, m: Manifestation, key: ThrowawayKey) -> None:
    """The shared assertions on a signed PDF: embedded font, extractable text, sane rendering and spacing."""
    text = manifestation_text(m)
    font_file = stamp_font_path(text)

    fonts = run("pdffonts", str(pdf)).splitlines()
    rows = [row for row in fonts if postscript_name(font_file) in row]
    assert rows, f"stamp font {postscript_name(font_file)} not listed by pdffonts:\n" + "\n".join(fonts)
    assert all(row.split()[-5] == "yes" for row in rows), "stamp font is not embedded:\n" + "\n".join(fonts)
    assert not [row for row in fonts[2:] if row.split()[-5] != "yes"], "a non-embedded font is left"

    extracted = [line.strip() for line in run("pdftotext", "-enc", "UTF-8", str(pdf), "-").splitlines()]
    for line in text.splitlines():
        assert line in extracted, f"{line!r} not extracted as one line (letter spacing?) from {extracted}"
    assert f"Signed by: {m.printed_name}" in extracted
    assert "Date/time (UTC): 2026-11-25 23:59:01" in extracted

    image = field_image(pdf)
    dark = sum(image.histogram()[:128])
    assert dark > 500, f"the signature field renders (almost) blank: {dark} dark pixels"

    bands = text_line_bands(image)
    lines = text.splitlines()
    assert len(bands) == len(lines), f"{len(bands)} rendered lines for {len(lines)} text lines: {bands}"
    left, _, right, _ = bands[0]  # "Signed by: <name>"
    expected = expected_width_px(font_file, lines[0])
    assert 0.6 * expected <= right - left <= 1.4 * expected, f"name line is {right - left} px, expected ~{expected}"
    assert left < 10, "text is not left-aligned in the field"
    for band, line in zip(bands, lines, strict=True):
        width = band[2] - band[0]
        assert width <= 1.4 * expected_width_px(font_file, line), f"{line!r} renders too wide ({width} px)"

    embedded = PdfFileReader(io.BytesIO(pdf.read_bytes())).embedded_signatures[0]
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(key.cert_der)])
    status = validate_pdf_signature(embedded, context)
    assert status.intact and status.valid


# --- manifestation text ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("meaning", MEANINGS)
def test_manifestation_text_has_every_part11_element(test_key: ThrowawayKey, meaning: str) -> None:
    text = manifestation_text(manifestation(test_key, meaning=meaning.upper()))
    lines = text.splitlines()
    assert lines[0] == "Signed by: Müller & Søn"  # printed name
    assert "Head of Quality Assurance, Acme Pharma" in lines
    assert f"Meaning: {meaning.capitalize()}" in lines  # meaning
    assert "Date/time (UTC): 2026-11-25 23:59:01" in lines  # date and time
    assert f"Certificate issuer: {test_key.issuer}" in lines
    assert f"Serial no.: {test_key.serial}" in lines
    assert all(len(line) <= 52 for line in lines), lines


def test_manifestation_time_is_shown_in_utc() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    m = Manifestation("Jane Roe", "QA Manager", "Acme", "review", dt.datetime(2026, 1, 1, 0, 30, tzinfo=cet),
                      "Acme CA", "0x0a:1b")
    lines = manifestation_text(m).splitlines()
    assert "Date/time (UTC): 2025-12-31 23:30:00" in lines
    assert "Serial no.: 0A1B" in lines


def test_manifestation_text_tidies_fields() -> None:
    long_org = "Müller & Søn Pharmaceutical Contract Manufacturing GmbH"
    m = Manifestation("  Jane\nRoe ", "Director, Quality", long_org, "Authorship", SIGNED_AT, "", "")
    lines = manifestation_text(m).splitlines()
    assert lines[:3] == ["Signed by: Jane Roe", "Director, Quality,", long_org]
    assert not [line for line in lines if line.startswith(("Certificate issuer", "Serial"))]
    decomposed = Manifestation("Mu\u0308ller", "", "", "review", SIGNED_AT, "CA", "01")
    assert manifestation_text(decomposed).splitlines()[0] == "Signed by: M\u00fcller"


@pytest.mark.parametrize(("changes", "message"), [
    ({"meaning": "witness"}, "meaning"),
    ({"signed_at": dt.datetime(2026, 11, 25, 23, 59, 1)}, "timezone"),
    ({"printed_name": " \n "}, "printed name"),
    ({"serial": "12G4"}, "hexadecimal"),
])
def test_manifestation_refuses_what_part11_would_not_accept(
    test_key: ThrowawayKey, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        manifestation(test_key, **changes)


# --- rendered stamps ------------------------------------------------------------------------------------------------


def test_latin_stamp_embeds_font_and_renders_with_sane_spacing(test_key: ThrowawayKey, tmp_path: Path) -> None:
    m = manifestation(test_key, organisation="Acme Pharma (100% owned)")
    pdf = sign(test_key, m, tmp_path / "latin.pdf")
    check_rendered_stamp(pdf, m, test_key)
    assert "Liberation" in postscript_name(stamp_font_path(manifestation_text(m)))


def test_cjk_stamp_embeds_font_and_renders_with_sane_spacing(test_key: ThrowawayKey, tmp_path: Path) -> None:
    m = manifestation(test_key, printed_name="山田太郎", title="品質保証部長", organisation="山田製薬株式会社")
    pdf = sign(test_key, m, tmp_path / "cjk.pdf")
    check_rendered_stamp(pdf, m, test_key)
    assert postscript_name(stamp_font_path(manifestation_text(m))) == "NotoSansCJKjp-Regular"


def test_central_european_name_uses_a_font_that_has_its_letters(test_key: ThrowawayKey, tmp_path: Path) -> None:
    m = manifestation(test_key, printed_name="Łukasz Dvořák-Şahin", organisation="Zakłady Farmaceutyczne")
    pdf = sign(test_key, m, tmp_path / "latin-ext.pdf")
    check_rendered_stamp(pdf, m, test_key)


# --- font selection and preparation ---------------------------------------------------------------------------------


def test_prepared_fonts_are_single_face_1000_upm_and_cover_the_text(font_cache: Path) -> None:
    texts = ["Müller & Søn", "山田太郎", "Łukasz Dvořák"]
    if Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file():  # optional third font (fonts-dejavu-core)
        texts.append("ქართული")
    for text in texts:
        path = stamp_font_path(text)
        assert path.parent == font_cache
        font = TTFont(str(path), lazy=True)  # a .ttc would need fontNumber and raise here
        assert font["head"].unitsPerEm == 1000
        assert all(ord(c) in font.getBestCmap() for c in text if not c.isspace())
    assert stamp_font_path("") == stamp_font_path("Müller & Søn")


def test_prepared_font_is_reused_across_calls_and_processes(font_cache: Path) -> None:
    first = stamp_font_path("山田太郎")
    mtime = first.stat().st_mtime_ns
    appearance._prepared.cache_clear()  # as a new process would: found again on disk, not rebuilt
    started = time.perf_counter()
    assert stamp_font_path("山田太郎") == first
    assert time.perf_counter() - started < 1.0
    assert first.stat().st_mtime_ns == mtime
    assert not list(font_cache.glob(".*.tmp")), "temporary files left in the font cache"


def test_override_font_is_rescaled_and_may_name_a_face(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(appearance.FONT_ENV, "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
    serif = stamp_font_path("Müller & Søn")
    assert serif.name.startswith("LiberationSerif-Regular-")
    assert TTFont(str(serif), lazy=True)["head"].unitsPerEm == 1000  # 2048 in the original
    with pytest.raises(StampFontError, match=appearance.FONT_ENV):
        stamp_font_path("山田太郎")

    noto_sc = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#NotoSansCJKsc-Regular"
    monkeypatch.setenv(appearance.FONT_ENV, noto_sc)
    assert postscript_name(stamp_font_path("张伟")) == "NotoSansCJKsc-Regular"

    monkeypatch.setenv(appearance.FONT_ENV, "/nonexistent/font.ttf")
    with pytest.raises(StampFontError, match="not a font file"):
        stamp_font_path("x")


@pytest.mark.parametrize("kept", [30_000, 700_000])  # cut inside the character map / inside the last table
def test_a_truncated_override_font_is_one_line_naming_the_variable_and_the_file(
        kept: int, test_key: ThrowawayKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    truncated = tmp_path / f"DejaVuSans-first-{kept}.ttf"
    truncated.write_bytes(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").read_bytes()[:kept])
    monkeypatch.setenv(appearance.FONT_ENV, str(truncated))
    with pytest.raises(StampFontError) as refused:
        stamp_style(manifestation(test_key))
    message = str(refused.value)
    assert message.startswith(f"{appearance.FONT_ENV} names '{truncated}', which cannot be read as a font (")
    assert message.endswith(f"; fix or unset {appearance.FONT_ENV}") and "\n" not in message


def test_override_font_draws_the_stamp(test_key: ThrowawayKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(appearance.FONT_ENV, "/usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf")  # 2048 upm
    m = manifestation(test_key)
    check_rendered_stamp(sign(test_key, m, tmp_path / "override.pdf"), m, test_key)


def test_missing_fonts_name_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = appearance._DEBIAN_FONTS
    absent = tuple(replace(source, path=Path("/nonexistent") / source.path.name) for source in installed)
    monkeypatch.setattr(appearance, "_DEBIAN_FONTS", absent)
    with pytest.raises(StampFontError, match="fonts-noto-cjk"):
        stamp_font_path("山田太郎")

    no_cjk = tuple(replace(source, path=Path("/nonexistent") / source.path.name) if source.package == "fonts-noto-cjk"
                   else source for source in installed)
    monkeypatch.setattr(appearance, "_DEBIAN_FONTS", no_cjk)
    assert stamp_font_path("Müller").name.startswith("LiberationSans")
    with pytest.raises(StampFontError, match="fonts-noto-cjk"):
        stamp_font_path("山田太郎")


# --- right-to-left and CJK names (issue 15 item 3) --------------------------------------------------------------------

SCRIPT_CASES = {  # printed name, organisation (alone on its line: title left empty)
    "hebrew": ("מרים כהן-לוי", "מעבדות איכות בע״מ"),
    "arabic": ("محمد عبد الله", "مختبرات الشرق للأدوية"),
    "mixed": ("Dr. Yael כהן (QA)", "Castellan פרמה GmbH"),
    "cjk": ("山田 太郎", "東京製薬株式会社"),
}
RENDER_DPI = 400


def rendered_lines(pdf: Path, count: int) -> list[Image.Image]:
    """The first `count` text lines of the signature field, rendered by pdftoppm at RENDER_DPI, in grey levels."""
    prefix = pdf.with_name(pdf.stem + "-hi")
    run("pdftoppm", "-r", str(RENDER_DPI), "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(prefix))
    page = Image.open(prefix.with_suffix(".png")).convert("L")
    px = RENDER_DPI / 72
    x1, y1, x2, y2 = FIELD_BOX
    field = page.crop((round(x1 * px), round((PAGE_HEIGHT - y2) * px), round(x2 * px), round((PAGE_HEIGHT - y1) * px)))
    bands = text_line_bands(field)
    return [field.crop(band) for band in bands[:count]]


def reference_line(font_file: Path, line: str, *, bidi_and_shaping: bool) -> Image.Image:
    """`line` drawn by Pillow with FreeType in the same font: with libraqm (FriBiDi + HarfBuzz: the Unicode bidi
    algorithm and shaping, an implementation independent of ours) or with Pillow's basic layout (logical order,
    no shaping: what a stamp without bidi support shows)."""
    from PIL import ImageDraw, ImageFont

    engine = ImageFont.Layout.RAQM if bidi_and_shaping else ImageFont.Layout.BASIC
    font = ImageFont.truetype(str(font_file), size=round(DEFAULT_FONT_SIZE * RENDER_DPI / 72), layout_engine=engine)
    left, top, right, bottom = font.getbbox(line)
    image = Image.new("L", (right - left + 20, bottom - top + 20), 255)
    ImageDraw.Draw(image).text((10 - left, 10 - top), line, font=font, fill=0)
    box = image.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert box is not None
    return image.crop(box)


def actual_texts(pdf: Path) -> list[str]:
    """The /ActualText of each marked-content span of the signature's appearance, in drawing order."""
    embedded = PdfFileReader(io.BytesIO(pdf.read_bytes())).embedded_signatures[0]

    def content_of(form: Any) -> bytes:
        form = form.get_object()
        nested = form.get("/Resources", {}).get("/XObject", {})
        return b" ".join([form.data, *(content_of(child) for child in nested.values())])

    content = content_of(embedded.sig_field["/AP"]["/N"])
    texts = []
    for found in re.finditer(rb"/ActualText \(((?:\\.|[^\\)])*)\)", content, re.DOTALL):
        raw = re.sub(rb"\\([0-7]{1,3}|.)", lambda e: bytes([int(e.group(1), 8)]) if e.group(1)[:1].isdigit()
                     else e.group(1), found.group(1))
        texts.append(raw[2:].decode("utf-16-be") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1"))
    return texts


def pdfium_text(pdf: Path) -> str:
    """The page text as pdfium extracts it after flattening the stamp (pdfium applies the bidi algorithm to the
    glyphs as placed on the page: a right-to-left word drawn in reverse comes out reversed)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        document.init_forms()
        page = document[0]
        page.flatten()
        page.close()
        return str(document[0].get_textpage().get_text_range())
    finally:
        document.close()


def is_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


def similarity(rendered: Image.Image, reference: Image.Image) -> float:
    """Normalised cross-correlation of two line images, each cropped to its ink and scaled to the same size."""
    from PIL import ImageFilter

    size = rendered.size
    a = rendered.filter(ImageFilter.GaussianBlur(3))
    b = reference.resize(size).filter(ImageFilter.GaussianBlur(3))
    xs = [255 - v for v in a.tobytes()]  # ink is positive (8-bit grey: one byte per pixel)
    ys = [255 - v for v in b.tobytes()]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    var_x = sum((x - mean_x) ** 2 for x in xs)
    var_y = sum((y - mean_y) ** 2 for y in ys)
    return cov / (var_x * var_y) ** 0.5


@pytest.mark.parametrize("case", sorted(SCRIPT_CASES))
def test_names_in_every_script_are_drawn_in_reading_order_and_shaped(
        test_key: ThrowawayKey, tmp_path: Path, case: str) -> None:
    name, organisation = SCRIPT_CASES[case]
    m = manifestation(test_key, printed_name=name, title="", organisation=organisation)
    pdf = sign(test_key, m, tmp_path / f"{case}.pdf")
    lines = manifestation_text(m).splitlines()[:2]
    assert lines == [f"Signed by: {name}", organisation]

    assert actual_texts(pdf)[:2] == lines, "each line carries its logical text for copy and search (/ActualText)"
    extracted = pdfium_text(pdf)
    rtl_words = [word.strip("()-,.:") for word in " ".join(lines).replace("-", " ").split() if is_rtl(word)]
    assert all(word in extracted for word in rtl_words), f"{rtl_words} are not all extracted by pdfium: {extracted!r}"

    font_file = stamp_font_path(manifestation_text(m))
    for rendered, line in zip(rendered_lines(pdf, 2), lines, strict=True):
        right = similarity(rendered, reference_line(font_file, line, bidi_and_shaping=True))
        naive = similarity(rendered, reference_line(font_file, line, bidi_and_shaping=False))
        assert right > 0.8, f"{line!r} does not look like its reference rendering ({right:.2f})"
        if is_rtl(line):
            assert right > naive + 0.1, f"{line!r}: reading order/shaping {right:.2f} vs logical order {naive:.2f}"
