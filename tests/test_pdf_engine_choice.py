"""Which PDF engine a build takes when none is asked for: Typst for the bundled template, LibreOffice for a team's.

One rule (`default_pdf_engine`), one helper for a workspace (`open_workspace_engine`, used by `regenerate` and the
workspace builds), and a template digest the caller already holds is not computed again.
"""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from qa_builder.builds.pipeline import default_pdf_engine
from qa_builder.errors import TemplateError
from qa_builder.render.docx import default_template_path, template_sha256
from qa_builder.render.pdf import PdfConverter
from qa_builder.render.typeset import PdfTypesetter
from qa_builder.workspace.inputs import open_workspace_engine
from qa_builder.workspace.layout import init_workspace


def test_a_known_template_digest_is_not_read_again(tmp_path: Path) -> None:
    bundled = template_sha256(default_template_path())
    absent = tmp_path / "never-read.docx"
    assert default_pdf_engine(absent, sha256=bundled) == "typst"
    assert default_pdf_engine(absent, sha256="0" * 64) == "libreoffice"
    with pytest.raises(TemplateError, match=r"never-read\.docx: template not found"):
        default_pdf_engine(absent)  # without the digest the template is read


def test_a_workspace_builds_with_typst_unless_its_template_is_its_own(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "ws")
    engine = open_workspace_engine(workspace)
    assert isinstance(engine, PdfTypesetter)  # the bundled template, copied unchanged

    document = docx.Document(str(workspace.template))
    document.add_paragraph("Our own closing words, which only the DOCX would carry.")
    document.save(str(workspace.template))
    engine = open_workspace_engine(workspace, workers=2)
    assert isinstance(engine, PdfConverter)  # not started: no LibreOffice process yet
