"""Compiler-style diagnostics: one shape for syntax and semantic problems, text or JSON.

Kept free of lark so that the CLI can render and serialise results without loading the
parser.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from n3core.errors import ToolchainError

from .lines import SourceLines, lines_of
from .nodes import Location

SEVERITIES = ("error", "warning", "note")
# A diagnostic shows at most this much of a source line (around the caret) and of a
# message or hint: an unclosed string in a 10 MB one-line file must not print 10 MB.
MAX_LINE = 160
MAX_TEXT = 400


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(char: str) -> str:
    """A character as printed: control characters (NUL, ESC, newlines) as escapes."""
    return char if char.isprintable() or char == "\t" else repr(char)[1:-1]


def visible(text: str, limit: int = MAX_TEXT) -> str:
    """`text` cut to `limit` characters, with control characters escaped."""
    text = _clip(text, limit)
    return text if text.isprintable() else "".join(_shown(c) for c in text)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem at a place in the user's file.

    `loc.end_column` is exclusive (the column just after the last character), as lark
    reports it; 0 means "unknown", and then only a caret is drawn.
    """

    severity: str
    code: str
    message: str
    hint: str | None
    loc: Location

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"severity must be one of {', '.join(SEVERITIES)}, not {self.severity!r}"
            )

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def header(self) -> str:
        return visible(f"{self.loc}: {self.severity}[{self.code}]: ", MAX_LINE) + visible(self.message)

    def to_dict(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": _clip(self.message),
            "hint": _clip(self.hint) if self.hint else self.hint,
            "file": self.loc.file,
            "line": self.loc.line,
            "column": self.loc.column,
            "end_line": self.loc.end_line,
            "end_column": self.loc.end_column,
        }

    def render(self, source: str | None = None) -> str:
        return render(self, source)


def error(code: str, message: str, loc: Location, hint: str | None = None) -> Diagnostic:
    return Diagnostic("error", code, message, hint, loc)


def warning(code: str, message: str, loc: Location, hint: str | None = None) -> Diagnostic:
    return Diagnostic("warning", code, message, hint, loc)


def note(code: str, message: str, loc: Location, hint: str | None = None) -> Diagnostic:
    return Diagnostic("note", code, message, hint, loc)


def _source_line(source: SourceLines | None, line: int) -> str | None:
    text = source.line(line) if source is not None else None
    return text.rstrip("\r") if text is not None else None


def render(diagnostic: Diagnostic, source: str | SourceLines | None = None) -> str:
    """The header, the source line with a caret (and `~` to the end), and the hint.

    `source` is the file's text, or its SourceLines when several diagnostics share it.
    """
    loc = diagnostic.loc
    out = [diagnostic.header()]
    text = _source_line(lines_of(source), loc.line)
    if text is not None:
        gutter = str(loc.line)
        pad = " " * len(gutter)
        column = max(loc.column, 1)
        if loc.end_line == loc.line and loc.end_column > column:
            width = loc.end_column - column
        elif loc.end_line > loc.line:
            width = max(len(text) - column + 1, 1)
        else:
            width = 1
        shown, lead, width = _excerpt(text, column, width)
        out.append(f" {gutter} | {shown}")
        out.append(f" {pad} | {lead}^{'~' * (width - 1)}")
    if diagnostic.hint:
        out.append(f"hint: {visible(diagnostic.hint)}")
    return "\n".join(out)


def _excerpt(text: str, column: int, width: int) -> tuple[str, str, int]:
    """(the part of `text` shown, the caret's lead, the caret's width) for a long line."""
    start = max(0, min(column - 1 - MAX_LINE // 2, len(text) - MAX_LINE))
    end = start + MAX_LINE
    before, after = ("..." if start else ""), ("..." if end < len(text) else "")
    pieces = [_shown(c) for c in text[start:end]]
    # Keep tabs from the source line so the caret stays under the right character.
    lead = " " * len(before) + "".join(p if p == "\t" else " " * len(p)
                                       for p in pieces[: column - 1 - start])
    caret = pieces[column - 1 - start: column - 1 - start + width]
    width = max(sum(len(p) for p in caret), 1) if caret else 1
    return before + "".join(pieces) + after, lead, width


def render_all(diagnostics: Iterable[Diagnostic], source: str | None = None) -> str:
    lines = lines_of(source)
    return "\n\n".join(render(d, lines) for d in diagnostics)


def sort_key(diagnostic: Diagnostic) -> tuple:
    loc = diagnostic.loc
    return (loc.file, loc.line, loc.column)


class FrontendError(ToolchainError):
    """The front end refused a file; `diagnostics` says why (never empty)."""

    def __init__(self, diagnostics: list[Diagnostic], source: str | None = None) -> None:
        if not diagnostics:
            raise ValueError("FrontendError needs at least one diagnostic")
        self.diagnostics = list(diagnostics)
        self.source = source
        super().__init__(diagnostics[0].header())

    def render(self) -> str:
        return render_all(self.diagnostics, self.source)

    report = render


# --- lark's parse errors, in the user's words -------------------------------------------

_WORDS = {
    "NAME": "a name", "STRING": "a string", "LONG_STRING": "a string", "NUMBER": "a number",
    "TRUE": "`true`", "FALSE": "`false`", "NULL": "`null`", "LBRACE": "`{`", "RBRACE": "`}`",
    "LSQB": "`[`", "RSQB": "`]`", "LPAR": "`(`", "RPAR": "`)`", "COLON": "`:`",
    "COMMA": "`,`", "DOT": "`.`", "MODULE": "`module`", "IMPORT": "`import`", "AS": "`as`",
    "LANGUAGE_VERSION": "`language_version`", "$END": "the end of the file",
}
_VALUE_START = {"STRING", "LONG_STRING", "NUMBER", "LSQB", "LBRACE"}
_CLOSERS = {"LBRACE": "RBRACE", "LSQB": "RSQB", "LPAR": "RPAR"}


def _word(token_type: str) -> str:
    return _WORDS.get(token_type, token_type)


def _expected(names) -> str:
    words = sorted({_word(n) for n in names})
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _loc(file: str, line: int, column: int, end_line: int = 0, end_column: int = 0) -> Location:
    return Location(file, line, column, end_line, end_column)


def _unexpected_characters(exc, text: str, file: str) -> Diagnostic:
    import re

    pos, line, column = exc.pos_in_stream, exc.line, exc.column
    char = text[pos] if pos < len(text) else ""
    newline = text.find("\n", pos)
    rest = text[pos: newline if newline >= 0 else len(text)]
    here = _loc(file, line, column, line, column + 1)
    if char == "=":
        source_line = SourceLines(text).line(line) or ""
        m = re.match(r"\s*([^\s=]+)\s*=\s*(.*?)\s*$", source_line)
        hint = f"write `{m.group(1)}: {m.group(2)}`" if m else "write `key: value`"
        return error("SYNTAX_ERROR", "use `key: value`, not `key = value`", here, hint)
    if char in "\"'":
        if rest.startswith('"""'):
            return error("SYNTAX_ERROR", 'unclosed string: this `"""` is never closed',
                         _loc(file, line, column, line, column + 3),
                         'end the string with `"""`')
        return error(
            "SYNTAX_ERROR", "unclosed string",
            _loc(file, line, column, line, column + len(rest)),
            f"close it with {char} on the same line, or use \"\"\"...\"\"\" for text "
            "that spans lines",
        )
    word = re.match(r"-?[\w.]*", rest).group(0) or char
    span = _loc(file, line, column, line, column + len(word))
    if re.fullmatch(r"-?\d+(\.\d+){2,}", word):
        return error("SYNTAX_ERROR", f"`{word}` is not a number", span,
                     f'a version is a string: write "{word}"')
    if word[:1].isdigit() or word[:2].lstrip("-")[:1].isdigit():
        return error("SYNTAX_ERROR", f"`{word}` is not a valid number", span,
                     "numbers look like 12, -3, 0.7 or 1e-3; quote anything else")
    if rest.startswith("//"):
        return error("SYNTAX_ERROR", "comments start with `#`", here, "write `# ...`")
    return error("SYNTAX_ERROR", f"unexpected character `{char}`", here,
                 "values are strings, numbers, true/false/null, names, [lists] or {objects}")


def _unclosed_opener(lex, text: str):
    stack = []
    for token in lex(text):
        if token.type in _CLOSERS:
            stack.append(token)
        elif token.type in _CLOSERS.values() and stack:
            stack.pop()
    return stack[-1] if stack else None


def _previous(exc, back: int = 1):
    """What the parser had just read (`back` items before the error), if it is known."""
    history = getattr(exc, "token_history", None)
    if history:
        return history[-back] if len(history) >= back else None
    interactive = getattr(exc, "interactive_parser", None)
    if interactive is not None:
        stack = interactive.parser_state.value_stack
        return stack[-back] if len(stack) >= back else None
    return None


def _unexpected_token(exc, text: str, file: str, lex) -> Diagnostic:
    from lark import Token

    token = exc.token
    kind = token.type
    expected = set(exc.expected or ())
    prev = _previous(exc)
    prev_type = prev.type if isinstance(prev, Token) else None
    if kind == "$END":
        opener = _unclosed_opener(lex, text) if lex is not None else None
        if opener is not None:
            close = {"LBRACE": "}", "LSQB": "]", "LPAR": ")"}[opener.type]
            return error("SYNTAX_ERROR", f"`{opener}` is never closed",
                         _loc(file, opener.line, opener.column, opener.end_line,
                              opener.end_column),
                         f"add `{close}` where it should end")
        line, column = (prev.end_line, prev.end_column) if isinstance(prev, Token) else (
            token.line or 1, token.column or 1)
        where = _loc(file, line, column, line, column + 1)
    else:
        where = _loc(file, token.line, token.column, token.end_line, token.end_column)
    shown = _word(kind) if kind == "$END" else f"`{token}`"

    if prev_type == "IMPORT":
        return error("SYNTAX_ERROR", "`import` needs a module path", where,
                     "write import a.b.c (optionally `as name`)")
    if prev_type == "NAME" and expected <= {"NAME", "STRING"}:
        if kind == "COLON":
            return error("SYNTAX_ERROR", f"`{prev}: ...` is not allowed at the top level", where,
                         'the only top-level setting is language_version: "1.0"; '
                         "everything else lives in a declaration block")
        what = "`{`" if kind == "LBRACE" else shown
        return error("SYNTAX_ERROR", f"`{prev}` needs a name before {what}", where,
                     f"write {prev} my_name {{ ... }}")
    if expected == {"COLON"}:
        if kind == "NAME" or kind not in _VALUE_START:
            return error("SYNTAX_ERROR", "a block holds only `key: value` entries", where,
                         f"`{prev}` must be followed by `:` and a value")
        return error("SYNTAX_ERROR", f"expected `:` after `{prev}`", where,
                     f"write `{prev}: {token}`")
    if "NUMBER" in expected and kind in {"RBRACE", "RSQB", "COMMA", "COLON", "$END"}:
        key = _previous(exc, 2) if prev_type == "COLON" else None
        after = f" after `{key}:`" if isinstance(key, Token) else ""
        return error("SYNTAX_ERROR", f"missing value{after}", where,
                     "a value is a string, number, true/false/null, name, [list] or {object}")
    if kind == "LBRACE":
        return error("SYNTAX_ERROR", "stray `{`", where,
                     "a block holds `key: value` entries; a nested object needs a key: "
                     "`key: { ... }`")
    if kind in ("RBRACE", "RSQB", "RPAR"):
        return error("SYNTAX_ERROR", f"unmatched {shown}", where,
                     "remove it, or add the opening bracket it belongs to")
    return error("SYNTAX_ERROR", f"unexpected {shown}", where,
                 f"expected {_expected(expected)}" if expected else None)


def from_lark_error(exc, text: str, file: str, lex=None) -> Diagnostic:
    """One SYNTAX_ERROR for a lark `UnexpectedInput` (lark is imported only here).

    `lex(text)` yields the file's tokens; with it, an unexpected end of file points at the
    bracket that was never closed instead of at the last line.
    """
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(exc, UnexpectedCharacters):
        return _unexpected_characters(exc, text, file)
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(exc, text, file, lex)
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    return error("SYNTAX_ERROR", "unexpected end of file", _loc(file, line, column))
