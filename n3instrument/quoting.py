"""The one way text from a `.ai` file reaches generated Python source.

A module name, a file name or a string value is the user's, so lowering never pastes it
into `program.py`: it passes it here, and gets back either a Python literal (`CODE`) or
text that cannot end the comment or docstring it is written into (`COMMENT`,
`DOCSTRING`). Keeping every such write behind one function is what lets a test prove
that no name or text can add a statement to a build.
"""
from __future__ import annotations

import math

CODE, COMMENT, DOCSTRING = "code", "comment", "docstring"


def quote(value, inside: str = CODE) -> str:
    """`value` as Python source for the place it is written into.

    `CODE`: a literal that evaluates to `value` (str, int, float, bool or None).
    `COMMENT` and `DOCSTRING`: the text with backslashes, both quote characters and every
    unprintable character (newlines, NUL, line separators) escaped, so it stays on its
    line and inside its `\"\"\"`; the escapes read back to the same text in a docstring.
    """
    if inside == CODE:
        return _literal(value)
    if inside not in (COMMENT, DOCSTRING):
        raise ValueError(f"inside must be {CODE!r}, {COMMENT!r} or {DOCSTRING!r}, not {inside!r}")
    text = str(value)
    if text.isprintable() and not any(c in text for c in "\\\"'"):
        return text
    return "".join(_escape(c) for c in text)


def _escape(char: str) -> str:
    if char in "\\\"'":
        return "\\" + char
    if char.isprintable():
        return char
    return repr(char)[1:-1]


def _literal(value) -> str:
    if value is None or isinstance(value, (bool, str, int)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        return repr(value)
    raise TypeError(f"cannot write a {type(value).__name__} as a Python literal")
