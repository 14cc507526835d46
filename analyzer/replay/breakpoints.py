"""Breakpoint specs: parsed and checked against the trace before anything runs.

    EVENT_TYPE            every event of that type (`llm_call_start`; a stem such as
                          `llm_call` means its start and its end)
    EVENT_TYPE:N          the Nth event of that type (counted from when it is set)
    COMPONENT:NAME        every start and instant of that component (`tool:search`)
    EVENT_TYPE:FIELD OP VALUE   OP one of == != > >= < <= ; FIELD a dotted path
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..errors import AnalyzerError
from .events import EVENT_FIELDS, MISSING, ReplayEvent

OPERATORS = ("==", "!=", ">=", "<=", ">", "<")
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(==|!=|>=|<=|>|<)\s*(.*?)\s*$")


class BreakpointError(AnalyzerError):
    """A breakpoint names an event type, component, name or field the trace does not have."""

    exit_code = 2


def _listing(names) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "none"


@dataclass(eq=False)
class Breakpoint:
    """One parsed spec; `hits` is called once for every event of `sites`, in order."""

    spec: str
    sites: frozenset
    event_type: str = ""
    nth: int = 0
    component: str = ""
    name: str = ""
    path: str = ""
    op: str = ""
    value: object = None
    seen: int = field(default=0, compare=False)

    def hits(self, event: ReplayEvent) -> bool:
        if event.site not in self.sites:
            return False
        if self.event_type and event.event_type != self.event_type and \
                event.stem != self.event_type:
            return False
        if self.component:
            return event.kind in ("start", "instant")
        if self.nth:
            self.seen += 1
            return self.seen == self.nth
        if self.op:
            return compare(event.field(self.path), self.op, self.value)
        return True


def compare(actual, op: str, expected) -> bool:
    """Numbers compare as numbers, anything else by its text; a missing field never hits."""
    if actual is MISSING:
        return False
    if isinstance(actual, bool) or isinstance(expected, bool) or actual is None \
            or expected is None:
        if op in ("==", "!="):
            return (actual == expected) == (op == "==")
        return False
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        a, b = actual, expected
    else:
        a = actual if isinstance(actual, str) else json.dumps(actual, default=str)
        b = expected if isinstance(expected, str) else json.dumps(expected)
        if op not in ("==", "!="):
            try:
                a, b = float(a), float(b)
            except ValueError:
                return False
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "<":
        return a < b
    return a <= b


def _value(text: str):
    """JSON when it parses (numbers, true, null, "quoted"), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _syntax(spec: str, what: str) -> BreakpointError:
    return BreakpointError(
        f"--breakpoint {spec!r}: {what}. A breakpoint is EVENT_TYPE (each one), "
        "EVENT_TYPE:N (the Nth), COMPONENT:NAME (such as tool:search) or "
        "EVENT_TYPE:FIELD OP VALUE with OP one of == != > >= < <= (such as "
        "llm_call_end:tokens>500 or tool_call_start:name==search).")


def parse_breakpoint(spec: str, catalog) -> Breakpoint:
    """One spec checked against `catalog`; BreakpointError names the valid choices."""
    text = spec.strip()
    if not text:
        raise _syntax(spec, "it is empty")
    head, sep, rest = text.partition(":")
    head = head.strip()
    if sep and head in catalog.components and not catalog.knows_type(head):
        return _component(spec, head, rest.strip(), catalog)
    if not catalog.knows_type(head):
        components = sorted(catalog.components)
        raise BreakpointError(
            f"--breakpoint {spec!r}: {head!r} is neither an event type nor a component of "
            f"{_trace_word(catalog)}. Event types: {_listing(catalog.event_types)}. "
            f"Components (as COMPONENT:NAME): {_listing(components)}. Names are "
            "case-sensitive; `n3analyze inspect TRACE` lists what the trace holds.")
    sites = catalog.site_ids(head)
    if not sep:
        return Breakpoint(spec, sites, event_type=head)
    rest = rest.strip()
    if rest.isdigit():
        if int(rest) < 1:
            raise _syntax(spec, "event numbers start at 1 (EVENT_TYPE:1 is the first)")
        return Breakpoint(spec, sites, event_type=head, nth=int(rest))
    match = _CONDITION.match(rest)
    if not match:
        raise _syntax(spec, f"{rest!r} after the event type is neither a number nor a "
                            "condition")
    path, op, raw = match.groups()
    if not raw:
        raise _syntax(spec, f"the condition {rest!r} has no value to compare with")
    _check_field(spec, head, path, catalog)
    return Breakpoint(spec, sites, event_type=head, path=path, op=op, value=_value(raw))


def _component(spec: str, component: str, name: str, catalog) -> Breakpoint:
    names = catalog.names(component)
    if name not in catalog.components[component] or not name:
        raise BreakpointError(
            f"--breakpoint {spec!r}: no {component} named {name!r} in {_trace_word(catalog)}. "
            f"The {component} names are: {_listing(names)}. Names are case-sensitive and "
            "are the names declared in the .ai file.")
    return Breakpoint(spec, frozenset(catalog.components[component][name]),
                      component=component, name=name)


def _check_field(spec: str, event_type: str, path: str, catalog) -> None:
    keys = path.split(".")
    if keys[0] == "event":
        if len(keys) > 1 and keys[1] in EVENT_FIELDS:
            return
        keys = keys[1:] or [""]
        known = set()
    elif keys[0] == "payload":
        keys = keys[1:] or [""]
        known = catalog.fields_of(event_type)
    else:
        if keys[0] in EVENT_FIELDS:
            return
        known = catalog.fields_of(event_type)
    if keys[0] in known:
        return
    raise BreakpointError(
        f"--breakpoint {spec!r}: {event_type} events have no field {keys[0]!r}. Payload "
        f"fields of {event_type}: {_listing(known)}. Every event also has: "
        f"{', '.join(EVENT_FIELDS)}. Go deeper with dots (usage.total_tokens, "
        "arguments.query); payload.X picks the payload's X when an event field has the "
        "same name.")


def _trace_word(catalog) -> str:
    return getattr(catalog, "source", "") or "this trace"


def parse_breakpoints(specs, catalog) -> list:
    """Every spec parsed, or the first bad one refused (before anything runs)."""
    return [parse_breakpoint(spec, catalog) for spec in specs or ()]
