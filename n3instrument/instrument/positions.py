"""Line tables from rewritten source back to the source it was made from.

The rewrite keeps the user's statements in order and changes only some of their lines (a
`return`, a `with span(...)`), so aligning the two texts line by line, indentation
aside, finds every unchanged line exactly; a changed or generated line is attributed to
the original line it replaced, or to the line before it. `mapped_import` applies the
table at import time.
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher

_LINES = re.compile(r"\r\n|\r|\n")  # the tokenizer's line breaks, not str.splitlines'


def _lines(text: str) -> list[str]:
    lines = _LINES.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _best(before: list[str], line: str, start: int, end: int) -> int | None:
    """The index in `before[start:end]` of the line that `line` keeps most of, for a line
    the pass changed (`return x` -> `return (x) if ... else ...(x)`); None for a new line."""
    best, best_cover = None, 0.6
    text = line.strip()
    for index in range(start, end):
        original = before[index].strip()
        if not original:
            continue
        matcher = SequenceMatcher(None, original, text, autojunk=False)
        cover = sum(block.size for block in matcher.get_matching_blocks()) / len(original)
        if cover > best_cover:
            best, best_cover = index, cover
    return best


def line_runs(original: str, rewritten: str) -> list[list]:
    """Runs `[line, origin, count, shift]` (unchanged lines, `shift` columns further right)
    and `[line, origin, 1, None, indent, length]` (a changed line: point at all of origin)."""
    before, after = _lines(original), _lines(rewritten)
    matcher = SequenceMatcher(None, [s.strip() for s in before], [s.strip() for s in after],
                              autojunk=False)
    runs: list[list] = []

    def whole(line: int, origin: int) -> None:
        text = before[origin - 1] if 0 < origin <= len(before) else ""
        runs.append([line, max(origin, 1), 1, None, _indent(text), len(text.encode("utf-8"))])

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                shift = _indent(after[j1 + k]) - _indent(before[i1 + k])
                last = runs[-1] if runs else None
                if last and last[3] == shift and len(last) == 4 and last[0] + last[2] == j1 + k + 1 \
                        and last[1] + last[2] == i1 + k + 1:
                    last[2] += 1
                else:
                    runs.append([j1 + k + 1, i1 + k + 1, 1, shift])
        elif tag == "replace":
            origin, cursor = i1, i1  # 1-based line before the block; 0-based first candidate
            for j in range(j1, j2):
                found = _best(before, after[j], cursor, i2)
                if found is not None:
                    origin, cursor = found + 1, found
                whole(j + 1, origin)
        elif tag == "insert":
            for j in range(j1, j2):
                whole(j + 1, i1)
    return runs
