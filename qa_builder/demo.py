"""The demo: the bundled example through the whole pipeline."""

from __future__ import annotations

from pathlib import Path

from qa_builder.errors import InputError
from qa_builder.library.loader import load_library
from qa_builder.pipeline import BuildSettings, build_one
from qa_builder.render.docx import default_template_path
from qa_builder.render.pdf import PdfConverter

EXAMPLE_FILE = "us-eu-drug-product-cmo.yaml"


def examples_dir() -> Path:
    """The example answers shipped with the package (wheel) or found beside it (source tree)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / "examples", here.parent / "examples"):
        if (candidate / EXAMPLE_FILE).is_file():
            return candidate
    raise InputError("the bundled examples are missing from this installation")


def run_demo(out_dir: Path, *, force: bool = False) -> list[str]:
    """Build the bundled example into `out_dir`; return report lines for people."""
    example = examples_dir() / EXAMPLE_FILE
    settings = BuildSettings(out_dir=out_dir, library=load_library(), template=default_template_path(),
                             fmt="both", force=force)
    with PdfConverter(workers=1) as converter:
        result = build_one(example, settings, converter)
    lines = [f"Example answers: {example}", f"Built agreement {result.agreement_id} version {result.version}:"]
    lines += [f"  {path}" for path in result.files]
    if result.record is not None:
        lines.append(f"  model digest {result.record.model_digest}")
        lines.append(f"  empty signature fields: {', '.join(result.record.signature_fields)}")
    return lines
