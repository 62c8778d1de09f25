"""The redline's word diff on its own (qa_builder.redline.worddiff): no agreement, no DOCX."""

from __future__ import annotations

import itertools
import random

import pytest

from qa_builder.models.agreement import ClauseParagraph
from qa_builder.redline.worddiff import pair_paragraphs, paragraph_mark, tokens, word_diff


def _sides(pieces: list[tuple[str, str]]) -> tuple[str, str]:
    """The text with insertions dropped (old) and with deletions dropped (new)."""
    return ("".join(t for op, t in pieces if op != "ins"), "".join(t for op, t in pieces if op != "del"))


def test_an_appended_phrase_is_only_inserted() -> None:
    assert word_diff("within 30 days", "within 30 days and in writing") == [
        ("same", "within 30 days"), ("ins", " and in writing")]


def test_a_changed_number_keeps_its_tab_so_each_stands_at_its_own_tab_stop() -> None:
    assert word_diff("1.2\tQuality", "1.3\tQuality") == [("del", "1.2\t"), ("ins", "1.3\t"), ("same", "Quality")]


@pytest.mark.parametrize("seed", range(20))
def test_accepting_or_rejecting_every_piece_gives_either_text_back(seed: int) -> None:
    rng = random.Random(seed)
    words = ["the", "Sponsor", "shall", "notify", "30", "days", "\t", "  ", "(a)", "Batch", "\n"]
    old = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randint(0, 30)))
    new = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randint(0, 30)))
    pieces = word_diff(old, new)
    assert _sides(pieces) == (old, new)
    assert all(text for _, text in pieces)  # no empty pieces
    assert all(a[0] != b[0] for a, b in itertools.pairwise(pieces))  # neighbours differ in operation
    assert "".join(tokens(old)) == old


def test_identical_paragraphs_pair_up_even_when_others_are_inserted_before_them() -> None:
    a = ClauseParagraph(kind="body", text="Kept.")
    b = ClauseParagraph(kind="body", text="New.")
    assert pair_paragraphs([a], [b, a]) == [(None, b), (a, a)]
    assert [paragraph_mark(o, n) for o, n in [(None, b), (a, a), (a, None)]] == ["ins", "same", "del"]
