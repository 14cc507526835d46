"""What the front end does with inputs at or past its limits: a diagnostic, never a crash.

Huge numbers, regexes `re` cannot build, deep nesting, multi-megabyte strings and control
characters each get one diagnostic at the right place; memory stays proportional to the
input, and nothing a diagnostic prints grows with the line it points into.
"""
from __future__ import annotations

import tracemalloc

import pytest

from n3instrument.cli import main
from n3instrument.frontend import FrontendError, load_source
from n3instrument.frontend.checks import check
from n3instrument.frontend.diagnostics import MAX_LINE, render_all
from n3instrument.frontend.lexer import MAX_NESTING
from n3instrument.lowering import lower
from support.positions import at
from support.syntax import syntax_error


def test_an_integer_longer_than_python_reads_is_a_syntax_error():
    source = "llm m { max_tokens: " + "9" * 5000 + " }\n"
    diagnostic = syntax_error(source)
    assert (diagnostic.loc.line, diagnostic.loc.column) == at(source, "9")
    assert "5000 digits" in diagnostic.message


def test_an_integer_python_reads_is_kept_exactly():
    digits = "7" * 4000
    program = load_source(f"tool t {{ type: \"mock\", returns: {{ n: {digits} }} }}\n")
    namespace: dict = {"__file__": "program.py"}  # as a build imports it
    exec(compile(lower(program), "program.py", "exec"), namespace)
    assert namespace["app"].get("tool", "t").config["returns"]["n"] == int(digits)


@pytest.mark.parametrize("pattern, reason", [
    ("a{4294967296}", "OverflowError"),
    ("(" * 3000 + ")" * 3000, "RecursionError"),
    ("(", "missing )"),
])
@pytest.mark.parametrize("key", ["match", "fail_on"])
def test_a_regex_re_cannot_build_is_an_invalid_value(pattern, reason, key):
    value = f'"{pattern}"'
    if key == "match":
        source = f"llm m {{ responses: [ {{ match: {value}, reply: \"x\" }} ] }}\n"
    else:
        source = f"llm m {{ fail_on: {value} }}\n"
    (diagnostic,) = check(load_source(source, "app.ai"))
    assert diagnostic.code == "INVALID_VALUE" and reason in diagnostic.message
    assert (diagnostic.loc.line, diagnostic.loc.column) == at(source, value)


def nested(depth: int) -> str:
    """A tool whose `returns` makes `{`/`[` nest `depth` deep, its own block included."""
    inner = depth - 1
    return ("tool t { type: \"mock\", returns: " + "[" * inner + "1" + "]" * inner
            + ", description: \"x\" }\n")


def test_nesting_up_to_the_limit_checks_builds_and_compiles():
    program = load_source(nested(MAX_NESTING), "app.ai")
    assert not [d for d in check(program) if d.is_error]
    compile(lower(program), "program.py", "exec")


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 10_000])
def test_nesting_past_the_limit_is_a_syntax_error_at_the_bracket(depth):
    source = nested(depth)
    diagnostic = syntax_error(source)
    assert f"deeper than {MAX_NESTING}" in diagnostic.message
    offset = source.index("[") + MAX_NESTING - 1
    assert diagnostic.loc.column == offset + 1


def test_chain_steps_nested_to_the_limit_compile():
    """A parallel step lowers to three brackets for its two, the deepest case there is."""
    levels = (MAX_NESTING - 3) // 2
    step = '{ kind: "tool", target: t }'
    for _ in range(levels):
        step = "{ parallel: [ " + step + " ] }"
    source = 'tool t { type: "mock", returns: {} }\nchain c { steps: [ ' + step + " ] }\n"
    program = load_source(source, "app.ai")
    assert not [d for d in check(program) if d.is_error]
    compile(lower(program), "program.py", "exec")


def peak_bytes(source: str) -> int:
    tracemalloc.start()
    try:
        try:
            check(load_source(source, "app.ai"))
        except FrontendError as exc:
            exc.render()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


SIZE = 5_000_000


@pytest.mark.parametrize("body", [
    '"' + "a" * SIZE + '"',
    '"' + "a\\n" * (SIZE // 3) + '"',
    '"""' + 'a"' * (SIZE // 2) + '"""',
    '"' + "a" * SIZE,
], ids=["plain", "escapes", "long-with-quotes", "unclosed"])
def test_a_five_megabyte_string_costs_memory_in_proportion(body):
    source = "llm m { model: " + body + " }\n"
    assert peak_bytes(source) < 12 * len(source)


def test_an_unclosed_ten_megabyte_string_prints_a_short_diagnostic():
    source = 'llm m { model: "' + "a" * 10_000_000 + " }\n"
    with pytest.raises(FrontendError) as info:
        load_source(source, "app.ai")
    text = info.value.render()
    assert "unclosed string" in text and len(text) < 3 * MAX_LINE + 400


def test_a_long_line_is_shown_around_the_caret():
    source = "tool t { description: \"" + "x" * 1000 + "\", type: 5 }\n"
    (diagnostic,) = check(load_source(source, "app.ai"))
    _, shown, caret = render_all([diagnostic], source).split("\n")[:3]
    assert shown.startswith(" 1 | ...") and len(shown) <= MAX_LINE + 12
    assert shown[caret.index("^")] == "5"


def test_control_characters_are_escaped_in_diagnostics(tmp_path, capsys):
    path = tmp_path / "app.ai"
    path.write_text('tool t { "k\x00\x1b[2J": 1, type: 7 }\n', encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "\x00" not in err and "\x1b" not in err
    assert "k\\x00\\x1b[2J" in err
    (block,) = [b for b in err.split("\n\n") if "INVALID_VALUE" in b]
    _, source_line, caret = block.split("\n")[:3]
    assert source_line[caret.index("^")] == "7"


def test_check_reports_a_deep_program_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "app.ai"
    path.write_text(nested(10_000), encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "SYNTAX_ERROR" in err and "Traceback" not in err and len(err) < 2000
