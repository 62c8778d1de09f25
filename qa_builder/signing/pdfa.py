"""Keeping a signed agreement's PDF/A claim true: what a signature may add, and the check after every signature.

Evidence for the rule (pyHanko 0.38 read in ``pyhanko/sign/signers/pdf_signer.py`` and ``constants.py``):

* ``PdfSigner.register_extensions`` always registers the ESIC developer extension (``/ESIC`` with
  ``/BaseVersion /1.7 /ExtensionLevel 1``, ``constants.ESIC_EXTENSION_1``: "ESIC extension for PDF 1.7. Used to declare
  usage of PAdES structures") for a PAdES subfilter, raising the version to 1.7 at least.  For an ECDSA key on one
  of ``ISO32002_CURVE_NAMES`` (P-256/384/521, brainpool) it also calls ``_ensure_iso32002_ext``, which sets the
  catalog ``/Version /2.0`` and adds ``/ISO_`` with ``/BaseVersion /2.0 /ExtensionLevel 32002``; Ed25519/Ed448 and
  SHA-3 do the same with ISO/TS 32002 / 32001.
* PDF/A-2 (ISO 19005-2:2011) is "the use of PDF 1.7, as formalized in ISO 32000-1" (its scope and title): a file
  whose catalog says ``/Version /2.0`` and declares an extension of PDF 2.0 no longer is what its XMP
  (``pdfaid:part 2``) claims.  ISO 32000-1 §7.12 lets a PDF 1.7 file declare developer extensions in the catalog's
  ``/Extensions`` dictionary, each naming the ``/BaseVersion`` it extends (Adobe's own ``/ADBE`` level 3 files are
  the common example); an extension of 1.7 keeps the file a PDF 1.7 file.
* ISO/TS 32002 is declared by pyHanko with ``/BaseVersion /2.0``: it extends ISO 32000-2 only.  A PAdES signature
  (``/SubFilter /ETSI.CAdES.detached``) in a PDF 1.7 file is what the ESIC extension declares, and the PAdES/CAdES
  baseline standards (ETSI EN 319 142-1, EN 319 122-1) leave the algorithm to the signature policy and ETSI TS
  119 312, whose suites include RSA and ECDSA on the NIST P-256/384/521 and Brainpool curves.  So an RSA or ECDSA
  signature is a PAdES signature in a PDF 1.7 file with the ESIC extension, and a PDF/A-2 file stays PDF/A-2.
  (The pyHanko facts were read in its code; the ISO 19005-2 scope and ISO 32000-1 §7.12 in their published text;
  the ETSI algorithm references are from the standards as known, not re-read here.)

Hence, for a document that claims PDF/A-1, -2 or -3: the signature keeps the file at PDF 1.7 with the ESIC
extension only (no ISO 32002 entry, no ``/Version /2.0``); a key whose algorithm exists only in PDF 2.0 (Ed25519,
Ed448) is refused, because it would make the claim false.  After every signature, ``check_pdfa_kept`` reads the
result back: header, catalog version, extensions, XMP claim and embedded fonts.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

PDF17 = (1, 7)
"""PDF/A-1 is based on PDF 1.4, PDF/A-2 and -3 on PDF 1.7 (ISO 32000-1)."""


@dataclass(frozen=True)
class PdfAClaim:
    """The PDF/A identification in a document's XMP metadata (``pdfaid:part`` and ``pdfaid:conformance``)."""

    part: int
    conformance: str

    def __str__(self) -> str:
        return f"PDF/A-{self.part}{self.conformance.lower()}"

    @property
    def max_version(self) -> tuple[int, int]:
        """The highest PDF version the claim allows: 1.4 for PDF/A-1, 1.7 for -2 and -3, 2.0 for -4."""
        return {1: (1, 4), 2: PDF17, 3: PDF17}.get(self.part, (2, 0))


def pdfa_claim(reader: PdfFileReader) -> PdfAClaim | None:
    """The PDF/A claim of the document's XMP metadata, or None when it claims none.

    Use a reader of its own: once the metadata stream of a reader was read, pyHanko's incremental writer built on
    that reader re-serialises only the XMP properties it manages and drops ``pdfaid`` (seen with pyHanko 0.38).

    Raises:
        PdfError / ValueError: the metadata stream cannot be read.
    """
    metadata = reader.root.get("/Metadata")
    if metadata is None:
        return None
    stream = metadata.get_object()
    if isinstance(stream, MetadataStream):
        values = {name.local_name: value.value for root in stream.xmp for name, value in root
                  if name.ns == PDFAID_NS}
        part, conformance = values.get("part"), values.get("conformance")
    elif isinstance(stream, generic.StreamObject):
        xmp = stream.data.decode("utf-8", "replace")
        part, conformance = _xmp_value(xmp, "part"), _xmp_value(xmp, "conformance")
    else:
        return None
    if not isinstance(part, str) or not part.strip().isdigit():
        return None
    return PdfAClaim(part=int(part), conformance=str(conformance or "").strip().upper())


PDFAID_NS = "http://www.aiim.org/pdfa/ns/id/"


def _xmp_value(xmp: str, name: str) -> str | None:
    """An ``pdfaid:`` property written as an attribute or as an element."""
    found = re.search(rf'pdfaid:{name}\s*=\s*["\']([^"\']*)["\']', xmp) or \
        re.search(rf"<pdfaid:{name}>\s*([^<]*?)\s*</pdfaid:{name}>", xmp)
    return found.group(1).strip() if found else None


def check_pdfa_kept(signed: bytes, claim: PdfAClaim) -> list[str]:
    """What makes the signed file no longer conform to `claim`, in words; empty when the claim is still true.

    Checks the header (``%PDF-1.n``, n within the claim's base version), the catalog ``/Version``, every
    ``/Extensions`` entry's ``/BaseVersion``, that the XMP still makes the same claim, and that every font used by
    the pages and by the annotations' appearances (the signature stamps) is embedded.

    Args:
        signed: The whole signed PDF.
        claim: The claim the unsigned document made.

    Returns:
        One sentence per problem found.
    """
    problems: list[str] = []
    limit = claim.max_version
    header = re.match(rb"%PDF-(\d)\.(\d)", signed[:16])
    if header is None:
        problems.append("the file header is not %PDF-1.n")
    elif (int(header.group(1)), int(header.group(2))) > limit:
        problems.append(f"the header says PDF {header.group(1).decode()}.{header.group(2).decode()}, above the "
                        f"{limit[0]}.{limit[1]} that {claim} is based on")
    try:
        reader = PdfFileReader(io.BytesIO(signed), strict=True)
        root = reader.root
        version = _version(root.get("/Version"))
        if version is not None and version > limit:
            problems.append(f"the catalog /Version is {version[0]}.{version[1]}, above the {limit[0]}.{limit[1]} "
                            f"that {claim} is based on")
        problems += [f"the catalog declares the extension {name} of PDF {base[0]}.{base[1]}, which {claim} does "
                     "not allow" for name, base in _extensions(root) if base > limit]
        after = pdfa_claim(reader)
        if after != claim:
            problems.append(f"the XMP metadata now claims {after or 'no PDF/A conformance'} instead of {claim}")
        problems += [f"the font {name} is not embedded" for name in sorted(_unembedded_fonts(reader))]
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"the signed file cannot be read back ({exc})")
    return problems


def _version(value: object) -> tuple[int, int] | None:
    if value is None:
        return None
    found = re.fullmatch(r"/?(\d+)\.(\d+)", str(value))
    return (int(found.group(1)), int(found.group(2))) if found else None


def _extensions(root: generic.DictionaryObject) -> list[tuple[str, tuple[int, int]]]:
    extensions = root.get("/Extensions")
    if extensions is None:
        return []
    found = []
    for prefix, value in extensions.get_object().items():
        if prefix == "/Type":
            continue
        value = value.get_object()
        entries = list(value) if isinstance(value, generic.ArrayObject) else [value]
        for entry in entries:
            entry = entry.get_object()
            base = _version(entry.get("/BaseVersion")) if isinstance(entry, generic.DictionaryObject) else None
            found.append((f"{prefix} (level {entry.get('/ExtensionLevel', '?')})", base or (9, 9)))
    return found


def _unembedded_fonts(reader: PdfFileReader) -> set[str]:
    """BaseFont names of fonts without an embedded font program, in page and annotation-appearance resources."""
    missing: set[str] = set()
    seen: set[int] = set()

    def visit_resources(resources: object) -> None:
        resources = _resolve(resources)
        if not isinstance(resources, generic.DictionaryObject):
            return
        fonts = _resolve(resources.get("/Font"))
        if isinstance(fonts, generic.DictionaryObject):
            for font in fonts.values():
                check_font(_resolve(font))
        xobjects = _resolve(resources.get("/XObject"))
        if isinstance(xobjects, generic.DictionaryObject):
            for ref in xobjects.values():
                visit_form(ref)

    def visit_form(ref: object) -> None:
        if isinstance(ref, generic.IndirectObject):
            key = hash((ref.idnum, ref.generation))
            if key in seen:
                return
            seen.add(key)
        form = _resolve(ref)
        if isinstance(form, generic.StreamObject) and form.get("/Subtype") == "/Form":
            visit_resources(form.get("/Resources"))

    def check_font(font: object) -> None:
        if not isinstance(font, generic.DictionaryObject) or font.get("/Subtype") == "/Type3":
            return
        described: object = font
        if font.get("/Subtype") == "/Type0":
            descendants = _resolve(font.get("/DescendantFonts"))
            described = _resolve(descendants[0]) if isinstance(descendants, generic.ArrayObject) else font
        descriptor = _resolve(described.get("/FontDescriptor")) if isinstance(described, dict) else None
        if not isinstance(descriptor, generic.DictionaryObject) or not any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
            missing.add(str(font.get("/BaseFont", "(unnamed)")).lstrip("/"))

    for page, resources in _pages(reader):
        visit_resources(resources)
        annotations = _resolve(page.get("/Annots"))
        if isinstance(annotations, generic.ArrayObject):
            for annotation in annotations:
                widget = _resolve(annotation)
                if not isinstance(widget, generic.DictionaryObject):
                    continue
                appearance = _resolve(widget.get("/AP"))
                if isinstance(appearance, generic.DictionaryObject):
                    for state in appearance.values():
                        state = _resolve(state)
                        if isinstance(state, generic.StreamObject):
                            visit_form(state)
                        elif isinstance(state, generic.DictionaryObject):
                            for stream in state.values():
                                visit_form(stream)
    return missing


def _pages(reader: PdfFileReader) -> list[tuple[generic.DictionaryObject, object]]:
    """Each page with its (possibly inherited) resource dictionary."""
    pages = []
    for index in range(int(reader.root["/Pages"].get("/Count", 0))):
        page_ref, resources = reader.find_page_for_modification(index)  # type: ignore[no-untyped-call]
        pages.append((page_ref.get_object(), resources))
    return pages


def _resolve(value: object) -> object:
    return value.get_object() if isinstance(value, generic.IndirectObject) else value  # type: ignore[no-untyped-call]
