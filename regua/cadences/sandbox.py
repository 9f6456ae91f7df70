"""The Jinja sandbox that user-written templates run in: cadence messages and the service
desk's reply templates (rendering.py compiles and renders through it).

Jinja's SandboxedEnvironment already refuses `__class__`, `__globals__` and the like;
this one also keeps a template from taking the process down, since a template is written
by any editor and rendered inside a web request (the check when saved) and in the worker:

1. it may only read data: lists and dicts cannot be changed (ImmutableSandboxedEnvironment),
   str methods that build unbounded text (expandtabs, translate, encode) are refused,
   and printing a function, a class or a Jinja object is an error, not its repr;
2. every text, list or number it builds is bounded before it is built (`*`, `**`, `+`,
   `%`, `~`, str.format widths, center/ljust/zfill, replace, join, indent, batch, slice),
   as is text gathered in `{% set %}` blocks, macros and `{% filter %}` sections;
3. its work is bounded: each loop iteration (weighted by the size of the loop's body),
   call, filter and attribute lookup spends from a budget of MAX_STEPS per render, which
   also stops at MAX_RENDER_SECONDS, and what `{{ }}` prints anywhere counts against
   MAX_PRINTED_CHARS; so nested loops, exponential macro recursion or a block gathering
   text in a loop stop with an error within a second. Recursive loops are refused when
   the template is compiled.
"""

import functools
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jinja2
from django.utils.translation import gettext
from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.filters import make_attrgetter
from jinja2.runtime import LoopContext, Macro, TemplateReference
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import Cycler, Joiner, Namespace
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

# Bounds for what one template may produce, so that a careless loop or `'x' * 10**9`
# cannot take the worker's memory (Gmail clips a message over 102 KB anyway).
MAX_OUTPUT_CHARS = 100_000
MAX_INT_BITS = 100_000
# Loop iterations (each weighted by its body's size), calls, filters and lookups per
# render. The default réguas' messages spend under 500.
MAX_STEPS = 1_000_000
# And, whichever comes first, this much time: a step is not always as cheap as another.
MAX_RENDER_SECONDS = 1.0
# Text printed by `{{ }}` anywhere, counting what `{% set %}` blocks and macros gather
# and then drop: ten times what the message itself may hold.
MAX_PRINTED_CHARS = 10 * MAX_OUTPUT_CHARS
# What one pass through a literal piece of text costs, per this many characters: a loop
# that repeats a long text spends more than one that repeats a word.
CHARS_PER_STEP = 16
# str methods whose output a template could make arbitrarily large from a short input.
UNBOUNDED_STR_METHODS = frozenset({"expandtabs", "translate", "maketrans", "encode"})
# Jinja's own objects: they are tools for the template, not text for the customer.
NOT_PRINTABLE = (type, Cycler, Joiner, Namespace, LoopContext, Macro, TemplateReference)

# What the render in progress may still spend; None outside one (compiling, folding).
_budget: ContextVar["_Budget | None"] = ContextVar("regua_template_budget", default=None)
# What Python's repr of an object looks like: `<class 'x'>`, `<function f at 0x…>`, …
_INTERNALS = re.compile(
    r"<(?:class|function|built-in|bound method|method|module|generator|coroutine) "
    r"|<[\w.]+ object at 0x[0-9a-fA-F]+>"
)
# Widths and precisions in printf (`'%5.2f'`) and format (`'{:>5}'`) specifications.
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")


class Record(dict[str, Any]):
    """A dict of the context that knows where it sits, so errors name it ('contact')."""

    __slots__ = ("_label", "_open")

    def __init__(self, data: Mapping[str, Any], label: str, open_ended: bool) -> None:
        super().__init__(data)
        self._label = label
        self._open = open_ended


@dataclass
class _Budget:
    steps: int = MAX_STEPS
    characters: int = MAX_PRINTED_CHARS
    deadline: float = 0.0


@contextmanager
def step_budget() -> Iterator[None]:
    """A fresh budget (steps, printed characters, time) for the render inside the block."""
    token = _budget.set(_Budget(deadline=time.monotonic() + MAX_RENDER_SECONDS))
    try:
        yield
    finally:
        _budget.reset(token)


def _too_much_work() -> SecurityError:
    return SecurityError(gettext("the template does too much work: simplify its loops and macros"))


def _spend(steps: int = 1) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.steps -= steps
    if budget.steps < 0 or time.monotonic() > budget.deadline:
        raise _too_much_work()


def _spend_characters(count: int) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.characters -= count
    if budget.characters < 0:
        raise SecurityError(
            gettext("the template writes more than %(max)d characters, counting its blocks")
            % {"max": MAX_PRINTED_CHARS}
        )


def _too_long(size: int) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise SecurityError(
            gettext("a text or list in the template would be longer than %(max)d")
            % {"max": MAX_OUTPUT_CHARS}
        )


def _bounded(value: Any) -> Any:
    """`value`, after checking that a text or collection it is stays within the bounds."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        _too_long(len(value))
    return value


def _check_width(number: Any) -> None:
    if isinstance(number, int) and not isinstance(number, bool) and number > MAX_OUTPUT_CHARS:
        raise SecurityError(
            gettext("a width or count of %(number)d is too large") % {"number": number}
        )


def _check_printf(text: Any) -> None:
    """Refuse `'%999999999s'`-style widths, and `*` widths whose size comes from data."""
    if not isinstance(text, str):
        return
    for match in _PRINTF_SPEC.finditer(text):
        for number in match.groups():
            if number == "*":
                raise SecurityError(gettext("a * width is not available in messages"))
            if number is not None:
                _check_width(int(number))


def _check_format_spec(spec: str) -> None:
    for number in _NUMBER.findall(spec):
        _check_width(int(number))


def _replaced_size(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(text, str) or not isinstance(old, str) or not isinstance(new, str):
        return
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    _too_long(len(text) + occurrences * max(len(new) - len(old), 0))


def _joined(separator: str, items: Iterable[Any]) -> str:
    """separator.join of the items as text, refused before it grows past the bound."""
    parts: list[str] = []
    size = 0
    for item in items:
        text = str(item)
        size += len(text) + (len(separator) if parts else 0)
        _too_long(size)
        parts.append(text)
    return separator.join(parts)


def refuse_internals(text: str) -> str:
    """`text`, unless it shows a Python object's repr (`'%s'|format(cycler)`,
    `range|string`, a list holding a function): a message shows data, never the
    program's insides."""
    if _INTERNALS.search(text):
        raise SecurityError(gettext("the text would show the program's internals, not values"))
    return text


class _Named:
    """A global of the template (range, cycler…) whose text is its name, not a repr."""

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        self._name = name
        self._function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return self._name


def _concat(parts: Iterable[str]) -> str:
    """The text of a `{% set %}` block, a macro, a `{% filter %}` section: bounded."""
    return _joined("", parts)


# -- Filters ----------------------------------------------------------------------------


@jinja2.pass_environment
def _join_filter(
    environment: jinja2.Environment, value: Iterable[Any], d: str = "", attribute: Any = None
) -> str:
    """Jinja's join, refusing to build text past the bound (autoescape is off here)."""
    if attribute is not None:
        value = map(make_attrgetter(environment, attribute), value)
    return _joined(str(d), value)


@jinja2.pass_context
def _loop_filter(
    context: jinja2.runtime.Context, iterable: Iterable[Any], cost: int
) -> Iterator[Any]:
    """What every `{% for %}` iterates (see _Guard): spends `cost` steps per item."""
    for item in iterable:
        _spend(cost)
        yield item


@jinja2.pass_context
def _bounded_filter(context: jinja2.runtime.Context, value: Any) -> Any:
    """What every `~` goes through (see _Guard)."""
    _spend()
    return _bounded(value)


def _indent_size(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, str):
        _check_width(width)
        step = len(width) if isinstance(width, str) else width
        if isinstance(step, int):
            _too_long(len(value) + (value.count("\n") + 1) * step)


# Checks made on a filter's arguments before it runs (value first, as the filter takes them).
FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": lambda value, width=80, *a, **k: _check_width(width),
    "indent": _indent_size,
    "format": lambda value, *a, **k: _check_printf(value),
    "replace": lambda value, old="", new="", count=None, *a, **k: _replaced_size(
        value, old, new, -1 if count is None else count
    ),
    "batch": lambda value, linecount=1, *a, **k: _check_width(linecount),
    "slice": lambda value, slices=1, *a, **k: _check_width(slices),
}


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` spending a step, checked before (FILTER_CHECKS) and bounded after."""
    check = FILTER_CHECKS.get(name)
    # Filters marked pass_context/pass_environment receive that first.
    skip = 1 if hasattr(function, "jinja_pass_arg") else 0

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        if check is not None:
            check(*args[skip:], **kwargs)
        return _bounded(function(*args, **kwargs))

    return guarded


# -- The template's syntax tree ---------------------------------------------------------


# The filters _Guard adds; a template may not name them itself.
GUARD_FILTERS = frozenset({"regua_loop", "regua_bounded"})


def _size(node: nodes.Node | None) -> int:
    """What one pass through a part of the template costs: its nodes, and its literal
    text by CHARS_PER_STEP."""
    if node is None:
        return 0
    cost = 1
    for part in node.find_all(nodes.Node):
        cost += 1
        if isinstance(part, nodes.TemplateData):
            cost += len(part.data) // CHARS_PER_STEP
    return cost


class _Guard(NodeTransformer):
    """Rewrites a parsed template so that its loops and `~` go through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            raise TemplateSyntaxError(
                gettext("recursive loops are not available in messages"), node.lineno
            )
        node = self.generic_visit(node)  # type: ignore[assignment]
        cost = 1 + _size(node.test) + sum(_size(part) for part in node.body)
        node.iter = nodes.Filter(
            node.iter, "regua_loop", [nodes.Const(cost)], [], None, None, lineno=node.lineno
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)  # type: ignore[assignment]
        return nodes.Filter(node, "regua_bounded", [], [], None, None, lineno=node.lineno)

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        if node.name in GUARD_FILTERS:
            raise TemplateSyntaxError(
                gettext("no filter named %(name)r") % {"name": node.name}, node.lineno
            )
        return self.generic_visit(node)

    def visit_Name(self, node: nodes.Name) -> nodes.Node:
        if node.name == "self" and node.ctx == "load":
            raise TemplateSyntaxError(gettext("'self' is not available in messages"), node.lineno)
        return node


# -- The environment --------------------------------------------------------------------


class _BoundedFormatter(SandboxedFormatter):
    def format_field(self, value: object, format_spec: str) -> str:
        _check_format_spec(format_spec)
        return str(_bounded(super().format_field(value, format_spec)))


class _BoundedEscapeFormatter(SandboxedEscapeFormatter):
    def format_field(self, value: object, format_spec: str) -> str:
        _check_format_spec(format_spec)
        return str(_bounded(super().format_field(value, format_spec)))


def _printable(value: Any) -> str:
    """The finalize hook, on what every `{{ }}` prints: data only, never a tool of the
    template, and counted against MAX_PRINTED_CHARS."""
    if isinstance(value, jinja2.Undefined):
        # Printing it says what is missing (StrictUndefined), or nothing (an open record).
        return str(value)
    if callable(value) or isinstance(value, NOT_PRINTABLE):
        raise SecurityError(
            gettext("%(what)s cannot be shown in a message, only values can")
            % {"what": type(value).__name__}
        )
    text = value if isinstance(value, str) else str(value)
    _spend_characters(len(text))
    return text


class Sandbox(ImmutableSandboxedEnvironment):
    # Jinja's sandbox bounds range() but not arithmetic: `10 ** 100000000` would hang the
    # worker (or the editor's save) for minutes; `+` and `%` can grow text too.
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    # Read methods a template may call on a record (`event.properties.items()`); a key of
    # the same name wins, so `last_order.items` is the order's items.
    record_methods = frozenset({"items", "keys", "values", "get"})
    concat = staticmethod(_concat)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        guarded: nodes.Template = _Guard().visit(tree)
        return guarded

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in UNBOUNDED_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        _spend()
        if too_large(operator, left, right):
            raise SecurityError(
                gettext("the result of %(operator)s would be too large") % {"operator": operator}
            )
        return super().call_binop(context, operator, left, right)

    def call(
        __self,
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        # A macro call runs a whole template body: it costs as much as ten lookups.
        _spend(10 if isinstance(__obj, Macro) else 1)
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(__obj.__self__, str):
            args = _checked_str_call(__obj.__self__, __obj.__name__, args, kwargs)
        return _bounded(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # Jinja's own wrapper, with formatters that refuse huge widths ('{:>999999999}').
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text: str = value.__self__
        formatter: SandboxedFormatter = (
            _BoundedEscapeFormatter(self, escape=text.escape)
            if isinstance(text, Markup)
            else _BoundedFormatter(self)
        )
        is_format_map = value.__name__ == "format_map"

        @functools.wraps(value)
        def bounded_format(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return type(text)(formatter.vformat(text, args, kwargs))

        return bounded_format

    def getattr(self, obj: Any, attribute: str) -> Any:
        _spend()
        # Plain dicts would answer `last_order.items` with dict.items; records are data.
        if isinstance(obj, Record):
            if attribute in obj:
                return obj[attribute]
            if attribute in self.record_methods:
                return super().getattr(obj, attribute)
            return self._missing(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _spend()
        if isinstance(obj, Record):
            if argument in obj:
                return obj[argument]
            return self._missing(obj, argument)
        return super().getitem(obj, argument)

    def _missing(self, record: Record, name: Any) -> jinja2.Undefined:
        hint = gettext("%(record)s has no attribute %(name)r") % {
            "record": record._label,
            "name": name,
        }
        # A missing custom attribute renders empty (and is false in an `if`).
        undefined = jinja2.Undefined if record._open else self.undefined
        return undefined(hint=hint, obj=record, name=name)


def _checked_str_call(
    text: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """A str method's arguments, after refusing the calls that would build huge text."""
    if method in {"center", "ljust", "rjust", "zfill"}:
        _check_width(args[0] if args else kwargs.get("width"))
    elif method == "replace":
        _replaced_size(text, *args[:3])
    elif method == "join" and args:
        items = list(args[0])
        _too_long(
            sum(len(item) for item in items if isinstance(item, str))
            + len(text) * max(len(items) - 1, 0)
        )
        return (items, *args[1:])
    return args


def too_large(operator: str, left: Any, right: Any) -> bool:
    """Whether `left operator right` would build a number, a text or a list past the bounds."""
    if operator == "**":
        return (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and right * abs(left).bit_length() > MAX_INT_BITS
        )
    if operator == "%":
        _check_printf(left)
        return False
    if operator == "+":
        return (
            isinstance(left, Sized)
            and isinstance(right, Sized)
            and len(left) + len(right) > MAX_OUTPUT_CHARS
        )
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(times, int):
            return len(sequence) * times > MAX_OUTPUT_CHARS
    if isinstance(left, int) and isinstance(right, int):
        return left.bit_length() + right.bit_length() > MAX_INT_BITS
    return False


@functools.cache
def environment() -> Sandbox:
    """The one Jinja environment of user templates (no loader: templates come as strings)."""
    from .rendering import brl, date_br

    env = Sandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_printable,
        # A `{% if %}` on its own line leaves no empty line in the message.
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["brl"] = brl
    env.filters["date_br"] = date_br
    env.filters["join"] = _join_filter
    env.filters = {name: _guarded_filter(name, f) for name, f in env.filters.items()}
    # Not guarded: they are the guards (_Guard puts them in every loop and `~`).
    env.filters["regua_loop"] = _loop_filter
    env.filters["regua_bounded"] = _bounded_filter
    # lipsum(10**6) would write a million paragraphs, and a message has no use for it.
    env.globals.pop("lipsum", None)
    env.globals = {
        name: _Named(name, value) if callable(value) else value
        for name, value in env.globals.items()
    }
    return env
