"""Generated structuring functions for attrs classes, with at most one Python call per field.

cattrs' generated functions call one hook per field, and its optional, union and tuple
dispatch add calls of their own: on a 100-job page that is about 26,000 calls. The
functions generated here ask the converter for each field's hook, as cattrs does, and
inline what the hook would do for the common JSON shapes when the hook was declared with
:func:`inline` to be one of these:

* ``exact=C``: a value whose class is exactly ``C`` is returned unchanged (``str``, ``int``);
* ``table={...}``: a JSON string is looked up, and returned unchanged when absent (open
  enums);
* ``optional=h``: ``None`` is returned unchanged, anything else goes to hook ``h``;
* ``items=X``: a JSON array (exactly a ``list``) becomes a tuple of its items structured
  as ``X``;
* ``iso_datetime=True``: a string becomes ``datetime.fromisoformat(value)``, returned when
  it is aware (a naive result goes to the hook).

cattrs' own hooks for ``X | None`` and ``tuple[X, ...]`` count as declared ``optional`` and
``items``. Every other value, and every other hook, goes to the hook itself, so the result is
the converter's own; what the declarations promise is checked by the tests, which
decode the same bodies both ways. Errors are whatever the hooks or lookups raise, without
JSON paths: callers that want the path re-decode with a detailed converter. Keys the class
lacks are ignored; a class this module does not handle (``init=False``, attrs converters,
aliases, ``Factory(takes_self=True)``, generics, self-reference, a converter that forbids
extra keys or overrides names) gets cattrs' own generated function.
"""

from __future__ import annotations

import linecache
import typing
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

__all__ = ["inline", "install"]

StructureFn = Callable[[Any, Any], Any]


@attrs.frozen
class _Inline:
    exact: type | None = None
    table: Mapping[str, object] | None = None
    optional: StructureFn | None = None
    items: Any = None
    iso_datetime: bool = False
    inner_type: Any = None  # what ``optional`` is called with (default: the field's type)


_DECLARED: weakref.WeakKeyDictionary[Callable[..., Any], _Inline] = weakref.WeakKeyDictionary()


def inline(
    hook: StructureFn,
    *,
    exact: type | None = None,
    table: Mapping[str, object] | None = None,
    optional: StructureFn | None = None,
    items: Any = None,
    iso_datetime: bool = False,
) -> StructureFn:
    """Declare what ``hook`` does for the common shapes (see the module docstring); returns it."""
    _DECLARED[hook] = _Inline(exact, table, optional, items, iso_datetime)
    return hook


def _declaration(hook: StructureFn) -> _Inline | None:
    try:
        return _DECLARED.get(hook)
    except TypeError:  # not weakly referenceable (a builtin): never declared
        return None


def install(converter: cattrs.Converter) -> None:
    """Make ``converter`` structure every attrs class with a generated fast function."""
    in_progress: set[type] = set()

    def factory(cls: type) -> StructureFn:
        if cls in in_progress:  # self-reference: cattrs' own function resolves it lazily
            return make_dict_structure_fn(cls, converter)
        in_progress.add(cls)
        try:
            return _make(cls, converter)
        finally:
            in_progress.discard(cls)

    converter.register_structure_hook_factory(attrs.has, factory)


def _supported(cls: type, converter: cattrs.Converter) -> bool:
    if converter.forbid_extra_keys or converter.type_overrides or typing.get_args(cls):
        return False
    for field in attrs.fields(cls):
        default = field.default
        if not field.init or field.converter is not None or field.alias != field.name:
            return False
        if field.type is None:  # attr.ib() without an annotation: cattrs passes it through
            return False
        if isinstance(default, attrs.Factory) and default.takes_self:  # type: ignore[arg-type]
            return False
    return True


class _Code:
    """The lines and the globals of one generated function."""

    def __init__(self, converter: cattrs.Converter) -> None:
        self.converter = converter
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}

    def name(self, prefix: str, value: Any) -> str:
        """A global of the generated function holding ``value``."""
        key = f"_{prefix}{len(self.names)}"
        self.names[key] = value
        return key

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def call(self, hook: StructureFn, var: str, type_: Any) -> str:
        return f"{self.name('h', hook)}({var}, {self.name('t', type_)})"

    def declared(self, hook: StructureFn, type_: Any) -> _Inline | None:
        """What ``hook`` was declared to do, or what cattrs' own hook for ``type_`` does."""
        declared = _declaration(hook)
        if declared is not None or getattr(hook, "__self__", None) is not self.converter:
            return declared
        function, args = getattr(hook, "__func__", None), typing.get_args(type_)
        if function is cattrs.BaseConverter._structure_optional and len(args) == 2:
            other = args[0] if args[1] is type(None) else args[1]
            return _Inline(optional=self.converter.get_structure_hook(other), inner_type=other)
        if (
            function is cattrs.BaseConverter._structure_tuple
            and typing.get_origin(type_) is tuple
            and args[1:] == (...,)
            and args[0] not in (Any, object)
        ):
            return _Inline(items=args[0])
        return None

    def value(self, indent: int, var: str, type_: Any) -> None:
        """Lines that turn the JSON value in ``var`` into ``type_``, in place."""
        hook = self.converter.get_structure_hook(type_)
        slow = self.call(hook, var, type_)
        declared = self.declared(hook, type_)
        if declared is None:
            self.emit(indent, f"{var} = {slow}")
        elif declared.optional is not None:
            inner_type = type_ if declared.inner_type is None else declared.inner_type
            self.optional(indent, var, inner_type, declared.optional, slow)
        elif declared.exact is not None:
            self.emit(indent, f"if {var}.__class__ is not {self.name('c', declared.exact)}:")
            self.emit(indent + 1, f"{var} = {slow}")
        elif declared.table is not None:
            lookup = self.name("m", declared.table.get)
            self.emit(indent, f"if {var}.__class__ is str: {var} = {lookup}({var}, {var})")
            self.emit(indent, f"else: {var} = {slow}")
        elif declared.iso_datetime:
            self.iso_datetime(indent, var, slow)
        else:
            self.array(indent, var, declared.items, slow)

    def iso_datetime(self, indent: int, var: str, slow: str) -> None:
        """An aware ``datetime.fromisoformat`` of a string; anything else through ``slow``."""
        parse = self.name("p", datetime.fromisoformat)
        self.emit(
            indent, f"if {var}.__class__ is str and ({var}_ := {parse}({var})).tzinfo is not None:"
        )
        self.emit(indent + 1, f"{var} = {var}_")
        self.emit(indent, f"else: {var} = {slow}")

    def optional(self, indent: int, var: str, type_: Any, inner: StructureFn, slow: str) -> None:
        """``None`` kept; other values as ``inner(value, type_)`` would, or through ``slow``."""
        declared = self.declared(inner, type_)
        if declared is not None and declared.exact is not None:
            cls = self.name("c", declared.exact)
            self.emit(indent, f"if {var} is not None and {var}.__class__ is not {cls}:")
            self.emit(indent + 1, f"{var} = {slow}")
        elif declared is not None and declared.table is not None:
            lookup = self.name("m", declared.table.get)
            self.emit(indent, f"if {var}.__class__ is str: {var} = {lookup}({var}, {var})")
            self.emit(indent, f"elif {var} is not None: {var} = {slow}")
        elif declared is not None and declared.items is not None:
            self.emit(indent, f"if {var} is not None:")
            self.array(indent + 1, var, declared.items, slow)
        elif declared is not None and declared.iso_datetime:
            self.emit(indent, f"if {var} is not None:")
            self.iso_datetime(indent + 1, var, slow)
        else:
            self.emit(indent, f"if {var} is not None: {var} = {self.call(inner, var, type_)}")

    def array(self, indent: int, var: str, item: Any, slow: str) -> None:
        """A JSON array (exactly a ``list``) to a tuple of ``item``; other values to ``slow``."""
        hook = self.converter.get_structure_hook(item)
        declared = self.declared(hook, item)
        self.emit(indent, f"if {var}.__class__ is list:")
        if declared is not None and declared.exact is not None:
            self.emit(indent + 1, f"for e in {var}:")
            self.emit(indent + 2, f"if e.__class__ is not {self.name('c', declared.exact)}:")
            self.emit(indent + 3, f"{var} = {slow}")
            self.emit(indent + 3, "break")
            self.emit(indent + 1, f"else: {var} = tuple({var})")
        else:
            self.emit(indent + 1, f"{var} = tuple([{self.call(hook, 'e', item)} for e in {var}])")
        self.emit(indent, f"else: {var} = {slow}")


def _make(cls: type, converter: cattrs.Converter) -> StructureFn:
    attrs.resolve_types(cls)
    if not _supported(cls, converter):
        return make_dict_structure_fn(cls, converter)
    code = _Code(converter)
    args: list[str] = []
    for index, field in enumerate(attrs.fields(cls)):
        var = f"a{index}"
        key = repr(field.name)
        if field.default is attrs.NOTHING:
            code.emit(1, f"{var} = o[{key}]")
            code.value(1, var, field.type)
        else:
            if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                default = f"{code.name('f', field.default.factory)}()"
            else:
                default = code.name("d", field.default)
            code.emit(1, f"if {key} not in o: {var} = {default}")
            code.emit(1, "else:")
            code.emit(2, f"{var} = o[{key}]")
            code.value(2, var, field.type)
        args.append(f"{field.name}={var}" if field.kw_only else var)
    code.emit(1, f"return {code.name('cls', cls)}({', '.join(args)})")
    name = f"fast_structure_{cls.__qualname__.replace('.', '_')}"
    source = "\n".join([f"def {name}(o, _=None):", *code.lines])
    filename = f"<gh_jobs_async fast structure {cls.__module__}.{cls.__qualname__}>"
    namespace: dict[str, Any] = dict(code.names)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    fn: StructureFn = namespace[name]
    return fn
