"""Diagnostics: compiler-style rendering, the JSON form and FrontendError."""
from __future__ import annotations

import json

import pytest

from n3instrument.frontend import FrontendError
from n3instrument.frontend.checks import check
from n3instrument.frontend.diagnostics import Diagnostic, error, note, render_all, warning
from n3instrument.frontend.nodes import Location
from n3instrument.frontend.parser import parse

SOURCE = 'app "A"\nllm fast {\n  temperature: "hot"\n}\n'


def test_render_header_source_line_caret_and_hint():
    d = error("INVALID_VALUE", "too hot", Location("app.ai", 3, 16, 3, 21), "use 0.7")
    assert d.render(SOURCE) == (
        "app.ai:3:16: error[INVALID_VALUE]: too hot\n"
        ' 3 |   temperature: "hot"\n'
        "   |                ^~~~~\n"
        "hint: use 0.7"
    )


def test_caret_alone_without_end_and_no_hint_line():
    d = warning("UNKNOWN_KEY", "odd", Location("app.ai", 2, 5))
    assert d.render(SOURCE).splitlines() == [
        "app.ai:2:5: warning[UNKNOWN_KEY]: odd", " 2 | llm fast {", "   |     ^"]


def test_without_source_only_header_and_hint():
    d = note("DECLARATIVE_KIND", "kept", Location("a.ai", 9, 1), "ignored by run")
    assert d.render() == "a.ai:9:1: note[DECLARATIVE_KIND]: kept\nhint: ignored by run"


def test_tabs_keep_the_caret_aligned():
    d = error("X", "m", Location("a.ai", 1, 3, 1, 4))
    assert d.render("\t\tz\n").splitlines()[2] == "   | \t\t^"


def test_multi_line_span_underlines_to_end_of_first_line():
    d = error("X", "m", Location("a.ai", 2, 5, 4, 2))
    assert d.render(SOURCE).splitlines()[2] == "   |     ^~~~~~"


def test_wide_gutter_for_long_files():
    source = "\n" * 120 + "llm x {}\n"
    d = error("X", "m", Location("a.ai", 121, 5, 121, 6))
    assert d.render(source).splitlines()[1:] == [" 121 | llm x {}", "     |     ^"]


def test_json_form_has_stable_keys():
    d = error("SYNTAX_ERROR", "m", Location("a.ai", 1, 2, 1, 3), None)
    as_dict = d.to_dict()
    assert list(as_dict) == ["severity", "code", "message", "hint", "file", "line", "column",
                             "end_line", "end_column"]
    assert json.loads(json.dumps(as_dict)) == as_dict


def test_severity_is_validated():
    with pytest.raises(ValueError, match="error, warning, note"):
        Diagnostic("fatal", "X", "m", None, Location("a.ai", 1, 1))


def test_frontend_error_carries_diagnostics():
    d = error("SYNTAX_ERROR", "m", Location("a.ai", 1, 1))
    exc = FrontendError([d], "x\n")
    assert exc.diagnostics == [d] and str(exc) == d.header()
    assert exc.render() == d.render("x\n")
    assert isinstance(exc, Exception)
    with pytest.raises(ValueError):
        FrontendError([])


def test_syntax_error_renders_with_caret_under_the_mistake():
    source = 'llm a {\n  temperature = 0.7\n}\n'
    with pytest.raises(FrontendError) as info:
        parse(source, "app.ai")
    assert info.value.render() == (
        "app.ai:2:15: error[SYNTAX_ERROR]: use `key: value`, not `key = value`\n"
        " 2 |   temperature = 0.7\n"
        "   |               ^\n"
        "hint: write `temperature: 0.7`"
    )
    assert "Traceback" not in info.value.render()


def test_several_semantic_errors_render_together_in_order():
    source = 'agent a { llm: nope }\nllm m { temperature: "hot" }\n'
    text = render_all(check(parse(source, "app.ai")), source)
    blocks = text.split("\n\n")
    assert [b.splitlines()[0].split(": ", 1)[0] for b in blocks] == ["app.ai:1:16", "app.ai:2:22"]
    assert blocks[0].splitlines()[2] == "   |                ^~~~"
    assert blocks[1].splitlines()[2] == "   |                      ^~~~~"
