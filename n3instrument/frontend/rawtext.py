"""Where the parts of a program that are kept as raw text begin and end.

Real programs mix the brace dialect with namel3ss constructs this toolchain does not run:
`page "Home" at "/":` and its indented body, `dataset "x" from table y`, `use a::b`,
`export { ... }`. Their contents follow no grammar of ours, so the lexer measures them as
text (strings and comments respected, so a `}` or `#` in quotes never ends one) and hands
the whole span to the parser as one token.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_SPACE = re.compile(r"[ \t\f]*")
_WORD = re.compile(r"[^\W\d_]\w*")
_STOP = {'"': re.compile('["\n]'), "'": re.compile("['\n]")}


class Unclosed(Exception):
    """A bracket or string in raw text that is never closed; `pos` is where it opens."""

    def __init__(self, pos: int, what: str) -> None:
        super().__init__(what)
        self.pos, self.what = pos, what


@dataclass(frozen=True, slots=True)
class Head:
    """The first line of a declaration as written: `KIND NAME clause {` or `... :`.

    `body` is "brace" (a `{` at `body_start`), "colon" (an indented block after the line)
    or "" (the line is all there is). Offsets are into the whole source text.
    """

    kind: str
    kind_end: int
    name: str
    name_start: int
    name_end: int
    clause: str
    body: str
    body_start: int
    code_end: int


def _string_end(text: str, pos: int) -> int:
    if text.startswith('"""', pos):
        close = pos + 3
        while True:
            close = text.find('"""', close)
            if close < 0:
                raise Unclosed(pos, '"""')
            run = close
            while run > pos + 3 and text[run - 1] == "\\":
                run -= 1
            if (close - run) % 2 == 0:
                return close + 3
            close += 1
    stop = _STOP[text[pos]]
    close = pos + 1
    while True:
        found = stop.search(text, close)
        if found is None or found.group() == "\n":
            # An apostrophe in free text ("Don't") opens no string: it is kept as it is.
            return pos + 1
        close = found.start()
        run = close
        while text[run - 1] == "\\":
            run -= 1
        if (close - run) % 2 == 0:
            return close + 1
        close += 1


def line_code_end(text: str, pos: int) -> int:
    """The end of the code on the line at `pos`: before a comment and trailing spaces."""
    end = pos
    length = len(text)
    while end < length:
        char = text[end]
        if char == "\n" or char == "#":
            break
        if char in "\"'":
            if text.startswith('"""', end):
                break
            end = _string_end(text, end)
            continue
        end += 1
    while end > pos and text[end - 1] in " \t\f":
        end -= 1
    return end


def brace_end(text: str, pos: int) -> int:
    """The position just after the `}` that closes the `{` at `pos`."""
    depth, end, length = 0, pos, len(text)
    while end < length:
        char = text[end]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return end + 1
        elif char == "#":
            newline = text.find("\n", end)
            end = length if newline < 0 else newline
            continue
        elif char in "\"'":
            end = _string_end(text, end)
            continue
        end += 1
    raise Unclosed(pos, "{")


def indented_end(text: str, pos: int) -> int:
    """The end of the indented block that follows the line ending at or after `pos`.

    The block is every following line that is indented or blank; a comment at the left
    margin belongs to it only when indented lines follow. Triple-quoted text inside it may
    reach the margin.
    """
    newline = text.find("\n", pos)
    end = len(text) if newline < 0 else newline
    cursor = end
    while cursor < len(text):
        start = cursor + 1
        newline = text.find("\n", start)
        line_end = len(text) if newline < 0 else newline
        line = text[start:line_end]
        stripped = line.strip()
        if line[:1] in (" ", "\t") and stripped:
            opened = line.find('"""')
            if opened >= 0 and line.count('"""') % 2 == 1:
                line_end = _string_end(text, start + opened)
                newline = text.find("\n", line_end)
                line_end = len(text) if newline < 0 else newline
            end = cursor = line_end
        elif not stripped or stripped.startswith("#"):
            cursor = line_end
        else:
            break
    return end


def second_word(text: str, pos: int, word: str) -> int:
    """Where `word` starts if it follows the word at `pos` on the same line, else -1."""
    cursor = _SPACE.match(text, _WORD.match(text, pos).end()).end()
    found = _WORD.match(text, cursor)
    return cursor if found and found.group() == word else -1


def read_head(text: str, pos: int) -> Head:
    """The declaration head starting with the kind word at `pos`."""
    kind_end = _WORD.match(text, pos).end()
    cursor = _SPACE.match(text, kind_end).end()
    name, name_start, name_end = "", cursor, cursor
    quote_end = _string_end(text, cursor) if text[cursor:cursor + 1] in ("\"", "'") else 0
    if quote_end > cursor + 1:
        name_end = quote_end
        name = text[cursor + 1:quote_end - 1]
    else:
        word = _WORD.match(text, cursor)
        if word:
            name, name_end = word.group(), word.end()
    code_end = line_code_end(text, name_end)
    body, body_start, clause_end = "", code_end, code_end
    cursor = name_end
    while cursor < code_end:
        char = text[cursor]
        if char == "{":
            body, body_start, clause_end = "brace", cursor, cursor
            break
        if char in "\"'":
            cursor = _string_end(text, cursor)
            continue
        cursor += 1
    if not body and code_end > name_end and text[code_end - 1] == ":":
        body, clause_end = "colon", code_end - 1
    clause = text[name_end:clause_end].strip()
    return Head(text[pos:kind_end], kind_end, name, name_start, name_end, clause, body,
                body_start, code_end)


def declaration_end(text: str, head: Head) -> int:
    """Where the raw text of the declaration with `head` ends."""
    if head.body == "brace":
        return brace_end(text, head.body_start)
    if head.body == "colon":
        return indented_end(text, head.code_end)
    return head.code_end
