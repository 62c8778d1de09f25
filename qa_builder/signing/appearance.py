"""Visible signature appearance: the 21 CFR 11.50 manifestation, drawn with an embedded 1000-upm font.

Font choice.  pyHanko's default stamp uses the non-embedded standard Courier: Latin-1 only and not allowed in
PDF/A.  So the stamp embeds an OpenType font through pyHanko's ``GlyphAccumulatorFactory``, which has two limits in
pyHanko 0.38: it writes the CIDFont ``/W`` widths in raw font units, so every font whose unitsPerEm is not 1000
(DejaVu, Liberation and Carlito are all 2048) is drawn with huge letter spacing; and it cannot open a font collection
(``.ttc``: fontTools asks for a font number that the factory never passes).  No Debian font covers every name either:
Noto Sans CJK (``fonts-noto-cjk``, 1000 upm, CID-keyed CFF) has Latin-1 and the CJK ideographs but only part of
Latin Extended-A (no Ł, Š, Č, Ř, Ő, Ş: Polish, Czech, Hungarian and Turkish names), and Liberation Sans has Latin
Extended-A/B, Vietnamese, Greek and Cyrillic but no CJK.  So, for each manifestation, the stamp takes the first of
these fonts that has every character of its text:

1. Liberation Sans (``fonts-liberation2``), rescaled to 1000 upm: compact (Arial metrics), covers European names;
2. Noto Sans CJK JP (``fonts-noto-cjk``), extracted from the ``.ttc``: Han, kana, hangul, plus Latin-1;
3. DejaVu Sans (``fonts-dejavu-core``), rescaled to 1000 upm: the widest coverage (Arabic, Armenian, Georgian...).

A font is prepared once per machine with fontTools (face extracted, unitsPerEm scaled to 1000 with
``scale_upem`` and the then-wrong TrueType hinting dropped) into ``$XDG_CACHE_HOME/qa-builder/fonts`` (written
atomically, named after the source file's path, size and mtime; about 1.5 s per font, once), and found again through
a per-process cache.  pyHanko then parses and subsets the prepared font on every signature (its subsetting is
destructive, so a parsed font cannot be kept): a signature with this stamp takes about 0.2-0.3 s with Liberation
Sans and 0.5-0.8 s with the 16 MB CJK font (pyHanko's Courier stamp: 0.08 s), measured on a 2-core machine.  Hence
the CJK font is taken only when the text needs it, and its prepared copy drops the OpenType layout tables
(GSUB/GPOS/GDEF/BASE, and the vertical metrics: CJK needs no shaping, its Latin loses only kerning), which halves
its cost.  ``QA_BUILDER_STAMP_FONT`` (a font file, or ``file.ttc#N`` / ``file.ttc#PostScriptName`` for one face of
a collection) replaces the whole list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]
from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]
from pyhanko.pdf_utils.font.api import ShapeResult
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import TextStampStyle

from qa_builder import config
from qa_builder.errors import QABuilderError, first_line
from qa_builder.files import atomic_writer

log = logging.getLogger(__name__)

MEANINGS: tuple[str, ...] = ("authorship", "review", "approval", "responsibility")
"""The signature meanings 21 CFR 11.50(a)(3) asks the manifestation to show."""

FONT_ENV = config.STAMP_FONT_ENV
DEFAULT_FONT_SIZE = 8
_TARGET_UPEM = 1000
_PREPARE_VERSION = "1"  # bump when _prepare changes what it writes
_BIG_FONT_GLYPHS = 10_000  # fonts above this lose their layout tables in the prepared copy (speed)
_ROLE_LINE_CHARS = 48  # "title, organisation" longer than this goes on two lines


class StampFontError(QABuilderError):
    """No installed font can draw the signature manifestation, or the chosen font file is unusable."""


@dataclass(frozen=True)
class Manifestation:
    """What a visible signature shows (21 CFR 11.50: printed name, date and time, meaning).

    Attributes:
        printed_name: The signer's printed name.
        title: The signer's job title (may be empty).
        organisation: The signer's organisation (may be empty).
        meaning: One of ``MEANINGS`` (authorship, review, approval, responsibility); case is ignored.
        signed_at: When the signature was executed; timezone-aware, shown in UTC.
        issuer: Common name of the certificate issuer.
        serial: Certificate serial number in hex (``0x`` prefix, colons and spaces are ignored).
    """

    printed_name: str
    title: str
    organisation: str
    meaning: str
    signed_at: dt.datetime
    issuer: str
    serial: str
    time_source: str = ""
    """Where the time comes from when not the signer's own clock, e.g. "timestamp authority"; shown on the stamp."""

    def __post_init__(self) -> None:
        """Refuse a manifestation that would not satisfy 11.50."""
        if not _clean(self.printed_name):
            raise ValueError("the printed name of the signer is empty")
        if self.meaning.strip().lower() not in MEANINGS:
            raise ValueError(f"signature meaning '{self.meaning}' is not one of {', '.join(MEANINGS)}")
        if self.signed_at.tzinfo is None or self.signed_at.utcoffset() is None:
            raise ValueError("signed_at must be timezone-aware (the manifestation shows UTC)")
        serial = _serial_hex(self.serial)
        if serial and any(c not in "0123456789ABCDEF" for c in serial):
            raise ValueError(f"certificate serial '{self.serial}' is not hexadecimal")


def manifestation_text(m: Manifestation) -> str:
    """The lines drawn in the signature field, short enough for a box of about 240 x 80 pt at 8 pt.

    Args:
        m: The manifestation.

    Returns:
        Newline-separated lines: printed name, title and organisation, meaning, UTC date/time, certificate issuer
        and serial, e.g. ``Signed by: Jane Roe`` / ``Head of QA, Acme Pharma`` / ``Meaning: Approval`` /
        ``Date/time (UTC): 2026-11-25 23:59:01`` / ``Certificate issuer: Acme CA`` / ``Serial no.: 1A2B``.
    """
    lines = [f"Signed by: {_clean(m.printed_name)}"]
    title, organisation = _clean(m.title), _clean(m.organisation)
    role = ", ".join(part for part in (title, organisation) if part)
    if title and organisation and len(role) > _ROLE_LINE_CHARS:
        lines += [f"{title},", organisation]
    elif role:
        lines.append(role)
    lines.append(f"Meaning: {m.meaning.strip().lower().capitalize()}")
    source = f", {_clean(m.time_source)}" if _clean(m.time_source) else ""
    lines.append(f"Date/time (UTC{source}): {m.signed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}")
    if issuer := _clean(m.issuer):
        lines.append(f"Certificate issuer: {issuer}")
    if serial := _serial_hex(m.serial):
        lines.append(f"Serial no.: {serial}")
    return "\n".join(lines)


def stamp_style(m: Manifestation, *, font_size: int = DEFAULT_FONT_SIZE) -> TextStampStyle:
    """A pyHanko text stamp that draws the manifestation with an embedded font, left-aligned, without border.

    The text is fixed in the style (no ``appearance_text_params`` needed).  pyHanko shrinks the text to fit a
    smaller field; it never enlarges it.

    Args:
        m: The manifestation to draw.
        font_size: Font size in points (pyHanko writes it as an integer); the leading is 1.25 times that.

    Returns:
        A style for ``PdfSigner(..., stamp_style=...)``.

    Raises:
        StampFontError: No installed font has every character of the text.
    """
    text = manifestation_text(m)
    font = _subset_for(stamp_font_path(text), text)
    no_margins = SimpleBoxLayoutRule(x_align=AxisAlignment.ALIGN_MIN, y_align=AxisAlignment.ALIGN_MIN)
    return TextStampStyle(
        stamp_text=text.replace("%", "%%"),  # pyHanko %-interpolates the stamp text
        border_width=0,
        background=None,
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MIN,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins(left=4, right=4, top=3, bottom=3),
        ),
        text_box_style=TextBoxStyle(
            font=BidiGlyphAccumulatorFactory(str(font), font_size=font_size),
            font_size=font_size,
            leading=round(font_size * 1.25),
            border_width=0,
            box_layout_rule=no_margins,
        ),
    )


def stamp_font_path(text: str = "") -> Path:
    """The prepared (1000-upm, single-face) font file the stamp uses for `text`.

    Args:
        text: The text to draw; empty asks for the first font of the list (Latin stamps).

    Returns:
        Path of the prepared font in the user cache (prepared on first use).

    Raises:
        StampFontError: No installed font has every character of `text`, or the override font is unusable.
    """
    override = config.stamp_font() or ""
    candidates = [_override_source(override)] if override else list(_DEBIAN_FONTS)
    installed = [source for source in candidates if source.path.is_file()]
    needed = {c for c in text if not c.isspace() and unicodedata.category(c) != "Cc"}
    best: tuple[_FontSource, set[str]] | None = None
    for source in installed:
        try:
            index = _face_index(source)
            missing = {c for c in needed if ord(c) not in _coverage(str(source.path), index)}
            if not missing:
                return _prepared(str(source.path), index, str(_cache_dir()))
        except StampFontError:
            raise
        except Exception as exc:  # fontTools reads a table when first used: a damaged file fails here
            raise _unreadable_font(source.path, exc) from exc
        if best is None or len(missing) < len(best[1]):
            best = (source, missing)
    raise StampFontError(_no_font_message(override, candidates, installed, best))


def _unreadable_font(path: Path | str, exc: BaseException) -> StampFontError:
    """The error of a font file fontTools cannot read (truncated, damaged), naming the file and what to do: the
    variable that chose it, or the Debian package that installed it."""
    reason = first_line(str(exc).strip())[:200] or type(exc).__name__
    override = config.stamp_font() or ""
    if override and Path(override.partition("#")[0]).expanduser() == Path(path):
        return StampFontError(f"{FONT_ENV} names '{path}', which cannot be read as a font ({reason}); fix or unset "
                              f"{FONT_ENV}")
    package = next((s.package for s in _DEBIAN_FONTS if s.path == Path(path)), "")
    fix = f"reinstall it (apt-get install --reinstall {package})" if package else "choose another font"
    return StampFontError(f"The font file {path} cannot be read ({reason}); {fix}, or set {FONT_ENV} to another font")


@dataclass(frozen=True)
class _FontSource:
    label: str
    path: Path
    package: str
    face: str = ""  # PostScript name or index of the face in a collection


_DEBIAN_FONTS: tuple[_FontSource, ...] = tuple(_FontSource(label, path, package, face)
                                              for label, path, package, face in config.STAMP_FONTS)


def _override_source(value: str) -> _FontSource:
    path, _, face = value.partition("#")
    source = _FontSource(f"{FONT_ENV}={value}", Path(path).expanduser(), "", face=face)
    if not source.path.is_file():
        raise StampFontError(f"{FONT_ENV} names '{path}', which is not a font file; fix or unset {FONT_ENV}")
    return source


def _no_font_message(
    override: str, candidates: list[_FontSource], installed: list[_FontSource],
    best: tuple[_FontSource, set[str]] | None,
) -> str:
    absent = sorted({s.package for s in candidates if s.package and s not in installed} -
                    {s.package for s in installed})
    install = f"install the Debian package(s) {' '.join(absent)} (apt-get install {' '.join(absent)})" if absent else ""
    if best is None:
        return f"No font for the signature stamp is installed: {install or 'install fonts-noto-cjk'}"
    chars = "".join(sorted(best[1]))[:20]
    fonts = ", ".join(dict.fromkeys(s.label for s in installed))
    fix = install or (f"set {FONT_ENV} to a font that has them" if not override else f"fix or unset {FONT_ENV}")
    return f"The signature stamp cannot draw the characters '{chars}': no installed font has them ({fonts}); {fix}"


def _clean(value: str) -> str:
    """NFC, control characters and line breaks as spaces, runs of spaces collapsed, stripped."""
    value = unicodedata.normalize("NFC", value)
    value = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value)
    return " ".join(value.split())


def _serial_hex(serial: str) -> str:
    value = serial.strip()
    if value[:2].lower() == "0x":
        value = value[2:]
    return "".join(value.replace(":", "").split()).upper()


# Characters every stamp subset keeps, so that stamps differing only in time, digits or Latin letters share one
# small font file: printable ASCII, Latin-1 and Latin Extended-A.
_BASE_CHARACTERS = frozenset(range(0x20, 0x7F)) | frozenset(range(0xA0, 0x180))


def _subset_for(font: Path, text: str) -> Path:
    """A small cached subset of `font` with the text's characters and the base set.

    pyHanko parses and subsets the embedded font again on every signature; handing it a font of a few hundred
    glyphs instead of several thousand cuts the stamp's cost per signature by an order of magnitude.
    """
    wanted = frozenset(ord(c) for c in text if c not in "\r\n") | _BASE_CHARACTERS
    try:
        return _subset_cached(str(font), font.stat().st_mtime_ns, wanted, keep_layout=_needs_shaping(text))
    except (StampFontError, OSError):
        raise
    except Exception as exc:  # every glyph is read here: a font damaged past its character map fails here
        raise _unreadable_font(font, exc) from exc


def _needs_shaping(text: str) -> bool:
    """Whether `text` has letters of scripts whose glyphs HarfBuzz must substitute or position through the font's
    GSUB/GPOS (Hebrew, Arabic, Syriac, Thaana, Indic, Thai... U+0590-U+1DFF, and the Hebrew/Arabic presentation
    forms U+FB1D-U+FEFF).  Latin, Greek, Cyrillic, punctuation, symbols and CJK are drawn one glyph per character."""
    return any(0x0590 <= ord(c) < 0x1E00 or 0xFB1D <= ord(c) < 0xFF00 for c in text)


@lru_cache(maxsize=64)
def _subset_cached(font: str, mtime_ns: int, wanted: frozenset[int], *, keep_layout: bool = False) -> Path:
    key = hashlib.sha256(f"{font}|{mtime_ns}|{sorted(wanted)}|{keep_layout}".encode()).hexdigest()[:24]
    target = _cache_dir() / f"subset-{key}{Path(font).suffix}"
    if target.is_file():
        return target
    from fontTools import subset  # type: ignore[import-untyped]

    source = TTFont(font, lazy=False)
    available = set(source.getBestCmap() or {})
    options = subset.Options()
    options.name_IDs = ["*"]  # pyHanko reads the font's names
    options.name_languages = ["*"]
    if keep_layout:  # keep every feature, and the glyphs they reach (e.g. Arabic initial/medial/final forms)
        options.layout_features = ["*"]
    else:
        options.layout_features = []
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF"]
    options.notdef_outline = True
    options.hinting = False
    options.recalc_bounds = False
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=sorted(wanted & available))
    subsetter.subset(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(target) as handle:
        source.save(handle)
    return target


def _cache_dir() -> Path:
    return config.cache_dir() / "fonts"


@lru_cache(maxsize=32)
def _face_index_cached(path: str, face: str) -> int:
    if not face:
        return 0 if _is_collection(path) else -1
    if face.isdigit():
        return int(face)
    collection = TTCollection(path, lazy=True)
    for index, font in enumerate(collection.fonts):
        if font["name"].getDebugName(6) == face:
            return index
    raise StampFontError(f"The font collection {path} has no face named '{face}'")


def _face_index(source: _FontSource) -> int:
    return _face_index_cached(str(source.path), source.face)


def _is_collection(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"ttcf"


def _open(path: str, index: int, *, lazy: bool | None) -> TTFont:
    try:
        # no bounding-box recalculation on save: it would decompile every CFF charstring (minutes for CJK)
        return TTFont(path, fontNumber=index, lazy=lazy, recalcBBoxes=False, recalcTimestamp=False)
    except Exception as exc:  # fontTools raises many kinds of errors for a bad file
        raise _unreadable_font(path, exc) from exc


@lru_cache(maxsize=32)
def _coverage(path: str, index: int) -> frozenset[int]:
    cmap = _open(path, index, lazy=True).getBestCmap() or {}
    return frozenset(cmap)


@lru_cache(maxsize=32)
def _prepared(path: str, index: int, cache_dir: str) -> Path:
    """Path of the prepared copy of face `index` of `path`, made (atomically) if not yet in `cache_dir`."""
    stat = os.stat(path)
    key = f"{_PREPARE_VERSION}\0{os.path.realpath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\0{index}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    name = f"{Path(path).stem}-{max(index, 0)}-{digest}"
    for folder in (Path(cache_dir), Path(tempfile.gettempdir()) / f"qa-builder-fonts-{os.getuid()}"):
        for suffix in (".otf", ".ttf"):
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    font = _open(path, index, lazy=None)  # tables decompiled on use only: untouched ones are copied as they are
    _prepare(font, path)
    suffix = ".otf" if "CFF " in font else ".ttf"
    try:
        return _save(font, Path(cache_dir) / f"{name}{suffix}")
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / f"qa-builder-fonts-{os.getuid()}" / f"{name}{suffix}"
        log.warning("cannot write the font cache %s (%s); using %s", cache_dir, exc, fallback.parent)
        return _save(font, fallback)


def _save(font: TTFont, target: Path) -> Path:
    with atomic_writer(target) as handle:
        font.save(handle)
    return target


def _prepare(font: TTFont, path: str) -> None:
    """Make `font` safe and quick for pyHanko: 1000 upm, no stale hinting, no tables the stamp never uses."""
    if not any(record.nameID == 6 for record in font["name"].names):
        raise StampFontError(f"The font {path} has no PostScript name (name ID 6), which pyHanko needs")
    drop = ["FFTM", "DSIG", "VORG", "vhea", "vmtx"]
    if font["head"].unitsPerEm != _TARGET_UPEM:
        scale_upem(font, _TARGET_UPEM)
        if "glyf" in font:  # instructions refer to the old grid: drop them rather than render distorted glyphs
            glyf = font["glyf"]
            for glyph_name in font.getGlyphOrder():
                glyf[glyph_name].removeHinting()
            drop += ["fpgm", "prep", "cvt ", "hdmx", "LTSH", "VDMX", "gasp"]
    if font["maxp"].numGlyphs > _BIG_FONT_GLYPHS:
        drop += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF"]
    for tag in drop:
        if tag in font:
            del font[tag]


# --- bidirectional text ----------------------------------------------------------------------------------------------


def visual_runs(line: str) -> list[tuple[str, bool]]:
    """The directional runs of one stamp line, in display order from left to right.

    Applies the Unicode Bidirectional Algorithm (UAX #9: paragraph level from the first strong character, rules
    W1-W7, N1-N2, I1-I2, L1-L2) with python-bidi's reference implementation (``bidi.algorithm``), then groups the
    characters into runs of one embedding level.  Each run is returned in logical order, for HarfBuzz to shape
    in its direction (which also joins Arabic letters and mirrors brackets in right-to-left runs).

    Args:
        line: One line of text, in logical (typed) order.

    Returns:
        ``(text, right_to_left)`` pairs; ``"Signed by: מרים כהן"`` gives ``[("Signed by: ", False), ("מרים כהן",
        True)]``.
    """
    from bidi import algorithm as uba

    if not line:
        return []
    storage = uba.get_empty_storage()
    base_level = uba.get_base_level(line)
    storage["base_level"] = base_level
    storage["base_dir"] = ("L", "R")[base_level]
    uba.get_embedding_levels(line, storage, False, False)
    for index, char in enumerate(storage["chars"]):
        char["index"] = index
    uba.explicit_embed_and_overrides(storage, False)
    uba.resolve_weak_types(storage, False)
    uba.resolve_neutral_types(storage, False)
    uba.resolve_implicit_levels(storage, False)
    uba.reorder_resolved_levels(storage, False)  # L1 and L2: storage["chars"] is now in display order
    runs: list[tuple[int, int, int]] = []  # (level, first logical index, last logical index)
    for char in storage["chars"]:
        level, index = int(char["level"]), int(char["index"])
        if runs and runs[-1][0] == level:
            run_level, first, last = runs[-1]
            if level % 2 and index == first - 1:
                runs[-1] = (run_level, index, last)
                continue
            if not level % 2 and index == last + 1:
                runs[-1] = (run_level, first, index)
                continue
        runs.append((level, index, index))
    return [(line[first:last + 1], bool(level % 2)) for level, first, last in runs]


class BidiGlyphAccumulator(GlyphAccumulator):
    """pyHanko's HarfBuzz glyph accumulator, shaping each directional run of a line in its own direction.

    pyHanko 0.38 shapes a whole line in one HarfBuzz buffer whose direction and script are guessed from its
    first letters: "Signed by: <Hebrew or Arabic name>" is shaped as Latin, left to right, so the name is drawn
    in logical order (letters reversed on the page) and Arabic letters are not joined.  Here each run of
    `visual_runs` is shaped with its direction (HarfBuzz guesses the script from the run), the runs are drawn
    left to right, and the line is tagged with its logical text (``/ActualText``) so that copying and text
    extraction give what was typed.
    """

    def shape(self, txt: str, with_actual_text: bool = True) -> ShapeResult:
        """Shape one line: its runs in display order, each in its own direction.

        Args:
            txt: One line in logical order.
            with_actual_text: Wrap the glyphs in a marked-content span carrying `txt` as ``/ActualText``.

        Returns:
            The PDF text operators and the line's total advance (em units).
        """
        runs = visual_runs(txt)
        if len(runs) <= 1 and not (runs and runs[0][1]):
            result: ShapeResult = super().shape(txt, with_actual_text=with_actual_text)
            return result
        operators: list[bytes] = []
        x_advance = y_advance = 0.0
        saved = self.writing_direction
        try:
            for text, right_to_left in runs:
                self.writing_direction = "rtl" if right_to_left else "ltr"
                shaped = super().shape(text, with_actual_text=False)
                operators.append(shaped.graphics_ops)
                x_advance += shaped.x_advance
                y_advance += shaped.y_advance
        finally:
            self.writing_direction = saved
        glyphs = b" ".join(operators)
        if with_actual_text:
            properties = io.BytesIO()
            self.marked_content_property_list(txt).write_to_stream(properties)
            glyphs = b"/Span " + properties.getvalue() + b" BDC " + glyphs + b" EMC"
        return ShapeResult(graphics_ops=glyphs, x_advance=x_advance, y_advance=y_advance)


class BidiGlyphAccumulatorFactory(GlyphAccumulatorFactory):
    """A ``GlyphAccumulatorFactory`` that makes ``BidiGlyphAccumulator`` engines (same options)."""

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> GlyphAccumulator:
        """One font engine for `writer`, as pyHanko's factory makes it (an object stream when the writer has
        cross-reference streams)."""
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        with open(self.font_file, "rb") as handle:
            font_bytes = io.BytesIO(handle.read())
        return BidiGlyphAccumulator(
            writer=writer, font_handle=font_bytes, font_size=self.font_size, ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag, writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code, obj_stream=obj_stream)
