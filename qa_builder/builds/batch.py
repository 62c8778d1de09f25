"""Many agreements: parallel builds sharing one warm LibreOffice pool; one failure never stops the rest."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa_builder.builds.pipeline import BuildResult, BuildSettings, build_one, locked_output_folder, open_pdf_engine
from qa_builder.errors import Hint, InputError, QABuilderError, failure_line
from qa_builder.render.pdf import PdfConverter

if TYPE_CHECKING:
    from qa_builder.render.typeset import PdfTypesetter


@dataclass(frozen=True)
class BatchItem:
    """The outcome for one answers file: a result, or an error message with the remedy (`hint`) if there is one."""

    answers: Path
    result: BuildResult | None
    error: str | None
    input_error: bool = False
    hint: Hint | None = None


ProgressCallback = Callable[[BatchItem], None]


def _import_field_writer_aside() -> None:
    """Import the signature-field writer (pyHanko: ~0.6 CPU-s) on a side thread. The first document's build
    threads wait for the typesetter at that time with the interpreter lock free, so the import costs the batch
    almost no time instead of delaying the first document's fields."""
    threading.Thread(target=importlib.import_module, args=("qa_builder.render.fields",), daemon=True,
                     name="qa-import-fields").start()


def build_many(
    answers_paths: list[Path],
    settings: BuildSettings,
    *,
    jobs: int = 1,
    progress: ProgressCallback | None = None,
    converter: PdfConverter | PdfTypesetter | None = None,
    notice: Callable[[str], None] | None = None,
) -> list[BatchItem]:
    """Build every answers file; report each outcome to `progress` as it completes.

    Args:
        answers_paths: answers files, built in parallel.
        settings: output folder, library, template, format, force.
        jobs: parallel builds (and LibreOffice workers).
        progress: called once per file, in completion order.
        converter: an existing PDF engine to use; one (settings.pdf_engine) is made and closed when None
            and PDFs are wanted.
        notice: told what the run does besides building (waiting for another run's lock, cleaning up).

    Returns:
        One item per answers file, in the order given.

    Raises:
        OutputFolderError: the output folder cannot be locked (disk full, read-only, permission).
    """
    jobs = max(1, min(jobs, len(answers_paths) or 1))
    if settings.fmt != "docx":
        _import_field_writer_aside()
    own = converter is None and settings.fmt != "docx"
    pool = open_pdf_engine(settings.pdf_engine, workers=jobs) if own else converter
    outcomes: dict[Path, BatchItem] = {}
    if pool is not None:
        pool.start()  # LibreOffice boots while the first agreements are assembled and rendered
    try:
        with locked_output_folder(settings.out_dir, notice), \
                ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="qa-build") as executor:
            futures = {executor.submit(build_one, path, settings, pool): path for path in answers_paths}
            for future in as_completed(futures):
                path = futures[future]
                try:
                    item = BatchItem(answers=path, result=future.result(), error=None)
                except QABuilderError as exc:
                    item = BatchItem(answers=path, result=None, error=str(exc),
                                     input_error=isinstance(exc, InputError), hint=exc.hint)
                except Exception as exc:  # an unexpected failure in one build never stops the others
                    item = BatchItem(answers=path, result=None, error=f"{path}: {failure_line(exc)}")
                outcomes[path] = item
                if progress is not None:
                    progress(item)
    finally:
        if own and pool is not None:
            pool.close()
    return [outcomes[p] for p in answers_paths]
