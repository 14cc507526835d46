"""`.ai` text to the typed AST, in one LALR pass.

The transformer is embedded in the parser, so nodes are built as rules are reduced and no
intermediate lark tree exists: that is what keeps the front end well above 20k lines/s.
It also means the checks that live in callbacks (unknown kind, unquoted app name, missing
block) fire as soon as the offending declaration is read, at its own position.
"""
from __future__ import annotations

import re
import threading
from dataclasses import replace

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from n3core.runtime import schema

from .diagnostics import Diagnostic, FrontendError, from_lark_error
from .lexer import NO_FILE, Lexer, Problem
from .lines import dedent
from .nodes import (
    Boolean, Declaration, Entry, EnvCall, Import, ListValue, Location, Null, Number,
    ObjectValue, Program, Reference, Statement, String,
)


# `\{` and `\}` stay escaped: they reach the runtime, whose template renderer reads them as
# literal braces that never start a placeholder.
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _unescape_one(match: re.Match) -> str:
    # Unknown escapes stay as written, so regexes such as "\d+" need no doubling.
    return _ESCAPES.get(match.group(1), match.group(0))


_CHUNK = 1 << 16


def unescape(raw: str) -> str:
    """`raw` with its escapes applied, a chunk at a time.

    `re.sub` holds a piece per escape until it joins them, about 50 bytes each; cutting
    the text where no escape is split keeps that to one chunk's worth.
    """
    if "\\" not in raw:
        return raw
    if len(raw) <= _CHUNK:
        return _ESCAPE_RE.sub(_unescape_one, raw)
    pieces, start = [], 0
    while start < len(raw):
        end = min(start + _CHUNK, len(raw))
        while end < len(raw) and raw[end - 1] == "\\":
            end += 1
        pieces.append(_ESCAPE_RE.sub(_unescape_one, raw[start:end]))
        start = end
    return "".join(pieces)


def _string_value(token: Token) -> str:
    if token.type == "LONG_STRING":
        # one slice, not two: a second copy of a 50 MB string is 50 MB more at the peak
        start = 4 if token.startswith("\n", 3) else 3
        return unescape(dedent(token[start:-3]))
    return unescape(token[1:-1])


def _start(x) -> tuple[int, int]:
    if isinstance(x, Token):
        return x.line, x.column
    loc = x.loc
    return loc.line, loc.column


def _end(x) -> tuple[int, int]:
    if isinstance(x, Token):
        return x.end_line, x.end_column
    loc = x.loc
    return loc.end_line, loc.end_column


class _Fragment(str):
    """Source text that starts at `origin` (line, column) of its file."""

    origin: tuple[int, int] = (1, 1)


class _Build(Transformer):
    """Builds nodes as the parser reduces; `Parser.parse` sets `file` for each parse."""

    file = NO_FILE
    parser = None  # the Parser whose parse this is

    def _tok(self, t: Token) -> Location:
        return Location(self.file, t.line, t.column, t.end_line, t.end_column)

    def _span(self, first, last) -> Location:
        line, column = _start(first)
        end_line, end_column = _end(last)
        return Location(self.file, line, column, end_line, end_column)

    # values
    def string(self, c):
        t = c[0]
        return String(unescape(t[1:-1]), self._tok(t))

    def long_string(self, c):
        t = c[0]
        return String(_string_value(t), self._tok(t))

    def number(self, c):
        t = c[0]
        text = str(t)
        if "." in text or "e" in text or "E" in text:
            return Number(float(text), self._tok(t))
        try:
            return Number(int(text), self._tok(t))
        except ValueError:  # longer than sys.get_int_max_str_digits()
            raise Problem(f"this whole number has {len(text.lstrip('-'))} digits, more than "
                          "Python reads (4,300 unless PYTHONINTMAXSTRDIGITS says otherwise)",
                          self._tok(t), 'write it as a string: "123..."') from None

    def true(self, c):
        return Boolean(True, self._tok(c[0]))

    def false(self, c):
        return Boolean(False, self._tok(c[0]))

    def null(self, c):
        return Null(self._tok(c[0]))

    def reference(self, c):
        t = c[0]
        return Reference(str(t), self._tok(t))

    def call(self, c):
        func, _, arg, close = c
        loc = self._span(func, close)
        if func != "env":
            raise Problem(
                f"`{func}(...)` is not a value: only `env(\"NAME\")` can be called",
                loc, 'read an environment variable with env("NAME")',
            )
        name = _string_value(arg) if arg.type in ("STRING", "LONG_STRING") else str(arg)
        if not name:
            raise Problem("env() needs the name of an environment variable",
                          self._tok(arg), 'for example env("OPENAI_API_KEY")')
        return EnvCall(name, loc)

    def _items(self, c, what: str) -> list:
        items = []
        prev = None
        comma = False
        for x in c[1:-1]:
            if isinstance(x, Token):
                comma = True
                continue
            if prev is not None and not comma and _start(x)[0] == _end(prev)[0]:
                line, column = _start(x)
                raise Problem(
                    f"{what} on the same line must be separated by a comma",
                    Location(self.file, line, column, *_end(x)),
                    "put a `,` before it, or start it on a new line",
                )
            items.append(x)
            prev = x
            comma = False
        return items

    def list(self, c):
        return ListValue(tuple(self._items(c, "list items")), self._span(c[0], c[-1]))

    def object(self, c):
        return ObjectValue(tuple(self._items(c, "entries")), self._span(c[0], c[-1]))

    def entry(self, c):
        key, _, value = c
        name = _string_value(key) if key.type == "STRING" else str(key)
        return Entry(name, value, self._span(key, value))

    # declarations
    def kind(self, c):
        t = c[0]
        if t not in schema.ALL_KINDS:
            import difflib
            close = difflib.get_close_matches(str(t), schema.ALL_KINDS, n=1)
            hint = (f"did you mean `{close[0]}`?" if close else
                    "declarations start with one of: " + ", ".join(schema.ALL_KINDS))
            raise Problem(f"unknown declaration kind `{t}`", self._tok(t), hint)
        return t

    def declaration(self, c):
        kind, name = c[0], c[1]
        block = c[2] if len(c) > 2 else None
        name_loc = self._tok(name)
        if kind == "app" and name.type == "NAME":
            raise Problem("the app name must be quoted", name_loc, f'write app "{name}"')
        if block is None and kind != "app":
            raise Problem(
                f"`{kind} {name}` needs a block `{{ ... }}`",
                self._span(kind, name), f"write {kind} {name} {{ key: value }}",
            )
        value = _string_value(name) if name.type == "STRING" else str(name)
        entries = block.entries if block is not None else ()
        return Declaration(str(kind), value, entries, self._span(kind, block or name), name_loc)

    def raw_declaration(self, c):
        t = c[0]
        head = t.head
        offset = t.start_pos
        column = t.column + head.name_start - offset
        name_loc = Location(self.file, t.line, column, t.line, column + head.name_end - head.name_start)
        quoted = head.name_end > head.name_start and t[head.name_start - offset] in "\"'"
        name = unescape(head.name) if quoted else head.name
        if head.kind == "app" and not quoted:
            raise Problem("the app name must be quoted", name_loc, f'write app "{name}"')
        clause = head.clause[:-1].rstrip() if head.clause.endswith(".") else head.clause
        entries, raw = (), str(t)
        if head.body == "brace" and not clause:
            body = _Fragment(t[head.body_start - offset:])
            body.origin = (t.line, t.column + head.body_start - offset)
            try:
                entries, raw = self.parser.nested_object(body), None
            except (Problem, UnexpectedInput):
                pass
        loc = Location(self.file, t.line, t.column, t.end_line, t.end_column)
        return Declaration(head.kind, name, entries, loc, name_loc, clause, raw)

    def use_decl(self, c):
        return Statement("use", str(c[0])[3:].strip(), self._tok(c[0]))

    def export_decl(self, c):
        return Statement("export", str(c[0])[6:].strip(), self._tok(c[0]))

    def dotted(self, c):
        return c

    def import_decl(self, c):
        keyword, parts = c[0], c[1]
        if parts[0].line != keyword.line:
            raise Problem("`import` needs a module path on the same line", self._tok(keyword),
                          "write import a.b.c (optionally `as name`)")
        path = "".join(parts)
        alias = str(c[3]) if len(c) > 3 else None
        return Import(path, alias, self._span(keyword, c[-1] if alias else parts[-1]))

    def module_decl(self, c):
        name = c[1]
        if isinstance(name, list):
            return ("module", "".join(name), self._span(c[0], name[-1]))
        return ("module", _string_value(name), self._span(c[0], name))

    def version_decl(self, c):
        value = c[2]
        text = _string_value(value) if value.type == "STRING" else str(value)
        return ("language_version", text, self._span(c[0], value))

    def start(self, c):
        return c


class Parser:
    """The grammar's lark parser and the transformer it reduces with, one file at a time.

    lark binds the transformer's methods into its parse tables (building nodes while it
    reduces, without a tree, is what keeps the front end fast), so the file name each
    node's Location carries is the transformer's, set for the length of one parse under
    this parser's lock. `parse()` shares one instance; code that parses from many threads
    at once can make its own.
    """

    def __init__(self) -> None:
        self._build = _Build()
        self._build.parser = self
        self._lark = Lark.open_from_package(
            __package__, "namel3ss.lark", ("",),
            parser="lalr", lexer=Lexer, transformer=self._build, start=["start", "object"],
            propagate_positions=False, maybe_placeholders=False,
        )
        self._lock = threading.Lock()

    def items(self, text: str, file: str) -> list:
        """The top-level items of `text`; Problem or lark's UnexpectedInput on bad syntax."""
        with self._lock:
            self._build.file = file
            try:
                return self._lark.parse(text, start="start")
            except Problem as problem:
                if problem.loc.file == NO_FILE:  # found by the lexer, which knows no file
                    problem.loc = replace(problem.loc, file=file)
                raise
            finally:
                self._build.file = NO_FILE

    def nested_object(self, body):
        """The entries of a brace body met inside the parse under way (its file, its lock)."""
        return self._lark.parse(body, start="object").entries

    def tokens(self, text: str):
        """Every token of `text`, without parser context (for error reports); stops at text
        that does not lex."""
        try:
            yield from self._lark.parser.lexer.tokens(text)
        except (Problem, UnexpectedInput):
            return


_SHARED: Parser | None = None


def shared_parser() -> Parser:
    """The Parser `parse` uses, made on first use (building it compiles the grammar)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Parser()
    return _SHARED


def _program(items: list, source: str, file: str) -> Program:
    module = version = None
    imports: list[Import] = []
    declarations: list[Declaration] = []
    statements: list[Statement] = []
    for item in items:
        if isinstance(item, Declaration):
            declarations.append(item)
        elif isinstance(item, Import):
            imports.append(item)
        elif isinstance(item, Statement):
            statements.append(item)
        else:
            what, value, loc = item
            if (module if what == "module" else version) is not None:
                raise Problem(f"`{what}` is given twice", loc, "keep only one")
            if what == "module":
                module = value
            else:
                version = value
    return Program(file, source, module, tuple(imports), version, tuple(declarations),
                   tuple(statements))


def parse(source: str, file: str) -> Program:
    """Parse a whole file; raise `FrontendError` with one SYNTAX_ERROR on bad syntax."""
    text = source[1:] if source.startswith("\ufeff") else source
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    parser = shared_parser()
    try:
        return _program(parser.items(text, file), text, file)
    except Problem as problem:
        diagnostic = Diagnostic("error", "SYNTAX_ERROR", problem.message, problem.hint, problem.loc)
    except UnexpectedInput as exc:
        diagnostic = from_lark_error(exc, text, file, parser.tokens)
    raise FrontendError([diagnostic], text)
