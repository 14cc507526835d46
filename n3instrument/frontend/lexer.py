"""`.ai` text to tokens: one regex a token, and raw-text spans measured as one token.

Kept apart from the grammar's transformer (`parser`) so that each holds one stage: this
module knows characters (strings, nesting depth, where a raw-text statement ends), the
transformer knows rules. Its `Problem` is raised by both.
"""
from __future__ import annotations

import re

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer as LarkLexer

from n3core.errors import ToolchainError
from n3core.runtime import schema

from . import rawtext
from .nodes import Location

# How deep `{ ... }` and `[ ... ]` may nest, counting a declaration's own block. The
# parser itself never recurses, but lowering and Python's own parser do (CPython refuses
# 200 nested brackets, and a nested chain step lowers to three), so the limit is checked
# here, as the brackets are read, and documented in docs/language-decisions.md.
MAX_NESTING = 64
_OPENERS = {"LBRACE", "LSQB"}
_CLOSERS = {"RBRACE", "RSQB"}


NO_FILE = "<string>"  # a Location's file outside a parse


class Problem(ToolchainError):
    """A syntax error found by the lexer or a transformer callback, in the user's words."""

    def __init__(self, message: str, loc: Location, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.loc, self.hint = message, loc, hint


_STRING_STOP = {'"': re.compile('["\n]'), "'": re.compile("['\n]")}


def _escaped(text: str, index: int) -> bool:
    """Whether the character at `index` follows an odd run of backslashes."""
    run = index
    while run and text[run - 1] == "\\":
        run -= 1
    return (index - run) % 2 == 1


def _string_end(text: str, start: int) -> int:
    """The end of the string whose opening quote is at `start`, or -1 if it is unclosed.

    The same strings as the grammar's STRING and LONG_STRING, found by searching for the
    closing quote: a regex walking the body keeps a backtracking frame per escape or
    quote, which cost over 90 bytes a character (a 5 MB string took 464 MB).
    """
    if text.startswith('"""', start):
        pos = start + 3
        while True:
            close = text.find('"""', pos)
            if close < 0:
                return -1
            if not _escaped(text, close):
                return close + 3
            pos = close + 1
    stop = _STRING_STOP[text[start]]
    pos = start + 1
    while True:
        found = stop.search(text, pos)
        if found is None or found.group() == "\n":
            return -1
        close = found.start()
        if not _escaped(text, close):
            return close + 1
        pos = close + 1


class Lexer(LarkLexer):
    """One compiled regex for every token, built from the grammar's own terminals.

    lark's contextual lexer tries terminals one by one per state; this does a single
    `match` per token and is about twice as fast. It stays contextual where it matters:
    a keyword (`true`, `module`, ...) is only a keyword where the parser accepts it, so
    `module:` is still an ordinary key.

    Strings are found by `_string_end` rather than by the grammar's regexes, which
    describe the same tokens but cost memory in proportion to the string.
    """

    __future_interface__ = 2

    def __init__(self, conf) -> None:
        by_name = conf.terminals_by_name
        name_re = re.compile(by_name["NAME"].pattern.to_regexp())
        skip = "(?:%s)*" % "|".join(by_name[n].pattern.to_regexp() for n in conf.ignore)
        self.skip_re = re.compile(skip)
        # Atomic (lookahead + backreference): never re-split skipped text on a failed
        # match, which would take exponential time on long runs of spaces or `#`.
        skip = f"(?=(?P<SKIP>{skip}))(?P=SKIP)"
        self.keywords: dict[str, str] = {}
        self.punctuation: dict[str, str] = {}
        groups = []
        for terminal in conf.terminals:
            pattern = terminal.pattern
            if terminal.name in conf.ignore:
                continue
            if pattern.type == "str" and name_re.fullmatch(pattern.value):
                self.keywords[pattern.value] = terminal.name
            elif pattern.type == "str":
                self.punctuation[pattern.value] = terminal.name
            elif terminal.name == "LONG_STRING":
                groups.append('(?P<LONG_STRING>""")')
            elif terminal.name == "STRING":
                groups.append("(?P<STRING>\"(?!\"\")|')")
            else:
                groups.append(f"(?P<{terminal.name}>{pattern.to_regexp()})")
        marks = sorted(self.punctuation, key=len, reverse=True)
        groups.append("(?P<PUNCT>%s)" % "|".join(re.escape(m) for m in marks))
        self.token_re = re.compile(skip + "(?:" + "|".join(groups) + ")")

    def lex(self, lexer_state, parser_state):
        text = lexer_state.text
        text = getattr(text, "text", text)
        origin = getattr(text, "origin", None)
        if origin is None:
            return self.tokens(text, parser_state)
        return _shifted(self.tokens(str(text), parser_state, raw=False), *origin)

    def tokens(self, text: str, parser_state=None, raw: bool = True):
        match = self.token_re.match
        keywords, punctuation = self.keywords, self.punctuation
        states = parser_state.parse_conf.states if parser_state is not None else None
        pos, line, line_start, depth = 0, 1, 0, 0
        token_line = 0
        while True:
            m = match(text, pos)
            if m is None:
                start = self.skip_re.match(text, pos).end()
                if text.count("\n", pos, start):
                    line += text.count("\n", pos, start)
                    line_start = text.rfind("\n", pos, start) + 1
                if start >= len(text):
                    return
                raise UnexpectedCharacters(text, start, line, start - line_start + 1,
                                           state=parser_state)
            kind = m.lastgroup
            start = m.start(kind)
            if start != pos and text.count("\n", pos, start):
                line += text.count("\n", pos, start)
                line_start = text.rfind("\n", pos, start) + 1
            end = m.end()
            if kind in ("STRING", "LONG_STRING"):
                end = _string_end(text, start)
                if end < 0:
                    raise UnexpectedCharacters(text, start, line, start - line_start + 1,
                                               state=parser_state)
            value = text[start:end]
            if kind == "PUNCT":
                kind = punctuation[value]
                if kind in _OPENERS:
                    depth += 1
                    if depth > MAX_NESTING and parser_state is not None:
                        column = start - line_start + 1
                        raise Problem(
                            f"`{value}` nests deeper than {MAX_NESTING} levels",
                            Location(NO_FILE, line, column, line, column + 1),
                            "flatten the value, or keep deep data in a file a tool reads")
                elif kind in _CLOSERS and depth:
                    depth -= 1
            elif kind == "NAME":
                keyword = keywords.get(value)
                if keyword is not None and (states is None or
                                            keyword in states[parser_state.position]):
                    kind = keyword
                elif not depth and raw and line != token_line and (
                        states is None or "IMPORT" in states[parser_state.position]):
                    token = _item_start(text, value, start, line, line_start)
                    if token is not None:
                        yield token
                        end = token.end_pos
                        if token.end_line != line:
                            line, line_start = token.end_line, text.rfind("\n", 0, end) + 1
                        pos, token_line = end, line
                        continue
            column = start - line_start + 1
            if kind == "LONG_STRING" and "\n" in value:
                end_line = line + value.count("\n")
                end_column = end - (start + value.rfind("\n"))
                yield Token(kind, value, start, line, column, end_line, end_column, end)
                line, line_start = end_line, start + value.rfind("\n") + 1
            else:
                yield Token(kind, value, start, line, column, line, column + len(value), end)
            pos, token_line = end, line


class RawToken(Token):
    """A token the lexer measured as raw text; `head` is its `rawtext.Head`, if any."""

    __slots__ = ("head",)


# Kinds whose declarations must use braces: the runtime executes them.
_BRACED = set(schema.EXECUTABLE_KINDS) | {"app"}
_DECLARATIVE = set(schema.DECLARATIVE_KINDS)


def _raw_token(kind: str, text: str, start: int, end: int, line: int, line_start: int,
               head=None) -> RawToken:
    value = text[start:end]
    column = start - line_start + 1
    newlines = value.count("\n")
    if newlines:
        end_line, end_column = line + newlines, end - (start + value.rfind("\n"))
    else:
        end_line, end_column = line, column + len(value)
    token = RawToken(kind, value, start, line, column, end_line, end_column, end)
    token.head = head
    return token


def _where(text: str, pos: int, line: int, line_start: int, width: int = 1) -> Location:
    line += text.count("\n", line_start, pos)
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return Location(NO_FILE, line, column, line, column + width)  # items() names the file


def _item_start(text: str, word: str, start: int, line: int, line_start: int):
    """The raw-text token for the statement starting with `word`, or None to lex it as usual.

    `use` and `export` statements, declarative declarations and an `app` line with a header
    clause become one token; an executable kind with an indented body is a syntax error.
    """
    try:
        if word == "use":
            return _raw_token("USE_STMT", text, start, rawtext.line_code_end(text, start),
                              line, line_start)
        if word == "export":
            brace = rawtext.line_code_end(text, start)
            head = rawtext.read_head(text, start)
            end = rawtext.brace_end(text, head.body_start) if head.body == "brace" else brace
            return _raw_token("EXPORT_STMT", text, start, end, line, line_start)
        if word == "ai":
            model = rawtext.second_word(text, start, "model")
            if model < 0:
                return None
            head = rawtext.read_head(text, model)
            word = "ai model"
        elif word not in _BRACED and word not in _DECLARATIVE:
            return None
        else:
            head = rawtext.read_head(text, start)
        if word in _DECLARATIVE:
            return _raw_token("RAW_DECL", text, start, rawtext.declaration_end(text, head),
                              line, line_start, head)
    except rawtext.Unclosed as unclosed:
        if unclosed.what == "{":
            raise Problem("`{` is never closed", _where(text, unclosed.pos, line, line_start),
                          "add `}` where it should end") from None
        raise Problem('unclosed string: this `"""` is never closed',
                      _where(text, unclosed.pos, line, line_start, 3),
                      'end the string with `"""`') from None
    if head.body == "colon":
        named = f"{word} {head.name}".rstrip() if word != "app" else f'app "{head.name}"'
        raise Problem(
            f"`{named}:` is followed by an indented body, but {word} declarations are "
            "executed and must use braces",
            _where(text, head.code_end - 1, line, line_start),
            f"write {named} {{ key: value ... }}, one entry per line")
    if word == "app" and head.clause and head.body == "" and head.name:
        return _raw_token("RAW_DECL", text, start, head.code_end, line, line_start, head)
    if word == "ai model":
        column = start - line_start + 1
        return Token("NAME", "llm", start, line, column, line,
                     column + head.kind_end - start, head.kind_end)
    return None


def _shifted(tokens, line0: int, column0: int):
    """Tokens of a fragment moved to where the fragment sits in its file."""
    for token in tokens:
        if token.line == 1:
            token.column += column0 - 1
        if token.end_line == 1:
            token.end_column += column0 - 1
        token.line += line0 - 1
        token.end_line += line0 - 1
        yield token
