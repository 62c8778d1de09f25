"""The only Jinja environment: sandboxed, strict, used for clause texts, conditions and templates."""

from __future__ import annotations

import threading
import types
import typing
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel


def join_and(values: Iterable[Any], last: str = "and") -> str:
    """['a', 'b', 'c'] → 'a, b and c'."""
    items = [str(v) for v in values]
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


def raci_code(code: str) -> str:
    """One notation for RACI codes everywhere: 'RA' → 'R/A'; '-' or '' → '–'."""
    return "–" if code in ("-", "") else "/".join(code)


class _MemoisingSandbox(SandboxedEnvironment):
    """A sandbox whose from_string remembers compiled templates by their source text.

    docxtpl compiles the same patched template XML on every render; compiling it once per
    process saves most of a render's CPU. Compiled templates are immutable and thread-safe.
    """

    _MEMO_SIZE = 64

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._memo: dict[str, jinja2.Template] = {}
        self._memo_lock = threading.Lock()

    def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> jinja2.Template:
        if globals is not None or template_class is not None or not isinstance(source, str):
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


def make_environment(*, autoescape: bool = False) -> SandboxedEnvironment:
    """A fresh sandboxed environment with StrictUndefined and the house filters."""
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=autoescape, keep_trailing_newline=False)
    env.filters["join_and"] = join_and
    env.filters["plural"] = plural
    env.filters["raci_code"] = raci_code
    return env


def make_document_environment() -> SandboxedEnvironment:
    """The shared, memoising, XML-autoescaping sandbox for DOCX templates (one per process)."""
    return _DOCUMENT_ENV


_DOCUMENT_ENV = _MemoisingSandbox(undefined=jinja2.StrictUndefined, autoescape=True, keep_trailing_newline=False)
_DOCUMENT_ENV.filters["join_and"] = join_and
_DOCUMENT_ENV.filters["plural"] = plural
_DOCUMENT_ENV.filters["raci_code"] = raci_code


_ENV = make_environment()


class TemplateProblem(Exception):
    """A text or condition does not compile, or uses a name the answers model lacks."""


@lru_cache(maxsize=4096)
def compile_text(source: str) -> jinja2.Template:
    """Compile a clause text (cached per process; templates are thread-safe); raise TemplateProblem."""
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"does not compile (text line {exc.lineno}: {exc.message})") from exc


@lru_cache(maxsize=4096)
def compile_condition(expression: str) -> Any:
    """Compile a condition expression such as "'EU' in facts.markets" (cached per process)."""
    try:
        return _ENV.compile_expression(expression, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"does not parse as a condition ({exc.message})") from exc


def render_text(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render a compiled text; sandbox violations and unknown names become TemplateProblem."""
    try:
        return template.render(context)
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateProblem(f"was stopped by the sandbox ({exc})") from exc
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"uses an undefined value ({exc.message})") from exc
    except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise TemplateProblem(f"failed to render ({exc})") from exc


def evaluate_condition(compiled: Any, context: dict[str, Any]) -> Any:
    """Evaluate a compiled condition; errors become TemplateProblem."""
    try:
        return compiled(**context)
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateProblem(f"was stopped by the sandbox ({exc})") from exc
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"uses an undefined value ({exc.message})") from exc
    except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise TemplateProblem(f"failed to evaluate ({exc})") from exc


def check_names(source: str, known: dict[str, type[BaseModel] | None], *, expression: bool = False) -> None:
    """Raise TemplateProblem if the text uses a name, or an attribute of a model, that does not exist.

    Args:
        source: template text, or a bare expression when `expression` is true.
        known: every top-level name with its pydantic model type (None where attributes are not checked).
        expression: treat `source` as an expression.
    """
    text = f"{{{{ {source} }}}}" if expression else source
    try:
        ast = _ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"does not compile ({exc.message})") from exc
    free = meta.find_undeclared_variables(ast)
    unknown = sorted(free - set(known))
    if unknown:
        raise TemplateProblem(f"uses unknown name(s) {', '.join(unknown)}; available: {', '.join(sorted(known))}")
    for node in ast.find_all(nodes.Getattr):
        chain = _attribute_chain(node)
        if chain is None or chain[0] not in free:
            continue
        model = known.get(chain[0])
        dotted = chain[0]
        for attr in chain[1:]:
            if model is None:
                break
            if attr not in model.model_fields:
                raise TemplateProblem(f"uses {dotted}.{attr}, but {dotted} has no field '{attr}'")
            dotted = f"{dotted}.{attr}"
            model = _model_of(model.model_fields[attr].annotation)


def _attribute_chain(node: nodes.Getattr) -> list[str] | None:
    attrs: list[str] = []
    current: nodes.Node = node
    while isinstance(current, nodes.Getattr):
        attrs.append(current.attr)
        current = current.node
    if not isinstance(current, nodes.Name):
        return None
    return [current.name, *reversed(attrs)]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        models = [_model_of(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        return models[0] if len(models) == 1 else None
    return None
