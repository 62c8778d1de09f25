"""Word-level diff of two texts, and the pairing of a clause's paragraphs, as a redline shows them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from itertools import zip_longest
from typing import Literal

from qa_builder.models.agreement import ClauseParagraph
from qa_builder.redline.compare import Pair

Op = Literal["same", "ins", "del"]
"""Unchanged, inserted or deleted text."""
Piece = tuple[Op, str]

_TOKENS = re.compile(r"\s+|\S+\s*")


def tokens(text: str) -> list[str]:
    """Words with their trailing whitespace (and any leading whitespace alone), so ''.join gives the text back."""
    return _TOKENS.findall(text)


def word_diff(old: str, new: str) -> list[Piece]:
    """Word-level pieces that read as `old` when insertions are dropped and as `new` when deletions are."""
    if old == new:  # most paragraphs and table cells of a redline: no diff to compute
        return [("same", old)] if old else []
    if not old or not new:
        return [("ins", new)] if new else [("del", old)]
    a, b = tokens(old), tokens(new)
    pieces: list[Piece] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            pieces.append(("same", "".join(a[i1:i2])))
        else:
            pieces.extend(_replacement("".join(a[i1:i2]), "".join(b[j1:j2])))
    return _joined(pieces)


def _replacement(gone: str, added: str) -> list[Piece]:
    """Deletion then insertion, leaving out whole words both start with and spaces both end with.

    So 'end' → 'end and more' only inserts ' and more'. A tab stays with its text: '1.2<tab>' → '1.3<tab>' shows
    each number at its own tab stop.
    """
    head = next((i for i, (x, y) in enumerate(zip(gone, added, strict=False)) if x != y), min(len(gone), len(added)))
    while head and not (_at_boundary(gone, head) and _at_boundary(added, head)):
        head -= 1
    rest_gone, rest_added = gone[head:], added[head:]
    keep = 0
    while (keep < min(len(rest_gone), len(rest_added)) and rest_gone[-1 - keep] == rest_added[-1 - keep]
           and rest_gone[-1 - keep] == " "):
        keep += 1
    return [("same", gone[:head]), ("del", rest_gone[:len(rest_gone) - keep]),
            ("ins", rest_added[:len(rest_added) - keep]), ("same", rest_gone[len(rest_gone) - keep:])]


def _at_boundary(text: str, index: int) -> bool:
    return index == len(text) or text[index].isspace() or text[index - 1].isspace()


def _joined(pieces: Sequence[Piece]) -> list[Piece]:
    """Drop empty pieces and join neighbours with the same operation."""
    joined: list[Piece] = []
    for op, text in pieces:
        if not text:
            continue
        if joined and joined[-1][0] == op:
            joined[-1] = (op, joined[-1][1] + text)
        else:
            joined.append((op, text))
    return joined


def pair_paragraphs(old: Sequence[ClauseParagraph], new: Sequence[ClauseParagraph]) -> list[Pair[ClauseParagraph]]:
    """Identical paragraphs pair up even if relabelled; the rest pair by position within each changed stretch."""
    a = [(p.kind, p.text) for p in old]
    b = [(p.kind, p.text) for p in new]
    pairs: list[Pair[ClauseParagraph]] = []
    for _tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        pairs.extend(zip_longest(old[i1:i2], new[j1:j2]))
    return pairs



def paragraph_mark(old: object | None, new: object | None) -> Op:
    """How a paragraph mark is tracked: inserted with a new-only paragraph, deleted with an old-only one."""
    if old is None:
        return "ins"
    return "del" if new is None else "same"

