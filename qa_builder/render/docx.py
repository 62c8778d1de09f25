"""The only docxtpl importer: Agreement → DOCX, rendered in the sandbox with XML autoescape."""

from __future__ import annotations

import hashlib
import io
import zipfile
from functools import lru_cache
from pathlib import Path

import jinja2
from docx.opc.exceptions import PackageNotFoundError
from docxtpl import DocxTemplate

from qa_builder.errors import RenderError, TemplateError
from qa_builder.files import atomic_writer
from qa_builder.models.agreement import Agreement
from qa_builder.sandbox import TemplateProblem, check_names, make_document_environment

TEMPLATE_FILE = "quality_agreement.docx"
_HEADER_URI = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
_FOOTER_URI = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"


def default_template_path() -> Path:
    """The template shipped with the package (wheel) or found beside it (source tree)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_data" / "templates" / TEMPLATE_FILE, here.parent / "templates" / TEMPLATE_FILE):
        if candidate.is_file():
            return candidate
    raise TemplateError("the default DOCX template is missing from this installation; pass --template FILE")


@lru_cache(maxsize=8)
def _template_bytes(path: Path, mtime_ns: int) -> bytes:
    data = path.read_bytes()
    _preflight(path, data)
    return data


def load_template(path: Path) -> bytes:
    """Read and preflight a template once per process: it must open and use only Agreement fields.

    Raises:
        TemplateError: unreadable, not a DOCX, or using names the Agreement model lacks.
    """
    try:
        return _template_bytes(path.resolve(), path.stat().st_mtime_ns)
    except FileNotFoundError as exc:
        raise TemplateError(f"{path}: template not found") from exc


def template_sha256(path: Path) -> str:
    """sha256 of the template file's bytes."""
    return hashlib.sha256(load_template(path)).hexdigest()


def _preflight(path: Path, data: bytes) -> None:
    try:
        tpl = DocxTemplate(io.BytesIO(data))
        tpl.init_docx()
        source = tpl.patch_xml(tpl.get_xml())
        for uri in (_HEADER_URI, _FOOTER_URI):
            for _key, part in tpl.get_headers_footers(uri):
                source += tpl.patch_xml(tpl.get_part_xml(part))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TemplateError(f"{path}: is not a readable DOCX template ({exc})") from exc
    try:
        check_names(source, {"agreement": Agreement})
    except TemplateProblem as exc:
        raise TemplateError(f"{path}: the template {exc}") from exc


@lru_cache(maxsize=32)
def _patched_xml(source: str) -> str:
    return str(DocxTemplate.patch_xml(None, source))


class _CachedTemplate(DocxTemplate):  # type: ignore[misc]
    """docxtpl's template, with its pure XML clean-up (patch_xml) memoised per template part."""

    def patch_xml(self, src_xml: str) -> str:
        return _patched_xml(src_xml)


def render_docx(agreement: Agreement, template: Path, out: Path) -> None:
    """Render the agreement into a DOCX at `out` (written atomically).

    Args:
        agreement: the assembled agreement.
        template: a docxtpl template whose only variable is `agreement`.
        out: the DOCX to write.

    Raises:
        TemplateError: the template is unusable.
        RenderError: rendering failed.
    """
    data = load_template(template)
    tpl = _CachedTemplate(io.BytesIO(data))
    # Shared memoising environment: docxtpl sets env.autoescape = True on it, which it already is.
    env = make_document_environment()
    try:
        tpl.render({"agreement": agreement}, jinja_env=env, autoescape=True)
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(f"{template}: rendering was stopped by the sandbox ({exc})") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"{template}: rendering agreement {agreement.id} failed ({exc})") from exc
    document = io.BytesIO()  # zipped in memory: a full disk then fails one plain write, not zipfile's clean-up
    tpl.save(document)
    with atomic_writer(out) as handle:
        handle.write(document.getbuffer())
