"""The front end's memory follows the file's size, however many lines it has.

A `\"\"\"` string of 1.67M short lines used to peak at 18 times the file: the checker and
the diagnostics split the whole text into a list of lines, and dedenting kept a string
per line. The peaks here are ratios to the input's size, measured with tracemalloc after
lark's own tables are loaded; line lookups and dedenting are compared with the stdlib.
"""
from __future__ import annotations

import textwrap
import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

from n3instrument.frontend import FrontendError, load_source
from n3instrument.frontend.checks import check
from n3instrument.frontend.diagnostics import render_all
from n3instrument.frontend import lines as lines_module
from n3instrument.frontend.lines import SourceLines, dedent

LINES = 100_000
BUDGET = 6  # peak bytes per byte of input


def _peak_ratio(source: str) -> tuple[float, str]:
    load_source("llm warm {}\n", "warm.ai")
    tracemalloc.start()
    try:
        try:
            text = render_all(check(load_source(source, "app.ai")), source)
        except FrontendError as exc:
            text = exc.render()
        return tracemalloc.get_traced_memory()[1] / len(source.encode()), text
    finally:
        tracemalloc.stop()


def _program(line: str, after: str) -> str:
    body = "\n".join([line] * LINES)
    return ('llm m { provider: "mock" }\nprompt p {\n  model: m\n  template: """\n'
            + body + '\n  """\n' + after + "}\n")


@pytest.mark.parametrize("line", ["ab", "    indented text", "  a\\tb", ""],
                         ids=["short", "indented", "escapes", "blank"])
def test_a_string_of_many_lines_checks_in_memory_proportional_to_the_file(line):
    ratio, text = _peak_ratio(_program(line, "  nonesuch: 1\n"))
    assert f"app.ai:{LINES + 6}:3: warning[UNKNOWN_KEY]" in text
    assert f" {LINES + 6} |   nonesuch: 1" in text
    assert ratio <= BUDGET, f"peak {ratio:.1f}x the file"


def test_a_syntax_error_after_many_lines_renders_in_memory_proportional_to_the_file():
    ratio, text = _peak_ratio(_program("ab", "  key = 1\n"))
    assert f"app.ai:{LINES + 6}:7: error[SYNTAX_ERROR]" in text
    assert "write `key: 1`" in text
    assert ratio <= BUDGET, f"peak {ratio:.1f}x the file"


def test_the_last_line_of_a_big_string_is_found():
    source = _program("x", "  nonesuch: 1\n")
    lines = SourceLines(source)
    split = source.split("\n")
    assert len(lines) == len(split)
    for n in (1, 2, 5, LINES // 2, LINES + 5, LINES + 6, len(split)):
        assert lines.line(n) == split[n - 1]
    assert lines.line(len(split) + 1) is None and lines.line(0) is None


TEXT = st.lists(st.sampled_from(["\n", " ", "\t", "a", "é", "\r", "  ", "\n\n"]),
                max_size=120).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.sampled_from([1, 2, 3, 7, 64, lines_module._STEP]))
def test_every_line_is_the_line_split_gives(text, step):
    default, lines_module._STEP = lines_module._STEP, step  # every block boundary, small
    try:
        lines = SourceLines(text)
        split = text.split("\n")
        assert len(lines) == len(split)
        assert [lines.line(n) for n in range(len(split) + 2)] == [None, *split, None]
    finally:
        lines_module._STEP = default


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_dedent_is_textwrap_dedent(text):
    assert dedent(text) == textwrap.dedent(text)


def test_dedent_across_pieces_is_textwrap_dedent():
    text = "".join(f"{'  ' if i % 7 else ' '}line {i}\n{'   ' if i % 5 == 0 else ''}\n"
                   for i in range(40_000))
    assert dedent(text) == textwrap.dedent(text)
