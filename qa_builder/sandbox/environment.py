"""The only Jinja environment: sandboxed, strict, bounded; used for clause texts, conditions and templates.

A clause library and a DOCX template are data that anyone may write, so what they can do is an allow-list:

- Every compiled text first passes `validate_structure`: only plain output, `if`, `for`, `set` and `with`
  statements, literals of constants, and the filters, tests and methods listed here. Macros, includes,
  recursive loops, `{% set %}` blocks, `|safe`, `|attr` and every call other than a listed method are
  refused before any code is generated.
- Rendering sees only frozen copies of the data (`freeze`): a model becomes a `Record` that holds its
  fields and nothing else, lists become tuples, dicts read-only mappings. Attribute access, item access
  and calls go through this environment, which resolves model fields and a few read-only methods
  (`dict.items()`, `date.strftime()`, `str.upper()`, ...), and nothing else.
- Each render is bounded: loop steps, output characters and wall-clock time (`RenderLimits`); arithmetic,
  `~`, `join` and `replace` refuse results above `MAX_TEXT` characters before making them; constant
  folding at compile time cannot multiply or format strings (every binary operator is intercepted).

Limits overrun raise `RenderLimitExceeded`; any other refusal raises jinja2's `SecurityError`.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib.util
import marshal
import math
import operator
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

import jinja2
from jinja2 import filters as jfilters
from jinja2 import nodes, pass_context, pass_eval_context
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.parser import Parser
from jinja2.runtime import Context, LoopContext, Undefined, markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer
from markupsafe import escape, soft_str
from pydantic import BaseModel

from qa_builder.cache import entry_key, read_entry, write_entry
from qa_builder.models.text import text_problem

MAX_TEXT = 1_000_000
"""Characters of any one text an expression may make (a join, a `~`, a `*`, a `replace`)."""
MAX_ITEMS = 100_000
"""Items of any one list an expression may make (`+`, `*`)."""
MAX_INT_BITS = 256
"""Bits of any integer an expression may make (`*`, `**`)."""
MAX_LITERAL = 10_000
"""Characters of a string literal, digits of a number literal, in a text or template."""
MAX_NODES = 10_000
"""Expressions, statements and text pieces of one compiled text or template part (compiling is not bounded by a
render's limits: its time and memory grow with this)."""
MAX_ROUND_DIGITS = 20
"""Digits of precision `round` may take (each way): it computes 10 ** precision."""
MAX_STRIP_CHARS = 100
"""Characters a `strip`/`lstrip`/`rstrip` method or the `trim` filter may be asked to remove: CPython looks each
character of the text up in them one by one, so a 1,000,000-character set made one call over a 1,000,000-character
text run 31 s (up to minutes), past the render's time bound, which is checked between calls (session 6 attack)."""
MAX_DATE_FORMAT = 100
"""Characters of a `strftime` format: CPython grows its buffer to 256 wide characters per format character until
the text fits, so a 960,000-character format of '%099999Y' held 1 GB (session 6 attack)."""


@dataclass(frozen=True)
class RenderLimits:
    """Bounds on one render.

    Attributes:
        max_output: characters of rendered output.
        max_steps: loop iterations, over all loops of the render.
        max_seconds: wall-clock seconds.
    """

    max_output: int
    max_steps: int
    max_seconds: float


CLAUSE_LIMITS = RenderLimits(max_output=1_000_000, max_steps=100_000, max_seconds=5.0)
DOCUMENT_LIMITS = RenderLimits(max_output=64_000_000, max_steps=2_000_000, max_seconds=30.0)
"""A whole DOCX template: the bundled one renders the 37-page example in about 0.07 s of processor time; a 40 KB
template of nested loops over string work ran a build for 4 minutes under the earlier 300 s (session 6 attack)."""


class RenderLimitExceeded(SecurityError):
    """A render ran past its loop steps, output size or time."""


class TemplateProblem(Exception):
    """A text or condition does not compile, uses something outside the data model, or fails to render."""


# --- frozen data --------------------------------------------------------------------------------------


class Record:
    """A read-only group of named fields: what a clause text or template sees of a model.

    It has no public methods and no attributes other than its fields, so nothing in a text can call
    into pydantic (`parse_raw`, `copy`, ...) or change the answers.
    """

    __slots__ = ("_fields", "_kind")
    _kind: str
    _fields: Mapping[str, Any]

    def __init__(self, kind: str, fields: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_fields", types.MappingProxyType(dict(fields)))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"{self._kind} has no field '{name}'") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._kind} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self._kind} is read-only")

    def __repr__(self) -> str:
        return f"<{self._kind}>"

    def __str__(self) -> str:
        raise TypeError(f"a {self._kind} is a group of fields and cannot be printed; name one of its fields")


_SCALARS = (str, int, float, bool, type(None), dt.date, dt.datetime, Decimal)


def freeze(value: Any) -> Any:
    """An immutable copy of model data for rendering.

    Models become `Record`s of their declared fields, lists and tuples become tuples, sets frozensets,
    dicts read-only mappings; enums become their values. Scalars are kept as they are.

    Raises:
        TypeError: a value of a type a template has no business seeing.
    """
    if isinstance(value, BaseModel):
        cls = type(value)
        names = [*cls.model_fields, *cls.model_computed_fields]
        return Record(cls.__name__, {name: freeze(getattr(value, name)) for name in names})
    if isinstance(value, enum.Enum):
        return freeze(value.value)
    if isinstance(value, str):  # a plain str, never Markup: data is always escaped in DOCX templates
        return value if type(value) is str else str.__str__(value)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return types.MappingProxyType({freeze(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    if isinstance(value, Record):
        return value
    raise TypeError(f"a {type(value).__name__} value cannot be passed to a template")


class FrozenContext(dict[str, Any]):
    """A rendering context whose values are all frozen (made only by freeze_context; never changed)."""


def freeze_context(context: Mapping[str, Any]) -> FrozenContext:
    """`freeze` applied to every value of a rendering context (a FrozenContext is returned as it is)."""
    if isinstance(context, FrozenContext):
        return context
    return FrozenContext({name: freeze(value) for name, value in context.items()})


# --- the budget of one render ---------------------------------------------------------------------------


class _Budget:
    def __init__(self, limits: RenderLimits, account_left: float | None = None, account_why: str = "") -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.time_message = f"it ran longer than {limits.max_seconds:g} s"
        if account_left is not None and account_left < limits.max_seconds:
            self.deadline = time.monotonic() + max(account_left, 0.0)
            self.time_message = account_why
        self.steps = 0
        self.output = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise RenderLimitExceeded(f"its loops ran past {self.limits.max_steps:,} steps")
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(self.time_message)

    def add_output(self, size: int) -> None:
        self.output += size
        if self.output > self.limits.max_output:
            raise RenderLimitExceeded(f"its output grew past {self.limits.max_output:,} characters")
        self.check_time()


_ACTIVE: ContextVar[_Budget | None] = ContextVar("qa_builder_render_budget", default=None)


class _Account:
    """The render time of many texts and conditions together: each render is bounded by CLAUSE_LIMITS, but an
    agreement renders every clause, and the library lint every clause under hundreds of arrangements, so a
    library of clauses that each take a little under the bound took hours (session 5 attack)."""

    def __init__(self, total_seconds: float, per_text_seconds: float) -> None:
        self.total_seconds = total_seconds
        self.per_text_seconds = per_text_seconds
        self.spent = 0.0
        self.by_text: dict[int, float] = {}

    def left(self, key: int) -> tuple[float, str]:
        """Seconds the text `key` may still take, and the sentence saying why it was stopped."""
        own = self.per_text_seconds - self.by_text.get(key, 0.0)
        total = self.total_seconds - self.spent
        if own <= total:
            return own, (f"rendering it took more than {self.per_text_seconds:g} s in all, over every time it "
                         f"was rendered; a clause text or condition takes milliseconds")
        return total, (f"the clause texts and conditions took more than {self.total_seconds:g} s in all to "
                       f"render, and this one was rendering then")

    def charge(self, key: int, seconds: float) -> None:
        self.spent += seconds
        self.by_text[key] = self.by_text.get(key, 0.0) + seconds


_ACCOUNT: ContextVar[_Account | None] = ContextVar("qa_builder_render_account", default=None)

AGREEMENT_RENDER_SECONDS = 10.0
"""Processor seconds of all the clause texts and conditions of one agreement's selection or assembly (the bundled
library's: about 0.02 s)."""
LINT_RENDER_SECONDS = 120.0
"""Processor seconds of everything the library lint renders (the bundled library: about 8 s of processor time,
15 s of wall-clock time on a 2-core machine at load 6). Session 6: was 300 wall-clock seconds, which a hostile
library could fill; processor time does not grow with the machine's load, so the bound can be closer."""
LINT_TEXT_SECONDS = 15.0
"""Processor seconds of one clause text or condition over every arrangement of the library lint (the bundled
library's slowest: about 1.5 s)."""


@contextmanager
def accounted(*, lint: bool = False) -> Iterator[None]:
    """Bound the render time of every text and condition rendered inside, in all and per text: by
    AGREEMENT_RENDER_SECONDS and one render's bound, or (`lint`) LINT_RENDER_SECONDS and LINT_TEXT_SECONDS. An
    enclosing account keeps its own bounds."""
    if _ACCOUNT.get() is not None:
        yield
        return
    account = (_Account(LINT_RENDER_SECONDS, LINT_TEXT_SECONDS) if lint
               else _Account(AGREEMENT_RENDER_SECONDS, CLAUSE_LIMITS.max_seconds))
    token = _ACCOUNT.set(account)
    try:
        yield
    finally:
        _ACCOUNT.reset(token)


@contextmanager
def _charged(key: object, limits: RenderLimits) -> Iterator[None]:
    """Render one text or condition (`key`: its compiled form) within `limits` and what its account has left."""
    account = _ACCOUNT.get()
    if account is None or _ACTIVE.get() is not None:
        with bounded(limits):
            yield
        return
    left, why = account.left(id(key))
    token = _ACTIVE.set(_Budget(limits, left, why))
    started = time.thread_time()  # the processor time of this render, whatever else runs on the machine
    try:
        yield
    finally:
        account.charge(id(key), time.thread_time() - started)
        _ACTIVE.reset(token)


@contextmanager
def bounded(limits: RenderLimits) -> Iterator[None]:
    """Run a render (or a condition) under `limits`; an enclosing bounded render keeps its own budget."""
    if _ACTIVE.get() is not None:
        yield
        return
    token = _ACTIVE.set(_Budget(limits))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _check_time() -> None:
    budget = _ACTIVE.get()
    if budget is not None:
        budget.check_time()


def _check_text(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise RenderLimitExceeded(f"it made a text longer than {MAX_TEXT:,} characters")
    return value


def _scalar_text(value: Any, what: str) -> str:
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises here, naming the undefined value
    if isinstance(value, (Record, tuple, list, Mapping, set, frozenset)) or not isinstance(value, _SCALARS):
        raise SecurityError(f"{what} takes texts and numbers, not a {_kind_of(value)}")
    return str(value)


def _kind_of(value: Any) -> str:
    if isinstance(value, Record):
        return value._kind
    if isinstance(value, (tuple, list)):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


# --- filters and tests ------------------------------------------------------------------------------------


def join_and(values: Iterable[Any], last: str = "and") -> str:
    """['a', 'b', 'c'] → 'a, b and c'."""
    items = [_scalar_text(v, "join_and") for v in values]
    _check_size(sum(len(i) + 2 for i in items) + len(str(last)) + 2)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def plural(amount: Any, unit: str) -> str:
    """One way every clock is written: 1, 'Business Day' → '1 Business Day'; 2 → '2 Business Days'.

    Args:
        amount: a whole number (an int, or a string of digits).
        unit: the singular unit, e.g. 'day', 'hour', 'month', 'year', 'Business Day'.

    Raises:
        ValueError: amount is not a whole number.
    """
    number = int(amount)
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def clock(value: Any) -> str:
    """A catalogue clock (`clocks.<id>`, a Clock record of amount and unit) as text: '2 Business Days'.

    Raises:
        TypeError: value is not a clock of the library's catalogue.
    """
    if not isinstance(value, Record) or value._kind != "Clock":
        raise TypeError("the 'clock' filter takes a clock of the library's catalogue, such as clocks.<id>")
    return plural(value.amount, value.unit)


def raci_code(code: str) -> str:
    """One notation for RACI codes everywhere: 'RA' → 'R/A'; '-' or '' → '–'."""
    text = _scalar_text(code, "raci_code")
    return "–" if text in ("-", "") else "/".join(text)


def _check_size(size: int) -> None:
    if size > MAX_TEXT:
        raise RenderLimitExceeded(f"it would make a text longer than {MAX_TEXT:,} characters")


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "") -> str:
    items = list(value)
    texts = [_scalar_text(v, "join") for v in items]
    _check_size(sum(len(t) for t in texts) + len(str(d)) * max(len(items) - 1, 0))
    return jfilters.sync_do_join(eval_ctx, items, d)


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old_text, new_text = (_scalar_text(v, "replace") for v in (s, old, new))
    hits = len(text) + 1 if old_text == "" else text.count(old_text)
    if count is not None and int(count) >= 0:  # a negative count replaces every one, as no count does: a count of
        hits = min(hits, int(count))  # -1 was taken as 0 and let a million 10,000-character replacements through
    _check_size(len(text) + hits * max(len(new_text) - len(old_text), 0))
    return jfilters.do_replace(eval_ctx, s, old, new, count)


def _text_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    def bounded_filter(value: Any, *args: Any, **kwargs: Any) -> Any:
        _scalar_text(value, function.__name__.removeprefix("do_"))
        return _check_text(function(value, *args, **kwargs))

    return bounded_filter


_STRIPS = frozenset({"strip", "lstrip", "rstrip"})


def _check_strip_chars(what: str, args: Iterable[Any]) -> None:
    if any(isinstance(a, str) and len(a) > MAX_STRIP_CHARS for a in args):
        raise SecurityError(f"{what} takes at most {MAX_STRIP_CHARS} characters to remove")


def _trim(value: Any, chars: Any = None) -> str:
    """`trim`, refusing a set of characters to remove longer than MAX_STRIP_CHARS (see there)."""
    _scalar_text(value, "trim")
    _check_strip_chars("trim", (chars,))
    return str(jfilters.do_trim(value, chars))


@pass_context
def _map(context: Context, value: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    """`map`, with each item it makes counted as a loop step and its text against the output budget: a `map`
    over a long text made a million items, each up to the text limit, before `join` saw any of them."""
    budget = _ACTIVE.get()
    if budget is None:
        raise SecurityError("map ran outside a bounded render")
    return _made(iter(jfilters.sync_do_map(context, value, *args, **kwargs)), budget)


def _made(iterator: Iterator[Any], budget: _Budget) -> Iterator[Any]:
    for item in iterator:
        budget.step()
        if isinstance(item, str):
            budget.add_output(len(item))
        yield item


def _escape(value: Any) -> Any:
    """`escape`, refusing a result above the text limit (each '&' becomes five characters)."""
    text = value if isinstance(value, str) else _scalar_text(value, "escape")
    _check_size(len(text) + 4 * sum(text.count(c) for c in "&<>\"'"))
    return escape(value)


def _int(value: Any, default: int = 0, base: int = 10) -> int:
    """`int`, refusing a number above MAX_INT_BITS: `('f' * 1000000) | int(base=16)` made a 4-million-bit number,
    and one division of two such numbers ran 7 s, past the clause's time bound, inside one operation."""
    result = jfilters.do_int(value, default, base)
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        raise RenderLimitExceeded(f"it would make a number of more than {MAX_INT_BITS} bits")
    return result


def _round(value: Any, precision: Any = 0, method: str = "common") -> Any:
    """`round`, refusing a precision beyond MAX_ROUND_DIGITS: `round(999999999, 'floor')` computes
    10 ** 999999999 and never ends."""
    if not isinstance(precision, int) or abs(precision) > MAX_ROUND_DIGITS:
        raise SecurityError(f"round takes a whole number of digits from -{MAX_ROUND_DIGITS} to {MAX_ROUND_DIGITS}, "
                            f"not {str(precision)[:20]}")
    return jfilters.do_round(value, precision, method)  # type: ignore[arg-type]


def _float(value: Any, default: float = 0.0) -> float:
    """`float`, refusing infinity and not-a-number ('1e999' or 'nan' would otherwise be folded into the compiled
    text as a name that does not exist, an internal error instead of a line naming the clause)."""
    result = jfilters.do_float(value, default)
    if not math.isfinite(result):
        raise SecurityError(f"float made {result!r}, which is not a finite number")
    return result


@pass_context
def _steps(context: Context, iterable: Any) -> Iterator[Any]:
    """Internal: wraps the iterable of every `for` loop so that each step counts against the budget."""
    budget = _ACTIVE.get()
    if budget is None:
        raise SecurityError("a loop ran outside a bounded render")
    return _counted(iter(iterable), budget)


def _counted(iterator: Iterator[Any], budget: _Budget) -> Iterator[Any]:
    for item in iterator:
        budget.step()
        yield item


@pass_eval_context
def _concat(eval_ctx: EvalContext, values: Iterable[Any]) -> str:
    """Internal: `a ~ b`, refusing results above MAX_TEXT before making them."""
    items = list(values)
    _check_size(sum(len(_scalar_text(v, "'~'")) for v in items))
    return str(markup_join(items) if eval_ctx.autoescape else str_join(items))


FILTERS: dict[str, Callable[..., Any]] = {
    "join": _join,
    "join_and": join_and,
    "plural": plural,
    "clock": clock,
    "raci_code": raci_code,
    "map": _map,
    "length": len,
    "count": len,
    "replace": _replace,
    "upper": _text_filter(jfilters.do_upper),
    "lower": _text_filter(jfilters.do_lower),
    "capitalize": _text_filter(jfilters.do_capitalize),
    "title": _text_filter(jfilters.do_title),
    "trim": _trim,
    "first": jfilters.sync_do_first,
    "last": jfilters.do_last,
    "default": jfilters.do_default,
    "d": jfilters.do_default,
    "escape": _escape,
    "e": _escape,
    "string": _text_filter(soft_str),
    "int": _int,
    "float": _float,
    "abs": abs,
    "round": _round,
}
"""The filters a text or template may use (the only ones the environments know)."""

_INTERNAL_FILTERS: dict[str, Callable[..., Any]] = {"_qa_steps": _steps, "_qa_concat": _concat}

_TEST_NAMES = ("defined", "undefined", "none", "number", "string", "true", "false", "eq", "equalto", "==",
               "ne", "!=", "lt", "<", "le", "<=", "gt", ">", "ge", ">=", "in", "even", "odd", "divisibleby")
TESTS: dict[str, Callable[..., Any]] = {
    name: cast(Callable[..., Any], test) for name, test in jinja2.Environment().tests.items() if name in _TEST_NAMES
}
"""The tests (`x is ...`) a text or template may use."""

LOOP_FIELDS = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0"})
"""What `loop.` may name inside a `for` loop."""

TEXT_METHODS = frozenset({"upper", "lower", "capitalize", "title", "strip", "lstrip", "rstrip", "startswith",
                          "endswith"})
DATE_FIELDS = frozenset({"year", "month", "day"})
DATE_METHODS = frozenset({"strftime", "isoformat"})
MAPPING_METHODS = frozenset({"items", "keys", "values"})
METHOD_NAMES = TEXT_METHODS | DATE_METHODS | MAPPING_METHODS
"""Every method name a call may use; which value it may be called on is checked too."""


def _finalize(value: Any) -> Any:
    if isinstance(value, (Record, tuple, list, Mapping, set, frozenset, Iterator)):
        raise SecurityError(f"a {_kind_of(value)} cannot be printed as it is; name a field or use join")
    return value


# --- structure: what a text may contain -----------------------------------------------------------------


_STATEMENTS = (nodes.Output, nodes.If, nodes.For, nodes.Assign, nodes.With)
_EXPRESSIONS = (nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr, nodes.Getitem, nodes.Slice,
                nodes.Filter, nodes.Test, nodes.CondExpr, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos,
                nodes.Compare, nodes.Operand, nodes.BinExpr, nodes.Concat, nodes.Call, nodes.Keyword,
                nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair)
_STATEMENT_WORDS: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}", nodes.CallBlock: "{% call %}", nodes.FilterBlock: "{% filter %}",
    nodes.AssignBlock: "{% set %}...{% endset %}", nodes.Include: "{% include %}", nodes.Import: "{% import %}",
    nodes.FromImport: "{% from %}", nodes.Extends: "{% extends %}", nodes.Block: "{% block %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}", nodes.EvalContextModifier: "{% autoescape %}",
}


def _refuse(node: nodes.Node, message: str) -> jinja2.TemplateSyntaxError:
    return jinja2.TemplateSyntaxError(message, node.lineno or 1)


def validate_structure(tree: nodes.Node) -> None:
    """Refuse every construct outside the allow-list, before any code is generated.

    Raises:
        jinja2.TemplateSyntaxError: the first construct refused, with its line.
    """
    for count, node in enumerate((tree, *tree.find_all(nodes.Node))):
        if count > MAX_NODES:  # 140,000 '{{ x }}' (980 KB) took 48 s and 1.4 GB to compile
            raise _refuse(node, f"it holds more than {MAX_NODES:,} expressions and statements (the longest clause "
                                "text of the bundled library holds about 600)")
        validate_node(node)


def validate_node(node: nodes.Node) -> None:
    """Refuse one construct outside the allow-list (see validate_structure)."""
    if isinstance(node, nodes.Template):
        return
    word = _STATEMENT_WORDS.get(type(node))
    if word is not None:
        raise _refuse(node, f"'{word}' is not allowed in a clause text or template")
    if not isinstance(node, (*_STATEMENTS, *_EXPRESSIONS)):
        raise _refuse(node, f"'{type(node).__name__}' is not allowed in a clause text or template")
    if isinstance(node, nodes.For) and node.recursive:
        raise _refuse(node, "recursive loops are not allowed in a clause text or template")
    if isinstance(node, nodes.Filter) and node.name not in FILTERS:
        raise _refuse(node, f"the filter '{node.name}' is not allowed; allowed: {', '.join(sorted(FILTERS))}")
    if isinstance(node, nodes.Test) and node.name not in TESTS:
        raise _refuse(node, f"the test '{node.name}' is not allowed; allowed: {', '.join(sorted(TESTS))}")
    if isinstance(node, (nodes.Filter, nodes.Test, nodes.Call)) and (node.dyn_args or node.dyn_kwargs):
        raise _refuse(node, "'*args' and '**kwargs' are not allowed in a clause text or template")
    if isinstance(node, nodes.Call) and not (isinstance(node.node, nodes.Getattr)
                                             and node.node.attr in METHOD_NAMES):
        called = f"{node.node.attr}()" if isinstance(node.node, nodes.Getattr) else "that"
        raise _refuse(node, f"calls {called}, which is not a method a clause text or template may use "
                            f"(allowed: {', '.join(sorted(METHOD_NAMES))})")
    if isinstance(node, nodes.Const):
        _validate_literal(node)
    if isinstance(node, nodes.BinExpr) and isinstance(node.left, nodes.Const) and isinstance(node.right, nodes.Const):
        try:  # what constant folding would make, bounded: refuse 'a' * 3000000000 before rendering
            _bounded_binop(node.operator, node.left.value, node.right.value)
        except SecurityError as exc:
            raise _refuse(node, f"'{node.operator}' on constants is refused: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError):
            pass
    if isinstance(node, (nodes.List, nodes.Dict)) or (isinstance(node, nodes.Tuple) and node.ctx == "load"):
        for child in node.iter_child_nodes():
            if not _is_literal(child):
                raise _refuse(node, "a list, tuple or dict literal may hold only constants")
    if isinstance(node, (nodes.Name, nodes.Getattr)) and _is_private(node):
        raise _refuse(node, "names starting with '_' are not allowed in a clause text or template")


def _is_private(node: nodes.Name | nodes.Getattr) -> bool:
    return (node.name if isinstance(node, nodes.Name) else node.attr).startswith("_")


def _is_literal(node: nodes.Node) -> bool:
    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, (nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair)):
        return all(_is_literal(child) for child in node.iter_child_nodes())
    return False


def _validate_literal(node: nodes.Const) -> None:
    value = node.value
    if isinstance(value, str) and len(value) > MAX_LITERAL:
        raise _refuse(node, f"a text literal longer than {MAX_LITERAL:,} characters is not allowed")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        raise _refuse(node, "a number literal of more than 18 digits is not allowed")
    if isinstance(value, float) and not math.isfinite(value):  # 1e999: compiled as the name `inf`, a NameError
        raise _refuse(node, "a number literal too large to be a number (such as 1e999) is not allowed")


class _Instrument(NodeTransformer):
    """Counts every loop step and bounds every `~`, by routing them through the internal filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_qa_steps", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        listed = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(listed, "_qa_concat", [], [], None, None, lineno=node.lineno)


# --- the environment ----------------------------------------------------------------------------------


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
}


def _bounded_binop(op: str, left: Any, right: Any) -> Any:
    sequences = (str, tuple, list)
    if op == "%" and isinstance(left, str):
        raise SecurityError("'%' formatting of text is not allowed; use '~' to join texts")
    if op == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, sequences) and isinstance(times, int):
                limit = MAX_TEXT if isinstance(seq, str) else MAX_ITEMS
                if len(seq) * max(times, 0) > limit:
                    raise RenderLimitExceeded(f"it would make a text or list longer than {limit:,}")
        if _both_int(left, right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise RenderLimitExceeded(f"it would make a number of more than {MAX_INT_BITS} bits")
    if op == "+" and isinstance(left, sequences) and isinstance(right, sequences):
        limit = MAX_TEXT if isinstance(left, str) else MAX_ITEMS
        if len(left) + len(right) > limit:
            raise RenderLimitExceeded(f"it would make a text or list longer than {limit:,}")
    if op == "**" and _both_int(left, right) and abs(left) > 1 and (left.bit_length() - 1) * right > MAX_INT_BITS:
        raise RenderLimitExceeded(f"it would make a number of more than {MAX_INT_BITS} bits")
    return _check_text(_BINOPS[op](left, right))


def _both_int(left: Any, right: Any) -> bool:
    return isinstance(left, int) and isinstance(right, int)


def _allowed_call(obj: Any) -> bool:
    if not isinstance(obj, types.BuiltinMethodType):
        return False
    owner, name = obj.__self__, obj.__name__
    if type(owner) is str:
        return name in TEXT_METHODS
    if isinstance(owner, dt.date):
        return name in DATE_METHODS
    if isinstance(owner, (types.MappingProxyType, dict)):
        return name in MAPPING_METHODS
    return False


class BoundedTemplate(jinja2.Template):
    """A compiled template whose `render` counts output and time against its environment's limits."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        limits: RenderLimits = getattr(self.environment, "limits", CLAUSE_LIMITS)
        context = self.new_context(dict(*args, **kwargs))
        with bounded(limits):
            budget = _ACTIVE.get()
            assert budget is not None
            parts: list[str] = []
            try:
                for chunk in self.root_render_func(context):
                    budget.add_output(len(chunk))
                    parts.append(chunk)
            except Exception:
                self.environment.handle_exception()
            return "".join(parts)


class QASandbox(SandboxedEnvironment):
    """The sandbox of every clause text, condition and template (see the module docstring).

    Args:
        autoescape: XML-escape output (DOCX templates).
        limits: bounds of each render with this environment.
        memoise: remember compiled templates by source text (docxtpl recompiles the same XML each render).
    """

    intercepted_binops = frozenset(_BINOPS)
    _MEMO_SIZE = 64

    def __init__(self, *, autoescape: bool, limits: RenderLimits, memoise: bool = False) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=autoescape, keep_trailing_newline=False,
                         finalize=_finalize)
        self.limits = limits
        self.globals.clear()
        self.filters = {**FILTERS, **_INTERNAL_FILTERS}
        self.tests = dict(TESTS)
        self.template_class = BoundedTemplate
        self._memoise = memoise
        self._memo: dict[str, jinja2.Template] = {}
        self._memo_lock = threading.Lock()

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tags = source.count("{{") + source.count("{%")
        if tags > MAX_NODES // 2:  # Jinja's lexer took 20 s over 140,000 '{{ x }}' before any node was counted
            raise jinja2.TemplateSyntaxError(f"it holds {tags:,} '{{{{' and '{{%' tags, more than any clause text or "
                                             f"template needs ({MAX_NODES // 2:,} at most)", 1, name, filename)
        return super()._parse(source, name, filename)

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        validate_structure(source)
        instrumented = _Instrument().visit(source)
        return super()._generate(instrumented, name, filename, defer_init)

    def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> jinja2.Template:
        if not self._memoise or globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        with self._memo_lock:
            cached = self._memo.get(source)
        if cached is None:
            cached = super().from_string(source)
            with self._memo_lock:
                if len(self._memo) >= self._MEMO_SIZE:
                    self._memo.clear()
                self._memo[source] = cached
        return cached

    def is_safe_callable(self, obj: Any) -> bool:
        # Also consulted by constant folding at compile time: nothing is ever called while compiling.
        return False

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not _allowed_call(__obj):
            raise SecurityError(f"{__obj!r} may not be called in a clause text or template")
        if __obj.__name__ == "strftime" and any(len(str(a)) > MAX_DATE_FORMAT for a in (*args, *kwargs.values())):
            raise SecurityError(f"strftime takes a date format of at most {MAX_DATE_FORMAT} characters")
        if __obj.__name__ in _STRIPS:
            _check_strip_chars(__obj.__name__, (*args, *kwargs.values()))
        _check_time()
        return _check_text(__context.call(__obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_time()
        return _bounded_binop(operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_time()
        if isinstance(obj, Undefined):
            return obj._fail_with_undefined_error()
        if isinstance(obj, Record):
            fields = obj._fields
            if attribute in fields:
                return fields[attribute]
            raise SecurityError(f"'{attribute}' is not a field of {obj._kind}")
        if _attribute_allowed(obj, attribute):
            return getattr(obj, attribute)
        raise SecurityError(f"'.{attribute}' of a {_kind_of(obj)} value may not be used in a clause text or template")

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_time()
        if isinstance(obj, Undefined):
            return obj._fail_with_undefined_error()
        if isinstance(obj, Record) and isinstance(argument, str):
            return self.getattr(obj, argument)
        if isinstance(obj, (tuple, list, str)) and isinstance(argument, (int, slice)):
            try:
                return obj[argument]
            except IndexError:
                return self.undefined(obj=obj, name=str(argument))
        if isinstance(obj, Mapping):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        raise SecurityError(f"'[...]' on a {_kind_of(obj)} value may not be used in a clause text or template")


def _attribute_allowed(obj: Any, attribute: str) -> bool:
    if isinstance(obj, LoopContext):
        return attribute in LOOP_FIELDS
    if type(obj) is str:
        return attribute in TEXT_METHODS
    if isinstance(obj, dt.date):
        return attribute in DATE_FIELDS | DATE_METHODS
    if isinstance(obj, (types.MappingProxyType, dict)):
        return attribute in MAPPING_METHODS
    return False


def make_environment(*, autoescape: bool = False) -> QASandbox:
    """A fresh sandbox with clause limits (for texts and conditions)."""
    return QASandbox(autoescape=autoescape, limits=CLAUSE_LIMITS)


def make_document_environment() -> QASandbox:
    """The shared, memoising, XML-autoescaping sandbox for DOCX templates (one per process)."""
    return _DOCUMENT_ENV


_DOCUMENT_ENV = QASandbox(autoescape=True, limits=DOCUMENT_LIMITS, memoise=True)
_ENV = make_environment()


# --- compiling, rendering, evaluating ---------------------------------------------------------------------


def parse(source: str, *, expression: bool = False, validate: bool = True) -> nodes.Template:
    """Parse a text (or a bare expression) and, unless `validate` is false, check its structure.

    Raises:
        TemplateProblem: the text does not parse, or holds a construct outside the allow-list.
    """
    text = f"{{{{ {source} }}}}" if expression else source
    with _compile_problems():
        tree = _ENV.parse(text)
        if validate:
            validate_structure(tree)
    return tree


@contextmanager
def _compile_problems() -> Iterator[None]:
    """Turn what Jinja's parser and compiler raise on a bad or hostile text into one TemplateProblem."""
    try:
        yield
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"does not compile (text line {exc.lineno}: {exc.message})") from exc
    except RecursionError as exc:
        raise TemplateProblem("does not compile (it is nested too deeply)") from exc
    except SyntaxError as exc:  # Python's own limit: more than 20 nested loops and ifs (internal error before)
        raise TemplateProblem(f"does not compile (it nests loops and conditions too deeply: {exc.msg})") from exc
    except (ValueError, MemoryError) as exc:
        raise TemplateProblem(f"does not compile ({type(exc).__name__}: {exc})") from exc


_CODE_LIMIT = 8 * 1024 * 1024  # bytes of one cached compiled text; the largest clause's is ~40 KB


def _compiled(kind: str, source: str, compile_source: Callable[[], types.CodeType]) -> types.CodeType:
    """The Python code Jinja makes of `source` in the clause sandbox, from qa-builder's cache when it has it.

    Compiling the ~270 texts and conditions one agreement uses costs ~0.4 s; loading their code ~10 ms. The
    cached code is what `compile_source` made (after `validate_structure` and the limit instrumentation), kept
    as Jinja's own bytecode cache keeps it (marshal), under a key made of the source, Jinja's version, the
    Python bytecode magic and qa-builder's code (see `qa_builder.cache`).
    """
    key = entry_key(kind.encode(), source.encode("utf-8", "surrogatepass"), jinja2.__version__.encode(),
                    importlib.util.MAGIC_NUMBER)
    data = read_entry("clause-code", key, limit=_CODE_LIMIT)
    if data is not None:
        try:
            code = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            code = None
        if isinstance(code, types.CodeType):
            return code
    code = compile_source()
    write_entry("clause-code", key, marshal.dumps(code))
    return code


def _template(code: types.CodeType) -> jinja2.Template:
    return _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None))


@lru_cache(maxsize=4096)
def compile_text(source: str) -> jinja2.Template:
    """Compile a clause text (cached per process and on disk; templates are thread-safe); raise TemplateProblem."""
    with _compile_problems():
        return _template(_compiled("text", source, lambda: _ENV.compile(source)))


def _expression_template(expression: str) -> nodes.Template:
    """What Jinja's `compile_expression` compiles: `result = <expression>`, the expression alone and whole."""
    parser = Parser(_ENV, expression, state="variable")
    tree = parser.parse_expression()
    if not parser.stream.eos:
        raise jinja2.TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
    tree.set_environment(_ENV)
    return nodes.Template([nodes.Assign(nodes.Name("result", "store"), tree, lineno=1)], lineno=1)


@lru_cache(maxsize=4096)
def compile_condition(expression: str) -> Any:
    """Compile a condition expression such as "'EU' in facts.markets" (cached per process and on disk)."""
    try:
        code = _compiled("condition", expression, lambda: _ENV.compile(_expression_template(expression)))
        return TemplateExpression(_template(code), undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"does not parse as a condition ({exc.message})") from exc
    except RecursionError as exc:
        raise TemplateProblem("does not parse as a condition (it is nested too deeply)") from exc
    except SyntaxError as exc:
        raise TemplateProblem(f"does not parse as a condition ({exc.msg})") from exc
    except (ValueError, MemoryError) as exc:
        raise TemplateProblem(f"does not parse as a condition ({type(exc).__name__}: {exc})") from exc


def _problem(exc: Exception, verb: str) -> TemplateProblem:
    if isinstance(exc, RenderLimitExceeded):
        return TemplateProblem(f"was stopped: {exc}")
    if isinstance(exc, SecurityError):
        return TemplateProblem(f"was stopped by the sandbox ({exc})")
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateProblem(f"uses an undefined value ({exc.message})")
    return TemplateProblem(f"failed to {verb} ({type(exc).__name__}: {exc})")


_RENDER_ERRORS = (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, AttributeError, LookupError,
                  RecursionError, MemoryError)


def render_text(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render a compiled text over a frozen copy of `context`, within CLAUSE_LIMITS.

    Raises:
        TemplateProblem: refused by the sandbox, over its limits, an undefined value, any other failure, or
            output holding a character a DOCX cannot hold (see `models.text.text_problem`).
    """
    try:
        with _charged(template, CLAUSE_LIMITS):
            text = template.render(freeze_context(context))
    except _RENDER_ERRORS as exc:
        raise _problem(exc, "render") from exc
    problem = text_problem(text)  # e.g. {{ "\f" }}: a page break the author never typed
    if problem:
        raise TemplateProblem(f"renders a text that {problem}")
    return text


def evaluate_condition(compiled: Any, context: Mapping[str, Any]) -> Any:
    """Evaluate a compiled condition over a frozen copy of `context`, within CLAUSE_LIMITS.

    Raises:
        TemplateProblem: as for render_text.
    """
    try:
        with _charged(compiled, CLAUSE_LIMITS):
            return compiled(**freeze_context(context))
    except _RENDER_ERRORS as exc:
        raise _problem(exc, "evaluate") from exc
