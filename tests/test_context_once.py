"""One rendering context per document: review, selection, coverage and assembly share it."""

from __future__ import annotations

from typing import Any

import pytest

from qa_builder.answers.load import load_answers
from qa_builder.library import context
from qa_builder.library.loader import load_library
from qa_builder.review.checks import review_with_preflight
from tests.conftest import DEMO_EXAMPLE


def test_review_and_assembly_derive_the_facts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    library = load_library()
    answers_file = load_answers(DEMO_EXAMPLE)
    derived: list[Any] = []
    real = context.derive_facts

    def counting(*args: Any) -> Any:
        derived.append(args[0])
        return real(*args)

    monkeypatch.setattr(context, "derive_facts", counting)
    _findings, checked = review_with_preflight(answers_file, library)
    assert checked is not None and checked.agreement.sections
    assert derived == [answers_file.answers], "one context for the review, selection, coverage and assembly"

    other = load_answers(DEMO_EXAMPLE)  # equal answers, another object: a context of its own
    review_with_preflight(other, library)
    assert derived == [answers_file.answers, other.answers]
    assert derived[1] is other.answers
