"""The one `{{placeholder}}` renderer shared by prompts, chains, tools and memory.

Keeping a single renderer means a template behaves the same wherever it is written:
the same lookup rules, the same way of printing non-string values, the same error when a
name is missing. `{{env.NAME}}` is read from the environment at render time.
"""
from __future__ import annotations

import json
import os
import re

from .errors import TemplateError
from .values import Env, Ref

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w]*(?:\.[\w]+)*)\s*\}\}")
_MISSING = object()


def placeholders(template: str) -> list[str]:
    """The dotted names a template refers to, in order of appearance."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(template)]


def lookup(path: str, context: dict):
    """The value `path` (`a.b.0`) names in `context`; TemplateError when it is absent."""
    head, *rest = path.split(".")
    if head == "env":
        if len(rest) != 1:
            raise TemplateError(f"'{{{{{path}}}}}' must name one environment variable, "
                                "like {{env.API_TOKEN}}")
        value = os.environ.get(rest[0])
        if value is None:
            raise TemplateError(f"environment variable {rest[0]} (used as {{{{{path}}}}}) "
                                "is not set", hint=f"export {rest[0]}=... before running")
        return value
    value = context.get(head, _MISSING) if isinstance(context, dict) else _MISSING
    walked = head
    for part in rest:
        if value is _MISSING:
            break
        value = _child(value, part)
        walked += "." + part
    if value is _MISSING:
        known = ", ".join(sorted(k for k in context if isinstance(k, str))) or "nothing"
        raise TemplateError(f"template variable '{path}' is not defined",
                            hint=f"provide '{walked}' (defined here: {known})")
    return value


def _child(value, part: str):
    if isinstance(value, dict):
        return value.get(part, _MISSING)
    if isinstance(value, (list, tuple)) and part.lstrip("-").isdigit():
        index = int(part)
        return value[index] if -len(value) <= index < len(value) else _MISSING
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            return _child(json.loads(value), part)
        except ValueError:
            return _MISSING
    return _MISSING


def to_text(value) -> str:
    """How a non-string value reads inside a rendered string (JSON for structures)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Ref):
        return value.name
    if isinstance(value, (bool, type(None), dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def render(template: str, context: dict) -> str:
    r"""`template` with every placeholder replaced by its value as text.

    `\{` and `\}` are literal braces: they never open or close a placeholder.
    """
    if "\\" in template and ("\\{" in template or "\\}" in template):
        protected = template.replace("\\{", "\x00L").replace("\\}", "\x00R")
        return render(protected, context).replace("\x00L", "{").replace("\x00R", "}")
    if "{{" not in template:
        return template
    return _PLACEHOLDER.sub(lambda m: to_text(lookup(m.group(1), context)), template)


def render_value(value, context: dict):
    """Render every string inside `value`; a string that is one placeholder keeps its type."""
    if isinstance(value, Env):
        return value.read()
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole:
            return lookup(whole.group(1), context)
        return render(value, context)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value


_FALSY = {"", "false", "0", "no", "none", "null"}


def truthy(value) -> bool:
    """Whether a rendered `when` lets its step run."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY
    return bool(value)
