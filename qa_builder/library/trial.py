"""A trial render of a clause library against the bundled example answers, for `library check`.

Loading a library checks what can be checked without answers (schema, names, syntax). A text can still
fail only when rendered: a macro that calls itself, a division by zero, adding text to a number, a
condition that fails for real answers. Rendering every clause that the bundled examples select finds
those faults in `library check`, before a build meets them.
"""

from __future__ import annotations

from pathlib import Path

from qa_builder.answers.load import load_answers
from qa_builder.errors import AnswersError, LibraryError, RenderError
from qa_builder.library.assemble import assemble_agreement
from qa_builder.library.select import check_answer_references, select_clauses
from qa_builder.models.library import ClauseLibrary
from qa_builder.sandbox.environment import accounted


@accounted(lint=True)
def trial_render(library: ClauseLibrary, root: Path, answers_paths: list[Path]) -> list[str]:
    """Select and render the clauses of `library` for each answers file; one line per fault found.

    An answers file that does not fit this library (it chooses a position or clause the library lacks)
    is skipped: that is not a fault of the library. A clause that no answers file selects is not rendered.

    Args:
        library: a library that loaded without problems.
        root: the library folder, to turn the clause's file (relative to it) into a full path.
        answers_paths: answers files to render with, usually the bundled examples.

    Returns:
        Distinct lines "FILE line N: clause 'ID' ... (rendering with answers EXAMPLE)", in order found.
    """
    faults: dict[str, str] = {}
    for path in answers_paths:
        try:
            answers_file = load_answers(path)
            check_answer_references(answers_file, library)
        except AnswersError:
            continue
        try:
            assemble_agreement(answers_file.answers, library, select_clauses(library, answers_file.answers))
        except (LibraryError, RenderError) as exc:
            for line in str(exc).splitlines():
                head, sep, rest = line.partition(" line ")
                full = f"{root / head}{sep}{rest}" if sep and (root / head).is_file() else line
                faults.setdefault(full, f"{full} (rendering with the answers in {path.name})")
    return list(faults.values())


def check_renders(library: ClauseLibrary, root: Path) -> None:
    """Trial-render `library` with every bundled example answers file.

    Raises:
        LibraryError: one line per fault, naming file, line and clause.
    """
    from qa_builder.bundled import examples_dir

    faults = trial_render(library, root, sorted(examples_dir().glob("*.yaml")))
    if faults:
        raise LibraryError(faults)
