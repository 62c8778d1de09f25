"""Why a clause is in or out, in plain words: a clause's `applies_when` condition read out as a sentence.

The selection code (`qa_builder.library.select`) decides; its `SelectionDecision.reason` names the condition.
This module only reads the condition aloud for a reviewer: `facts.is_lab` becomes "the contract acceptor is a
contract laboratory", `subcontracting.allowed` becomes the interview's own question ("May the contract acceptor
subcontract any of the work?" is answered yes), and `'tech_transfer' in services` becomes "the services include
tech transfer". The condition is parsed with Jinja's parser only; nothing is evaluated here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

from qa_builder.models.agreement import SelectionDecision

# What each arrangement fact means (qa_builder.library.context.Facts), said positively and negatively.
_FACTS: dict[str, tuple[str, str]] = {
    "is_lab": ("the contract acceptor is a contract laboratory", "the contract acceptor is not a contract laboratory"),
    "is_cdmo": ("the contract acceptor is a CDMO", "the contract acceptor is not a CDMO"),
    "has_us": ("a product is for the US market", "no product is for the US market"),
    "has_eu": ("a product is for the EU market", "no product is for the EU market"),
    "has_uk": ("a product is for the UK market", "no product is for the UK market"),
    "has_ch": ("a product is for the Swiss market", "no product is for the Swiss market"),
    "has_jp": ("a product is for the Japanese market", "no product is for the Japanese market"),
    "has_ca": ("a product is for the Canadian market", "no product is for the Canadian market"),
    "has_au": ("a product is for the Australian market", "no product is for the Australian market"),
    "has_api": ("a product is an active substance (API)", "no product is an active substance (API)"),
    "has_sterile": ("a product is sterile", "no product is sterile"),
    "has_biologic": ("a product is a biologic", "no product is a biologic"),
    "has_investigational": ("a product is investigational", "no product is investigational"),
    "has_finished_product": ("a product is a finished product", "no product is a finished product"),
    "has_marketed": ("a product is marketed", "no product is marketed"),
    "investigational_only": ("every product is investigational", "not every product is investigational"),
    "qp_required": ("a product needs Qualified Person certification",
                    "no product needs Qualified Person certification"),
    "subcontracting_allowed": ("subcontracting is allowed", "subcontracting is not allowed"),
}
_ENVIRONMENT = Environment()
_PROMPT_TAIL = re.compile(r"\s*(\(yes/no\)|\[[^\]]*\])\s*$")


@dataclass(frozen=True)
class Explained:
    """A selection decision read out: the sentence, and the answers (question keys) it depends on."""

    included: bool
    sentence: str
    answers: tuple[str, ...]


def explain(decision: SelectionDecision, condition: str | None, prompts: Mapping[str, str]) -> Explained:
    """The decision about one clause in plain words.

    Args:
        decision: from the Agreement's ``decisions``.
        condition: the clause's ``applies_when`` expression (None when the clause is no longer in the library).
        prompts: question key -> the interview's question, to name an answer by the question that sets it.

    Returns:
        The sentence, e.g. "Included because a product is for the EU market.", and the question keys the
        condition reads (for an edit link).
    """
    reason = decision.reason
    position = _position_words(decision)
    if reason.startswith("left out: status is"):
        return Explained(False, f"Left out: this clause is {reason.rsplit(' ', 1)[-1]}, not approved.", ())
    if reason.startswith("left out: clause version"):
        return Explained(False, "Left out: " + reason.removeprefix("left out: ").replace(
            "is effective only from", "takes effect only on") + ", after this agreement's effective date.", ())
    if condition is None or not condition.strip() or condition.strip() == "true":
        return Explained(decision.included, ("Included: it applies to every agreement." + position)
                         if decision.included else f"{reason[:1].upper()}{reason[1:]}.", ())
    reader = _Reader(prompts)
    try:
        words = reader.read(_ENVIRONMENT.parse("{{ (" + condition + ") }}").body[0].nodes[0])  # type: ignore[attr-defined]
    except (TemplateSyntaxError, _Unreadable, AttributeError, IndexError):
        words = f"the condition {condition} holds"
    if decision.included:
        return Explained(True, f"Included because {words}.{position}", tuple(reader.keys))
    return Explained(False, f"Left out: it applies only when {words}, which is not so for these answers.",
                     tuple(reader.keys))


def _position_words(decision: SelectionDecision) -> str:
    if decision.position is None:
        return ""
    if "position chosen in answers" in decision.reason:
        return f" Its {decision.position} position was chosen in the answers."
    if "position from" in decision.reason:
        return f" Its {_human(decision.position)} position follows the answers."
    return f" It takes its first ({decision.position}) position."


class _Unreadable(Exception):
    """A condition this reader cannot put into words (the raw condition is shown instead)."""


class _Reader:
    """Reads one condition's expression tree aloud, noting the answers it reads."""

    def __init__(self, prompts: Mapping[str, str]) -> None:
        self.prompts = prompts
        self.keys: list[str] = []

    def read(self, node: nodes.Node, negated: bool = False) -> str:
        if isinstance(node, nodes.And):
            joined = (self.read(node.left, negated), self.read(node.right, negated))
            return f"{joined[0]} or {joined[1]}" if negated else f"{joined[0]} and {joined[1]}"
        if isinstance(node, nodes.Or):
            joined = (self.read(node.left, negated), self.read(node.right, negated))
            return f"{joined[0]} and {joined[1]}" if negated else f"{joined[0]} or {joined[1]}"
        if isinstance(node, nodes.Not):
            return self.read(node.node, not negated)
        if isinstance(node, nodes.Compare) and len(node.ops) == 1:
            return self._compare(node.expr, node.ops[0].op, node.ops[0].expr, negated)
        return self._truth(self._path(node), negated)

    def _truth(self, path: str, negated: bool) -> str:
        if path.startswith("facts."):
            name = path.removeprefix("facts.")
            said = _FACTS.get(name, (f"the arrangement fact '{name}' holds", f"the arrangement fact '{name}' does "
                                     "not hold"))
            return said[1] if negated else said[0]
        return f"{self._name(path)} is {'no (or left empty)' if negated else 'yes (or set)'}"

    def _compare(self, left: nodes.Expr, op: str, right: nodes.Expr, negated: bool) -> str:
        if negated:
            op = {"eq": "ne", "ne": "eq", "in": "notin", "notin": "in"}.get(op, op)
        if op in ("in", "notin") and isinstance(left, nodes.Const):
            container = self._path(right)
            value = _human(str(left.value))
            if container == "services":
                self._note(container)
                return f"the services {'include' if op == 'in' else 'do not include'} {value}"
            if container == "positions":
                return f"a position {'is' if op == 'in' else 'is not'} chosen for clause {left.value}"
            return f"{self._name(container)} {'includes' if op == 'in' else 'does not include'} {value}"
        if op in ("eq", "ne", "in", "notin"):
            path = self._path(left)
            values = _values(right)
            said = " or ".join(_human(v) for v in values)
            positive = op in ("eq", "in")
            return f"{self._name(path)} is {'' if positive else 'not '}{said}"
        raise _Unreadable(op)

    def _path(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Name):
            return node.name
        if isinstance(node, nodes.Getattr):
            return f"{self._path(node.node)}.{node.attr}"
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            return f"{self._path(node.node)}[{node.arg.value}]"
        raise _Unreadable(type(node).__name__)

    def _note(self, key: str) -> None:
        """Remember an answer the condition reads, when the interview asks it (for the edit link)."""
        if key in self.prompts and key not in self.keys:
            self.keys.append(key)

    def _name(self, path: str) -> str:
        if path.startswith("positions["):
            return f"the position chosen for clause {path[len('positions['):-1]}"
        prompt = self.prompts.get(path)
        if prompt is None:
            return " › ".join(_human(part) for part in path.split("."))
        self._note(path)
        return f"the answer to “{_PROMPT_TAIL.sub('', prompt)}”"


def _values(node: nodes.Node) -> list[str]:
    if isinstance(node, nodes.Const):
        return [str(node.value)]
    if isinstance(node, nodes.Tuple | nodes.List):
        return [str(item.value) for item in node.items if isinstance(item, nodes.Const)]
    raise _Unreadable(type(node).__name__)


def _human(value: str) -> str:
    return value.replace("_", " ")
