"""The one Console everything prints through, so tests can render to a string."""
from __future__ import annotations

import os
import sys

from rich.console import Console


def make_console(file=None, *, stderr: bool = False, width: int | None = None) -> Console:
    """A Console that is plain (no colour, no styling) when piped or when NO_COLOR is set.

    rich's no_color keeps bold and italic; NO_COLOR users asked for plain text, so with it
    there is no colour system at all, which writes no escape codes."""
    stream = file or (sys.stderr if stderr else sys.stdout)
    no_color = bool(os.environ.get("NO_COLOR"))
    extra = {"color_system": None} if no_color else {}
    console = Console(file=stream, no_color=no_color, highlight=False, soft_wrap=False,
                      width=width, emoji=False, **extra)
    if width is None and not console.is_terminal:
        console.width = 200
    return console


def is_plain(console: Console) -> bool:
    return not console.is_terminal or console.no_color
