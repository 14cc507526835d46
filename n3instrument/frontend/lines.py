"""Lines of a source text, looked up and dedented without a list of them.

`text.split("\\n")` costs a string object per line, about 50 bytes each: for a `\"\"\"`
string of 1.67M short lines that was 18 times the file. Here a line is found from a
sparse index (how many newlines precede every `_STEP`-th character), built on the first
lookup, and `dedent` works a bounded piece of text at a time.
"""
from __future__ import annotations

import os
import re
from array import array
from bisect import bisect_left

# Characters per index entry: the index costs 8 bytes per _STEP characters and a lookup
# steps over at most _STEP newlines.
_STEP = 4096
_PIECE = 1 << 16


class SourceLines:
    """Line `n` (1-based, without its newline) of `text`, as `text.split("\\n")[n - 1]`."""

    __slots__ = ("text", "_before")

    def __init__(self, text: str) -> None:
        self.text = text
        self._before: array | None = None  # newlines in text[:i * _STEP]

    def _index(self) -> array:
        if self._before is None:
            text, count = self.text, 0
            before = array("q", [0])
            for start in range(0, len(text), _STEP):
                count += text.count("\n", start, start + _STEP)
                before.append(count)
            self._before = before
        return self._before

    def __len__(self) -> int:
        return self._index()[-1] + 1

    def line(self, n: int) -> str | None:
        """Line n, or None when the text has no such line."""
        if n < 1:
            return None
        before = self._index()
        if n - 1 > before[-1]:
            return None
        # the last block that starts before the newline ending line n - 1
        block = max(bisect_left(before, n - 1) - 1, 0)
        text, pos = self.text, block * _STEP
        for _ in range(n - 1 - before[block]):
            pos = text.index("\n", pos) + 1
        end = text.find("\n", pos)
        return text[pos:] if end < 0 else text[pos:end]


def lines_of(source) -> SourceLines | None:
    """`source` (a text, a SourceLines or None) as SourceLines."""
    if source is None or isinstance(source, SourceLines):
        return source
    return SourceLines(source)


_BLANK = re.compile(r"^[ \t]+$", re.MULTILINE)
_INDENT = re.compile(r"^[ \t]*(?=[^ \t\n])", re.MULTILINE)


def _pieces(text: str):
    """`text` cut after a newline about every _PIECE characters."""
    start = 0
    while start < len(text):
        cut = text.find("\n", start + _PIECE)
        end = len(text) if cut < 0 else cut + 1
        yield text[start:end]
        start = end


def dedent(text: str) -> str:
    """`textwrap.dedent(text)`, with memory linear in the text and small.

    textwrap keeps every line's indentation in one list and builds its result from a
    piece per line; here both happen one bounded piece at a time.
    """
    margin = None
    for piece in _pieces(text):
        found = set(_INDENT.findall(piece))
        if found:
            margin = os.path.commonprefix(list(found if margin is None else found | {margin}))
        if margin == "":
            break
    if not margin and _BLANK.search(text) is None:
        return text
    strip = re.compile(r"^" + re.escape(margin), re.MULTILINE) if margin else None
    out = []
    for piece in _pieces(text):
        piece = _BLANK.sub("", piece)
        out.append(strip.sub("", piece) if strip is not None else piece)
    return "".join(out)
