"""Lower a checked `.ai` program to `program.py`, a plain module that builds the app.

The output is meant to be read: one statement per declaration, each preceded by the
`.ai` location it came from, values written as ordinary Python literals. It is also
meant to be stable: the same program always lowers to the same bytes, which is what
lets a test prove that a plain build carries no tracing code at all.
"""
from __future__ import annotations

import os

from n3core.runtime.schema import EXECUTABLE_KINDS, KINDS, STEP_KEYS

from . import __version__
from .frontend import nodes
from .quoting import COMMENT, DOCSTRING, quote

_WIDTH = 88
_INDENT = "    "


def lower(program: nodes.Program) -> str:
    """Return the source of `program.py` for an already checked program."""
    display = os.path.basename(program.file)
    out = [_header(program, display), "from n3core import runtime as n3", ""]
    app = program.app
    app_name = quote(app.name if app else None)
    properties = _object_of(app.entries) if app else {}
    props = f", properties={_literal(properties, 1)}" if properties else ""
    out.append(f"app = n3.App({app_name}, source=__file__{props})")
    for decl in program.declarations:
        if decl.kind == "app":
            continue
        out.append("")
        out.append(f"# {quote(display, COMMENT)}:{decl.loc.line}:{decl.loc.column}")
        out.append(_declaration(decl, display))
    out += ["", "app.finalize()", ""]
    return "\n".join(out)


def _header(program: nodes.Program, display: str) -> str:
    lines = [f"namel3ss program compiled from {display} by namel3ss {__version__}.", ""]
    if program.module:
        lines.append(f"Module: {program.module}.")
    if program.language_version:
        lines.append(f"Language version: {program.language_version}.")
    for imp in program.imports:
        lines.append(f"Imports: {imp.path}" + (f" as {imp.alias}." if imp.alias else "."))
    for statement in program.statements:
        text = " ".join(statement.text.split())
        lines.append(f"{statement.keyword.capitalize()}s (recorded, no effect): {text}")
    lines.append("Generated code: edit the .ai source instead.")
    return '"""' + "\n".join(quote(line, DOCSTRING) for line in lines) + '\n"""'



def _declaration(decl: nodes.Declaration, display: str) -> str:
    props = _object_of(decl.entries, steps=decl.kind == "chain", display=display, keys=KINDS.get(decl.kind, {}))
    loc = _loc(decl.loc, display)
    if decl.kind in EXECUTABLE_KINDS:
        head, args = f"app.{decl.kind}", [quote(decl.name)]
    else:
        head, args = "app.declarative", [quote(decl.kind), quote(decl.name)]
    return f"{head}({', '.join(args)}, {_literal(props, 1)}, loc={loc})"


class _Code(str):
    """Python source to be emitted as is, not quoted."""


def _loc(loc: nodes.Location, display: str) -> _Code:
    return _Code(f"n3.Loc({quote(display)}, {loc.line}, {loc.column})")


def _object_of(entries, steps: bool = False, display: str = "", keys=None) -> dict:
    result: dict = {}
    for entry in entries:
        if steps and entry.key == "steps" and isinstance(entry.value, nodes.ListValue):
            result[entry.key] = [_step(item, display) for item in entry.value.items]
        else:
            result[entry.key] = _value(_as_reference(entry.value, (keys or {}).get(entry.key)))
    return result


def _as_reference(value: nodes.Value, key) -> nodes.Value:
    """A quoted name in a reference key (`llm: "big model"`) is a reference all the same."""
    if key is None or key.type not in ("ref", "refs"):
        return value
    if isinstance(value, nodes.String):
        return nodes.Reference(value.value, value.loc)
    if isinstance(value, nodes.ListValue):
        return nodes.ListValue(tuple(_as_reference(item, key) for item in value.items), value.loc)
    return value


def _step(value: nodes.Value, display: str):
    if not isinstance(value, nodes.ObjectValue):
        return _value(value)
    props: dict = {}
    for entry in value.entries:
        if entry.key == "parallel" and isinstance(entry.value, nodes.ListValue):
            props["parallel"] = [_step(item, display) for item in entry.value.items]
        else:
            props[entry.key] = _value(_as_reference(entry.value, STEP_KEYS.get(entry.key)))
    return _Step(props, _loc(value.loc, display))


class _Step:
    __slots__ = ("props", "loc")

    def __init__(self, props: dict, loc: _Code):
        self.props, self.loc = props, loc


def _value(value: nodes.Value):
    if isinstance(value, (nodes.String, nodes.Number, nodes.Boolean)):
        return value.value
    if isinstance(value, nodes.Null):
        return None
    if isinstance(value, nodes.Reference):
        return _Code(f"n3.Ref({quote(value.name)})")
    if isinstance(value, nodes.EnvCall):
        return _Code(f"n3.Env({quote(value.name)})")
    if isinstance(value, nodes.ListValue):
        return [_value(item) for item in value.items]
    if isinstance(value, nodes.ObjectValue):
        return {entry.key: _value(entry.value) for entry in value.entries}
    raise TypeError(f"cannot lower {type(value).__name__}")


def _literal(value, depth: int) -> str:
    """Python source for `value`, on one line when it fits, else one item per line."""
    flat = _flat(value)
    if len(flat) + depth * len(_INDENT) <= _WIDTH or not _splittable(value):
        return flat
    pad, inner = _INDENT * (depth - 1), _INDENT * depth
    if isinstance(value, _Step):
        return f"n3.Step({_literal(value.props, depth)}, loc={value.loc})"
    if isinstance(value, dict):
        items = [f"{inner}{quote(key)}: {_literal(item, depth + 1)}," for key, item in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{_literal(item, depth + 1)}," for item in value]
    return "[\n" + "\n".join(items) + f"\n{pad}]"


def _splittable(value) -> bool:
    return isinstance(value, (dict, list, _Step)) and bool(
        value.props if isinstance(value, _Step) else value
    )


def _flat(value) -> str:
    if isinstance(value, _Code):
        return str(value)
    if isinstance(value, _Step):
        return f"n3.Step({_flat(value.props)}, loc={value.loc})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{quote(key)}: {_flat(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(item) for item in value) + "]"
    return quote(value)

