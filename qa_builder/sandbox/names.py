"""Before anything renders: prove that a text or template uses only fields of the data model.

`check_names` walks the parsed text, tracks the type of every value through `{% set %}`, `{% for %}`,
`{% with %}`, literals, filters and item access, and refuses any attribute that is not a declared field,
any method not on the sandbox's allow-list for that type, and any attribute, item or call on a value whose
type it cannot prove. It refuses rather than guesses; the sandbox enforces the same rules again at render.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from pydantic import BaseModel

from qa_builder.sandbox.environment import (
    DATE_FIELDS,
    DATE_METHODS,
    FILTERS,
    LOOP_FIELDS,
    MAPPING_METHODS,
    TEXT_METHODS,
    TemplateProblem,
    parse,
    validate_node,
)


@dataclass(frozen=True)
class Kind:
    """What the checker knows of a value: its kind, its model, or its item types."""

    name: str  # model, list, dict, tuple, str, int, float, bool, none, date, loop, unknown
    model: type[BaseModel] | None = None
    items: tuple[Kind, ...] = ()

    def describe(self) -> str:
        if self.model is not None:
            return self.model.__name__
        return {"str": "text", "int": "number", "float": "number", "dict": "mapping"}.get(self.name, self.name)


UNKNOWN = Kind("unknown")
STR, INT, FLOAT, BOOL, NONE, DATE, LOOP = (Kind(n) for n in ("str", "int", "float", "bool", "none", "date", "loop"))
_SCALAR_KINDS = {"str", "int", "float", "bool", "none", "date"}


def kind_of_annotation(annotation: Any) -> Kind:
    """The Kind of a value declared with this type annotation (pydantic field annotations)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return kind_of_annotation(args[0])
    if annotation is None or annotation is type(None):
        return NONE
    if origin in (typing.Union, types.UnionType):
        found = [kind_of_annotation(a) for a in args if a is not type(None)]
        return _join_all(found)
    if origin is typing.Literal:
        return _join_all([_kind_of_constant(v) for v in args])
    if origin in (list, tuple, set, frozenset) or (origin is not None and _is_sequence(origin)):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return Kind("tuple", items=tuple(kind_of_annotation(a) for a in args))
        return Kind("list", items=(kind_of_annotation(args[0]) if args else UNKNOWN,))
    if origin is dict or (origin is not None and isinstance(origin, type) and issubclass(origin, Mapping)):
        key, value = (kind_of_annotation(a) for a in args) if len(args) == 2 else (UNKNOWN, UNKNOWN)
        return Kind("dict", items=(key, value))
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return Kind("model", model=annotation)
        if issubclass(annotation, bool):
            return BOOL
        if issubclass(annotation, enum.Enum):
            return _join_all([_kind_of_constant(m.value) for m in annotation])
        if issubclass(annotation, str):
            return STR
        if issubclass(annotation, int):
            return INT
        if issubclass(annotation, (float, Decimal)):
            return FLOAT
        if issubclass(annotation, dt.date):
            return DATE
    return UNKNOWN


def _is_sequence(origin: Any) -> bool:
    from collections.abc import Sequence, Set

    return isinstance(origin, type) and issubclass(origin, (Sequence, Set)) and not issubclass(origin, str)


def _kind_of_constant(value: Any) -> Kind:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    if value is None:
        return NONE
    return UNKNOWN


def _join(a: Kind, b: Kind) -> Kind:
    if a == b:
        return a
    if a.name == "none":
        return b
    if b.name == "none":
        return a
    if a.name == b.name == "list":
        return Kind("list", items=(_join(a.items[0], b.items[0]),))
    return UNKNOWN


def _join_all(found: list[Kind]) -> Kind:
    if not found:
        return UNKNOWN
    result = found[0]
    for kind in found[1:]:
        result = _join(result, kind)
    return result


def _field_kind(model: type[BaseModel], name: str) -> Kind | None:
    if name in model.model_fields:
        return kind_of_annotation(model.model_fields[name].annotation)
    if name in model.model_computed_fields:
        return kind_of_annotation(model.model_computed_fields[name].return_type)
    return None


Scope = dict[str, Kind]


def check_names(source: str, known: Mapping[str, Any], *, expression: bool = False) -> None:
    """Raise TemplateProblem if the text uses anything outside the data model.

    Args:
        source: template text, or a bare expression when `expression` is true.
        known: every top-level name with its type annotation (a pydantic model, `list[str]`, `bool`, ...).
        expression: treat `source` as an expression.

    Raises:
        TemplateProblem: the first use refused, naming it and its line in the text.
    """
    tree = parse(source, expression=expression, validate=False)
    scope: Scope = {name: kind_of_annotation(annotation) for name, annotation in known.items()}
    try:
        _Checker(sorted(known)).body(tree.body, scope)
    except RecursionError as exc:
        raise TemplateProblem("is nested too deeply to be checked") from exc
    parse(source, expression=expression)  # then the structural allow-list (literals, constant operations)


def _text(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_text(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_text(node.node)}[...]"
    if isinstance(node, nodes.Call):
        return f"{_text(node.node)}(...)"
    if isinstance(node, nodes.Filter) and node.node is not None:
        return f"({_text(node.node)} | {node.name})"
    return "(...)"


class _Checker:
    def __init__(self, available: list[str]) -> None:
        self.available = available

    def fail(self, node: nodes.Node, message: str) -> TemplateProblem:
        return TemplateProblem(f"{message} (text line {node.lineno})")

    def refuse(self, node: nodes.Node) -> TemplateProblem:
        try:
            validate_node(node)
        except TemplateSyntaxError as exc:
            return TemplateProblem(f"does not compile (text line {exc.lineno}: {exc.message})")
        return self.fail(node, f"'{type(node).__name__}' is not allowed in a clause text or template")

    # statements -----------------------------------------------------------------------------------------

    def body(self, statements: list[nodes.Node], scope: Scope) -> Scope:
        for statement in statements:
            scope = self.statement(statement, scope)
        return scope

    def statement(self, node: nodes.Node, scope: Scope) -> Scope:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                printed = self.expr(child, scope)
                if printed.model is not None or printed.name in ("list", "dict", "tuple", "loop"):
                    raise self.fail(child, f"prints {_text(child)}, {_a(printed.describe())}, as it is; name one of "
                                           f"its fields, or join a list")
            return scope
        if isinstance(node, nodes.Assign):
            value = self.expr(node.node, scope)
            return self.bind(node.target, value, dict(scope))
        if isinstance(node, nodes.If):
            self.expr(node.test, scope)
            branches = [self.body(node.body, dict(scope))]
            for elif_ in node.elif_:
                self.expr(elif_.test, scope)
                branches.append(self.body(elif_.body, dict(scope)))
            branches.append(self.body(node.else_, dict(scope)))
            return _merge(scope, branches)
        if isinstance(node, nodes.For):
            return self.loop(node, scope)
        if isinstance(node, nodes.With):
            inner = dict(scope)
            for target, bound in zip(node.targets, node.values, strict=True):
                inner = self.bind(target, self.expr(bound, scope), inner)
            return _merge(scope, [self.body(node.body, inner)])
        raise self.refuse(node)

    def loop(self, node: nodes.For, scope: Scope) -> Scope:
        item = self.item_of(node.iter, self.expr(node.iter, scope))
        entry = dict(scope)
        for _ in range(len(scope) + 8):  # until what the body assigns no longer changes what it sees
            inner = self.bind(node.target, item, dict(entry))
            inner["loop"] = LOOP
            if node.test is not None:
                self.expr(node.test, inner)
            after = self.body(node.body, inner)
            after.pop("loop", None)
            merged = _merge(entry, [after])
            if merged == entry:
                break
            entry = merged
        else:
            raise self.fail(node, "this loop's variables change kind too often to be checked")
        self.body(node.else_, dict(scope))
        return _merge(scope, [entry])

    def bind(self, target: nodes.Node, value: Kind, scope: Scope) -> Scope:
        if isinstance(target, nodes.Name):
            if target.name == "loop":
                raise self.fail(target, "'loop' cannot be assigned")
            scope[target.name] = value
            return scope
        if isinstance(target, nodes.Tuple):
            parts = target.items
            if value.name == "tuple" and len(value.items) == len(parts):
                kinds = list(value.items)
            else:
                kinds = [UNKNOWN] * len(parts)
            for part, kind in zip(parts, kinds, strict=True):
                scope = self.bind(part, kind, scope)
            return scope
        raise self.fail(target, "only plain names can be assigned")

    # expressions ---------------------------------------------------------------------------------------

    def expr(self, node: nodes.Node, scope: Scope) -> Kind:
        if isinstance(node, nodes.TemplateData):
            return STR
        if isinstance(node, nodes.Const):
            return _kind_of_constant(node.value)
        if isinstance(node, nodes.Name):
            if node.name not in scope:
                raise TemplateProblem(
                    f"uses unknown name(s) {node.name} (text line {node.lineno}); "
                    f"available: {', '.join(self.available)}")
            return scope[node.name]
        if isinstance(node, nodes.Getattr):
            return self.attribute(node, self.expr(node.node, scope))
        if isinstance(node, nodes.Getitem):
            return self.item(node, self.expr(node.node, scope), scope)
        if isinstance(node, nodes.Call):
            return self.call(node, scope)
        if isinstance(node, nodes.Filter):
            return self.filter(node, scope)
        if isinstance(node, nodes.Test):
            self.expr(node.node, scope)
            self.all(node.args, scope)
            self.all([k.value for k in node.kwargs], scope)
            return BOOL
        if isinstance(node, nodes.CondExpr):
            self.expr(node.test, scope)
            first = self.expr(node.expr1, scope)
            return _join(first, self.expr(node.expr2, scope)) if node.expr2 is not None else first
        if isinstance(node, (nodes.And, nodes.Or)):
            return _join(self.expr(node.left, scope), self.expr(node.right, scope))
        if isinstance(node, nodes.Not):
            self.expr(node.node, scope)
            return BOOL
        if isinstance(node, (nodes.Neg, nodes.Pos)):
            return self.expr(node.node, scope)
        if isinstance(node, nodes.Compare):
            self.expr(node.expr, scope)
            self.all([op.expr for op in node.ops], scope)
            return BOOL
        if isinstance(node, nodes.BinExpr):
            return _arithmetic(node.operator, self.expr(node.left, scope), self.expr(node.right, scope))
        if isinstance(node, nodes.Concat):
            self.all(node.nodes, scope)
            return STR
        if isinstance(node, (nodes.List, nodes.Tuple)):
            kinds = self.all(node.items, scope)
            if isinstance(node, nodes.Tuple):
                return Kind("tuple", items=tuple(kinds))
            return Kind("list", items=(_join_all(kinds) if kinds else UNKNOWN,))
        if isinstance(node, nodes.Dict):
            keys = self.all([p.key for p in node.items], scope)
            values = self.all([p.value for p in node.items], scope)
            return Kind("dict", items=(_join_all(keys), _join_all(values)))
        if isinstance(node, nodes.Slice):
            self.all([n for n in (node.start, node.stop, node.step) if n is not None], scope)
            return UNKNOWN
        raise self.refuse(node)

    def all(self, items: Sequence[nodes.Node], scope: Scope) -> list[Kind]:
        return [self.expr(item, scope) for item in items]

    def attribute(self, node: nodes.Getattr, owner: Kind) -> Kind:
        where = _text(node.node)
        if owner.model is not None:
            found = _field_kind(owner.model, node.attr)
            if found is None:
                raise self.fail(node, f"uses {where}.{node.attr}, but {where} has no field '{node.attr}'")
            return found
        if owner.name == "loop" and node.attr in LOOP_FIELDS:
            return BOOL if node.attr in ("first", "last") else INT
        if owner.name == "date" and node.attr in DATE_FIELDS:
            return INT
        raise self.fail(node, f"uses {where}.{node.attr}, but {where} is {_a(owner.describe())} without a "
                              f"field '{node.attr}'")

    def item(self, node: nodes.Getitem, owner: Kind, scope: Scope) -> Kind:
        key_node = node.arg
        if isinstance(key_node, nodes.Slice):
            self.expr(key_node, scope)
            if owner.name in ("list", "str"):
                return owner
            raise self.fail(node, f"uses {_text(node)}, but {_text(node.node)} is {_a(owner.describe())}")
        key = self.expr(key_node, scope)
        constant = key_node.value if isinstance(key_node, nodes.Const) else None
        if owner.model is not None and isinstance(constant, str):
            attr = nodes.Getattr(node.node, constant, "load", lineno=node.lineno)
            return self.attribute(attr, owner)
        if owner.name == "list" and key.name == "int":
            return owner.items[0]
        if owner.name == "str" and key.name == "int":
            return STR
        if owner.name == "tuple" and isinstance(constant, int) and 0 <= constant < len(owner.items):
            return owner.items[constant]
        if owner.name == "dict":
            return owner.items[1]
        raise self.fail(node, f"uses {_text(node)}, but {_text(node.node)} is {_a(owner.describe())} that cannot be "
                              f"indexed that way")

    def call(self, node: nodes.Call, scope: Scope) -> Kind:
        callee = node.node
        if not isinstance(callee, nodes.Getattr):
            raise self.fail(node, "only methods of the data (such as .items() or .strftime()) may be called")
        owner = self.expr(callee.node, scope)
        self.all(node.args, scope)
        self.all([k.value for k in node.kwargs], scope)
        where, method = _text(callee.node), callee.attr
        if owner.name == "dict" and method in MAPPING_METHODS:
            key, value = owner.items
            return Kind("list", items=({"keys": key, "values": value}.get(method, Kind("tuple", items=(key, value))),))
        if owner.name == "date" and method in DATE_METHODS:
            return STR
        if owner.name == "str" and method in TEXT_METHODS:
            return BOOL if method in ("startswith", "endswith") else STR
        if owner.model is not None:
            raise self.fail(node, f"calls {where}.{method}(), but {where} is {_a(owner.describe())}: only its fields "
                                  f"may be used")
        raise self.fail(node, f"calls {where}.{method}(), which is not a method a clause text or template may "
                              f"use on a {owner.describe()}")

    def filter(self, node: nodes.Filter, scope: Scope) -> Kind:
        if node.name not in FILTERS:
            raise self.fail(node, f"the filter '{node.name}' is not allowed")
        value = self.expr(node.node, scope) if node.node is not None else STR
        self.all(node.args, scope)
        self.all([k.value for k in node.kwargs], scope)
        name = node.name
        if name == "map":
            return self.mapped(node, value)
        if name in ("length", "count", "int"):
            return INT
        if name in ("float", "round", "abs"):
            return FLOAT if name != "abs" else value
        if name in ("first", "last"):
            return self.item_of(node, value)
        if name in ("default", "d"):
            return _join(value, self.expr(node.args[0], scope)) if node.args else value
        if name == "clock" and (value.model is None or value.model.__name__ != "Clock" or node.args
                                or node.kwargs):
            raise self.fail(node, f"the filter 'clock' takes a clock of the catalogue (clocks.<id>) and no "
                                  f"arguments, not {_a(value.describe())}")
        if name in ("join", "join_and") and (node.kwargs or len(node.args) > 1):
            raise self.fail(node, f"'{name}' takes only a separator here")
        return STR

    def mapped(self, node: nodes.Filter, value: Kind) -> Kind:
        item = self.item_of(node, value)
        if node.args and isinstance(node.args[0], nodes.Const) and node.args[0].value in FILTERS \
                and not node.kwargs and node.args[0].value != "map":
            return Kind("list", items=(STR if node.args[0].value not in ("length", "count") else INT,))
        if not node.args and [k.key for k in node.kwargs] == ["attribute"] \
                and isinstance(node.kwargs[0].value, nodes.Const) and isinstance(node.kwargs[0].value.value, str):
            found = item
            for part in node.kwargs[0].value.value.split("."):
                found = self.attribute(nodes.Getattr(node.node, part, "load", lineno=node.lineno), found)
            return Kind("list", items=(found,))
        raise self.fail(node, "map takes the name of an allowed filter, or attribute='field'")

    def item_of(self, node: nodes.Node, value: Kind) -> Kind:
        if value.name == "list":
            return value.items[0]
        if value.name == "dict":
            return value.items[0]
        if value.name == "str":
            return STR
        if value.name == "unknown":
            return UNKNOWN
        raise self.fail(node, f"{_text(node)} is {_a(value.describe())}, which cannot be looped over")


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _merge(before: Scope, branches: list[Scope]) -> Scope:
    merged = dict(before)
    for branch in branches:
        for name, kind in branch.items():
            merged[name] = _join(merged[name], kind) if name in merged else kind
    return merged


def _arithmetic(op: str, left: Kind, right: Kind) -> Kind:
    if left.name in ("int", "bool") and right.name in ("int", "bool") and op in ("+", "-", "*", "//", "%", "**"):
        return INT
    if {left.name, right.name} <= {"int", "float", "bool"}:
        return FLOAT
    if op in ("+", "*") and "str" in (left.name, right.name):
        return STR
    if op in ("+", "*") and left.name == "list":
        return left
    return UNKNOWN if left.name not in _SCALAR_KINDS else left
