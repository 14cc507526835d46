"""Semantic checks of a parsed program, driven by `n3core.runtime.schema`.

Every rule runs on every declaration and nothing stops at the first problem, so one
`namel3ss check` shows all of a file's errors, in source order. What each key accepts
comes from the schema table the runtime uses; this module only knows how to say no.
"""
from __future__ import annotations

import difflib
import re

from n3core.runtime import schema
from n3core.runtime.schema import Key

from .dialect_checks import DialectChecks
from .diagnostics import Diagnostic, error, warning
from .lines import SourceLines
from .nodes import (
    Boolean, Declaration, Entry, EnvCall, ListValue, Location, Null, Number, ObjectValue,
    Program, Reference, String,
)
from .wording import _a, _or

_RESPONSE_KEYS = ("match", "reply", "tool_call", "tool_calls")
_TOOL_CALL_KEYS = ("name", "arguments")
_TOOL_NEEDS = {"python": "function", "http": "endpoint"}
_FUNCTION_RE = re.compile(r"[\w.]+:[\w.]+")
# The grammar's STRING, unrolled the same way (see namel3ss.lark) so a long key costs no memory.
_QUOTED_KEY_RE = re.compile(r"\"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'")
# What users coming from other schema languages tend to write instead of our field types.
_FIELD_SYNONYMS = {
    "string": "text", "str": "text", "int": "number", "integer": "number",
    "float": "number", "bool": "boolean", "array": "list", "dict": "object",
}


def check(program: Program) -> list[Diagnostic]:
    """All semantic errors, warnings and notes of `program`, sorted by position."""
    return _Checker(program).run()


def _describe(value) -> str:
    if isinstance(value, String):
        text = value.value if len(value.value) <= 30 else value.value[:27] + "..."
        return f'the string "{text}"'
    if isinstance(value, Boolean):
        return "`true`" if value.value else "`false`"
    if isinstance(value, Number):
        return f"the number {value.value}"
    if isinstance(value, Null):
        return "`null`"
    if isinstance(value, Reference):
        return f"the bare name `{value.name}`"
    if isinstance(value, EnvCall):
        return f'env("{value.name}")'
    if isinstance(value, ListValue):
        return "a list"
    return "an object"


def _expected(spec: Key) -> str:
    if spec.choices:
        return "one of " + ", ".join(f'"{c}"' for c in spec.choices)
    if spec.type == "ref":
        noun = "the name of " + _or([_a(k) for k in spec.ref_kinds])
    elif spec.type == "refs":
        noun = "a list of " + _or(spec.ref_kinds) + " names"
    else:
        noun = {"string": "a string", "number": "a number", "integer": "a whole number",
                "boolean": "true or false", "list": "a list", "object": "an object",
                "steps": 'a list of steps or a string like "a -> b"'}.get(spec.type, spec.type)
    if spec.minimum is not None and spec.maximum is not None:
        return f"{noun} from {spec.minimum} to {spec.maximum}"
    if spec.minimum is not None:
        return f"{noun} of at least {spec.minimum}"
    return noun


def _suggest(word: str, options) -> str | None:
    options = list(options)
    for option in options:
        if option.lower() == word.lower():
            return option
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


class _Checker(DialectChecks):
    def __init__(self, program: Program) -> None:
        self.program = program
        self.lines = SourceLines(program.source)
        self.out: list[Diagnostic] = []
        self.declared: dict[tuple[str, str], Declaration] = {}
        self.by_name: dict[str, list[Declaration]] = {}
        for decl in program.declarations:
            self.declared.setdefault((decl.kind, decl.name), decl)
            self.by_name.setdefault(decl.name, []).append(decl)

    def run(self) -> list[Diagnostic]:
        first_app = None
        declarative: list[Declaration] = []
        for decl in self.program.declarations:
            if decl.kind == "app":
                if first_app is not None:
                    self.error("DUPLICATE_APP",
                               f'a second app "{decl.name}": a program has one app '
                               f"(the first is on line {first_app.loc.line})",
                               self.head(decl), "merge the two app blocks")
                first_app = first_app or decl
            else:
                first = self.declared[(decl.kind, decl.name)]
                if first is not decl:
                    self.error("DUPLICATE_DECLARATION",
                               f"{decl.kind} `{decl.name}` is already declared on line "
                               f"{first.loc.line}",
                               decl.name_loc, "rename one of them")
            if decl.kind in schema.DECLARATIVE_KINDS:
                declarative.append(decl)
            else:
                self.block(decl)
        self.kept_note(declarative)
        self.out.sort(key=lambda d: (d.loc.line, d.loc.column))
        return self.out

    # --- reporting ---------------------------------------------------------------------

    def error(self, code: str, message: str, loc: Location, hint: str | None = None) -> None:
        self.out.append(error(code, message, loc, hint))

    def invalid(self, message: str, loc: Location, hint: str | None = None) -> None:
        self.out.append(error("INVALID_VALUE", message, loc, hint))

    def head(self, decl: Declaration) -> Location:
        n = decl.name_loc
        return Location(n.file, decl.loc.line, decl.loc.column, n.end_line, n.end_column)

    def key_loc(self, entry: Entry) -> Location:
        loc = entry.loc
        line = self.lines.line(loc.line) or ""
        quoted = _QUOTED_KEY_RE.match(line, loc.column - 1)
        width = len(quoted.group(0)) if quoted else len(entry.key)
        return Location(loc.file, loc.line, loc.column, loc.line, loc.column + width)

    def unknown_key(self, entry: Entry, known, owner: str) -> None:
        close = _suggest(entry.key, known)
        hint = (f"did you mean `{close}`?" if close else
                f"{owner} understands: " + ", ".join(known))
        self.out.append(warning("UNKNOWN_KEY", f"unknown key `{entry.key}` in {owner}; "
                                "it is ignored", self.key_loc(entry), hint))

    # --- declarations ------------------------------------------------------------------

    def block(self, decl: Declaration) -> None:
        keys = schema.KINDS[decl.kind]
        owner = f"{decl.kind} `{decl.name}`" if decl.kind != "app" else f'app "{decl.name}"'
        seen: dict[str, Entry] = {}
        for entry in decl.entries:
            spec = keys.get(entry.key)
            if spec is None:
                self.unknown_key(entry, list(keys), _a(decl.kind) if decl.kind != "app" else "an app")
                continue
            canonical = spec.alias_of or entry.key
            if canonical in seen:
                first = seen[canonical]
                same = "" if first.key == entry.key else f" (as `{first.key}`)"
                self.invalid(f"`{entry.key}` is already set{same} on line {first.loc.line}",
                             self.key_loc(entry), "keep only one")
            else:
                seen[canonical] = entry
            label = f"`{entry.key}` of {owner}"
            special = _SPECIAL.get((decl.kind, canonical))
            if self.value(spec, entry.value, label, entry.key, special is None):
                if special is not None:
                    special(self, entry.value, label, decl)
        for key, spec in keys.items():
            if spec.required and not spec.alias_of and key not in seen:
                self.invalid(f"{owner} needs `{key}`", decl.name_loc,
                             f"add `{key}: <value>`, where the value is {_expected(spec)}")
        if decl.kind == "tool":
            self.tool_needs(decl, seen, owner)
        if decl.kind == "agent":
            self.window(decl)
        if decl.kind in ("chain", "prompt"):
            self.fails_when_run(decl, seen, owner)

    def tool_needs(self, decl: Declaration, seen: dict[str, Entry], owner: str) -> None:
        kind = seen.get("type")
        if kind is None or not isinstance(kind.value, String):
            return
        needed = _TOOL_NEEDS.get(kind.value.value)
        if needed and needed not in seen:
            example = '"module:callable"' if needed == "function" else '"https://..."'
            self.invalid(f'{owner} has type "{kind.value.value}" but no `{needed}`',
                         decl.name_loc, f"add {needed}: {example}")

    # --- values ------------------------------------------------------------------------

    def value(self, spec: Key, value, label: str, key: str, walk: bool = True) -> bool:
        """Report a value that `spec` does not accept; True if it is acceptable.

        `walk` also flags bare names inside data values; keys with their own check
        (`_SPECIAL`) turn it off and look inside themselves.
        """
        kind = spec.type
        if kind == "string":
            if isinstance(value, EnvCall):
                return True
            if spec.ref_kinds and isinstance(value, Reference):
                return self.resolve(value, spec.ref_kinds, label) is not None
            if isinstance(value, String):
                if spec.choices and value.value not in spec.choices:
                    if self.other_choice(spec, value, label):
                        return True
                    close = _suggest(value.value, spec.choices)
                    self.invalid(f"{label} must be {_expected(spec)}, not {_describe(value)}",
                                 value.loc, f'did you mean "{close}"?' if close else None)
                    return False
                return True
            return self.wrong(spec, value, label, key)
        if kind in ("number", "integer"):
            if not isinstance(value, Number) or (kind == "integer"
                                                 and not isinstance(value.value, int)):
                return self.wrong(spec, value, label, key)
            low, high = spec.minimum, spec.maximum
            if (low is not None and value.value < low) or (high is not None and value.value > high):
                self.invalid(f"{label} must be {_expected(spec)}, not {value.value}", value.loc)
                return False
            return True
        if kind == "boolean":
            return isinstance(value, Boolean) or self.wrong(spec, value, label, key)
        if kind == "list":
            if not isinstance(value, ListValue):
                return self.wrong(spec, value, label, key)
            return self.plain(value, label) if walk else True
        if kind == "object":
            if not isinstance(value, ObjectValue):
                return self.wrong(spec, value, label, key)
            return self.plain(value, label) if walk else True
        if kind == "ref":
            if isinstance(value, (Reference, String)):
                name = value.name if isinstance(value, Reference) else value.value
                if spec.ref_kinds == ("llm",) and ("llm", name) not in self.declared:
                    self.undeclared_llm(name, label, value.loc)
                elif not self.builtin_memory(spec, value):
                    self.resolve(value, spec.ref_kinds, label)
                return True
            return self.wrong(spec, value, label, key)
        if kind == "refs":
            if not isinstance(value, ListValue):
                if isinstance(value, Reference):
                    self.invalid(f"{label} must be {_expected(spec)}", value.loc,
                                 f"write {key}: [{value.name}]")
                    return False
                return self.wrong(spec, value, label, key)
            for item in value.items:
                if isinstance(item, (Reference, String)):
                    self.resolve(item, spec.ref_kinds, label)
                else:
                    self.invalid(f"{label} lists names, not {_describe(item)}", item.loc)
            return True
        if kind == "steps":
            if isinstance(value, String):
                self.arrow(value, label)
            elif isinstance(value, ListValue):
                names: dict[str, Location] = {}
                for item in value.items:
                    self.step(item, label, names)
            else:
                return self.wrong(spec, value, label, key)
            return True
        return self.plain(value, label)

    def wrong(self, spec: Key, value, label: str, key: str) -> bool:
        hint = None
        if isinstance(value, Reference) and spec.type == "string":
            hint = f'a bare name refers to a declaration; quote text: {key}: "{value.name}"'
        elif isinstance(value, EnvCall):
            hint = "env() gives a string; only string keys accept it"
        elif isinstance(value, Number) and spec.type == "integer":
            hint = "use a whole number"
        self.invalid(f"{label} must be {_expected(spec)}, not {_describe(value)}", value.loc,
                     hint)
        return False

    def plain(self, value, label: str) -> bool:
        """Data values (lists, objects, `input`, ...) hold no references: flag bare names."""
        ok = True
        stack = [value]
        while stack:
            v = stack.pop()
            if isinstance(v, Reference):
                self.invalid(f"the bare name `{v.name}` in {label} is not a value", v.loc,
                             f'quote it if it is text: "{v.name}"')
                ok = False
            elif isinstance(v, ListValue):
                stack.extend(reversed(v.items))
            elif isinstance(v, ObjectValue):
                stack.extend(e.value for e in reversed(v.entries))
        return ok

    def resolve(self, value, kinds, label: str, loc: Location | None = None) -> str | None:
        name = value.name if isinstance(value, Reference) else value.value
        for kind in kinds:
            if (kind, name) in self.declared:
                return kind
        others = [d for d in self.by_name.get(name, ()) if d.kind not in kinds]
        if others:
            other = others[0]
            hint = (f"`{name}` is {_a(other.kind)} (line {other.loc.line}), not "
                    f"{_or([_a(k) for k in kinds])}")
        else:
            candidates = [n for (k, n) in self.declared if k in kinds]
            close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
            hint = (f"did you mean `{close[0]}`?" if close else
                    f"declare it: {kinds[0]} {name} {{ ... }}")
        self.error("UNDEFINED_REFERENCE",
                   f"{label} refers to `{name}`, which is not a declared {_or(kinds)}",
                   loc or value.loc, hint)
        return None

    # --- kind-specific -----------------------------------------------------------------

    def arrow(self, value: String, label: str) -> None:
        names = [n.strip() for n in value.value.split("->")]
        if not all(names):
            self.invalid(f'{label}: "{value.value}" has an empty step name', value.loc,
                         'write steps: "first -> second -> third"')
            return
        raw = self.raw(value.loc)
        offset = 0
        for name in names:
            loc = value.loc
            if raw is not None:
                found = raw.find(name, offset)
                if found >= 0:
                    offset = found + len(name)
                    column = value.loc.column + 1 + found
                    loc = Location(loc.file, loc.line, column, loc.line, column + len(name))
            self.resolve(String(name, loc), schema.ARROW_TARGET_KINDS, label, loc)

    def raw(self, loc: Location) -> str | None:
        """The text between the quotes of a one-line string without escapes, else None."""
        line = self.lines.line(loc.line) if loc.end_line == loc.line else None
        if line is None:
            return None
        text = line[loc.column - 1: loc.end_column - 1]
        if len(text) < 2 or "\\" in text or text[:3] in ('"""', "'''"):
            return None
        return text[1:-1]

    def step(self, item, label: str, names: dict[str, Location]) -> None:
        if not isinstance(item, ObjectValue):
            self.invalid(f"a step in {label} must be an object, not {_describe(item)}",
                         item.loc, 'write { kind: "prompt", target: name }, or use '
                                   'steps: "a -> b" for a list of names')
            return
        seen: dict[str, Entry] = {}
        for entry in item.entries:
            spec = schema.STEP_KEYS.get(entry.key)
            if spec is None:
                self.unknown_key(entry, list(schema.STEP_KEYS), "a chain step")
            elif entry.key in seen:
                self.invalid(f"`{entry.key}` is already set in this step", self.key_loc(entry),
                             "keep only one")
            else:
                seen[entry.key] = entry
        step_label = f"this step of {label.split(' of ', 1)[-1]}"
        if "name" in seen and self.value(schema.STEP_KEYS["name"], seen["name"].value,
                                         f"`name` of {step_label}", "name"):
            name = seen["name"].value
            if isinstance(name, String):
                if name.value in names:
                    self.invalid(f'step name "{name.value}" is already used on line '
                                 f"{names[name.value].line}", name.loc,
                                 "step names must be unique in a chain")
                else:
                    names[name.value] = name.loc
        for key in ("output", "when", "input", "template"):
            if key in seen:
                self.value(schema.STEP_KEYS[key], seen[key].value, f"`{key}` of {step_label}",
                           key)
        if "parallel" in seen:
            for key in ("kind", "target", "template"):
                if key in seen:
                    self.invalid(f"a parallel step runs the steps it lists; `{key}` does not "
                                 "belong here", self.key_loc(seen[key]),
                                 "move it into one of the inner steps")
            group = seen["parallel"].value
            if isinstance(group, ListValue):
                for inner in group.items:
                    self.step(inner, label, names)
            else:
                self.wrong(schema.STEP_KEYS["parallel"], group, f"`parallel` of {step_label}",
                           "parallel")
            return
        step_kind = None
        if "kind" in seen:
            kind_value = seen["kind"].value
            if self.value(schema.STEP_KEYS["kind"], kind_value, f"`kind` of {step_label}",
                          "kind") and isinstance(kind_value, String):
                step_kind = kind_value.value
        if "target" in seen:
            target = seen["target"].value
            kinds = (schema.STEP_TARGET_KINDS[step_kind] if step_kind else
                     schema.STEP_KEYS["target"].ref_kinds)
            if isinstance(target, (Reference, String)):
                self.resolve(target, kinds, f"`target` of {step_label}")
            else:
                self.wrong(schema.STEP_KEYS["target"], target, f"`target` of {step_label}",
                           "target")
        elif step_kind == "template" and "template" not in seen:
            self.template_input(seen.get("input"), step_label, item.loc)
        elif step_kind != "template":
            self.invalid(f"{step_label} has no `target`", item.loc,
                         'add target: <name>, or use kind: "template" with template: "..."')

    def responses(self, value: ListValue, label: str, decl: Declaration) -> None:
        for item in value.items:
            if not isinstance(item, ObjectValue):
                self.invalid(f"{label} holds objects like {{ match: \"regex\", reply: \"text\" }}"
                             f", not {_describe(item)}", item.loc)
                continue
            keys = {}
            for entry in item.entries:
                if entry.key not in _RESPONSE_KEYS:
                    self.unknown_key(entry, _RESPONSE_KEYS, "a mock response")
                else:
                    keys[entry.key] = entry.value
            if "match" in keys:  # without one, the response answers anything (docs/runtime.md)
                self.regex(keys["match"], f"`match` of a response of {label.split(' of ', 1)[-1]}")
            if not any(k in keys for k in ("reply", "tool_call", "tool_calls")):
                self.invalid("a mock response needs `reply`, `tool_call` or `tool_calls`",
                             item.loc, 'add reply: "text" or tool_call: { name: "tool" }')
            if "tool_call" in keys and "tool_calls" in keys:
                self.invalid("a mock response has both `tool_call` and `tool_calls`",
                             keys["tool_calls"].loc, "keep one: tool_calls: [ { name: ... } ]")
            if "reply" in keys and not isinstance(keys["reply"], (String, ObjectValue)):
                self.invalid(f"`reply` must be a string or an object, not "
                             f"{_describe(keys['reply'])}", keys["reply"].loc)
            if "tool_call" in keys:
                self.tool_call(keys["tool_call"])
            if "tool_calls" in keys:
                calls = keys["tool_calls"]
                if not isinstance(calls, ListValue):
                    self.invalid(f"`tool_calls` must be a list, not {_describe(calls)}", calls.loc,
                                 'write tool_calls: [ { name: "tool", arguments: { ... } } ]')
                else:
                    for call in calls.items:
                        self.tool_call(call)

    def tool_call(self, call) -> None:
        if not isinstance(call, ObjectValue):
            self.invalid(f"`tool_call` must be an object, not {_describe(call)}", call.loc,
                         'write tool_call: { name: "tool", arguments: { ... } }')
            return
        for entry in call.entries:
            if entry.key not in _TOOL_CALL_KEYS:
                self.unknown_key(entry, _TOOL_CALL_KEYS, "a tool_call")
        name, arguments = call.get("name"), call.get("arguments")
        if not isinstance(name, String):
            self.invalid("`tool_call` needs `name`, the tool's name as a string",
                         name.loc if name is not None else call.loc, 'add name: "tool"')
        if arguments is not None:
            if isinstance(arguments, ObjectValue):
                self.plain(arguments, "`arguments` of a tool_call")
            else:
                self.invalid(f"`arguments` must be an object, not {_describe(arguments)}",
                             arguments.loc)

    def regex(self, value, label: str, decl: Declaration | None = None) -> None:
        if not isinstance(value, String):
            if not isinstance(value, EnvCall):
                self.invalid(f"{label} must be a regex string, not {_describe(value)}",
                             value.loc)
            return
        try:
            re.compile(value.value)
        except re.error as exc:
            self.invalid(f"{label} is not a valid regular expression: {exc.msg}", value.loc,
                         "escape special characters with a backslash")
        except (OverflowError, RecursionError, ValueError, MemoryError) as exc:
            # What `re` raises for what it cannot build: a repeat count over 2**32
            # (`a{4294967296}`), groups nested thousands deep, a pattern too big to hold.
            self.invalid(f"{label} is a regular expression too large or too deeply nested "
                         f"to compile ({type(exc).__name__}: {exc})", value.loc,
                         "use smaller repeat counts and fewer nested groups")

    def fail_on(self, value, label: str, decl: Declaration) -> None:
        self.regex(value, label)

    def output(self, value: ObjectValue, label: str, decl: Declaration) -> None:
        for entry in value.entries:
            field = entry.value
            if isinstance(field, String) and field.value in schema.OUTPUT_FIELD_TYPES:
                continue
            word = field.value if isinstance(field, String) else getattr(field, "name", "")
            close = _FIELD_SYNONYMS.get(str(word).lower()) or (
                _suggest(str(word), schema.OUTPUT_FIELD_TYPES) if word else None)
            self.invalid(
                f"field `{entry.key}` in {label} must be one of "
                + ", ".join(f'"{t}"' for t in schema.OUTPUT_FIELD_TYPES)
                + f", not {_describe(field)}",
                field.loc, f'did you mean "{close}"?' if close else None)

    def headers(self, value: ObjectValue, label: str, decl: Declaration) -> None:
        for entry in value.entries:
            if not isinstance(entry.value, (String, EnvCall)):
                self.invalid(f"header `{entry.key}` in {label} must be a string or env(...), "
                             f"not {_describe(entry.value)}", entry.value.loc)

    def function(self, value, label: str, decl: Declaration) -> None:
        if isinstance(value, String) and not _FUNCTION_RE.fullmatch(value.value):
            self.invalid(f'{label} must look like "module:callable", not "{value.value}"',
                         value.loc, "the module is resolved from the program's folder")


# Checks a key gets after its basic type was accepted, by (kind, canonical key).
_SPECIAL = {
    ("llm", "responses"): _Checker.responses,
    ("llm", "fail_on"): _Checker.fail_on,
    ("prompt", "output"): _Checker.output,
    ("tool", "headers"): _Checker.headers,
    ("tool", "function"): _Checker.function,
}
