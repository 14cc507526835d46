"""Prompts: variables, structured output, retries."""
from __future__ import annotations

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import OutputValidationError, TemplateError


def build(responses, output=None, retries=None, variables=("text",), template="Summarise {{text}}"):
    app = n3.App("P", source="/tmp/app.ai")
    app.llm("m", {"provider": "mock", "responses": responses})
    props = {"model": n3.Ref("m"), "template": template, "variables": list(variables)}
    if output is not None:
        props["output"] = output
    if retries is not None:
        props["retries"] = retries
    app.prompt("summarize", props, loc=n3.Loc("app.ai", 12, 1))
    app.finalize()
    return app


def test_plain_prompt_returns_text_and_renders_variables():
    app = build([{"match": "Summarise tides", "reply": "Tides are tidal."}])
    assert app.run_sync("prompt:summarize", {"text": "tides"}) == "Tides are tidal."


def test_single_variable_accepts_a_bare_value():
    app = build([{"match": "Summarise moon", "reply": "ok"}])
    assert app.run_sync("prompt:summarize", "moon") == "ok"


def test_missing_variable_names_it_and_the_prompt():
    app = build([], variables=("text", "style"), template="{{text}} in {{style}}")
    with pytest.raises(TemplateError) as info:
        app.run_sync("prompt:summarize", {"text": "x"})
    assert "style" in info.value.message
    assert info.value.name == "summarize" and str(info.value.loc) == "app.ai:12:1"


def test_undeclared_placeholder_is_a_template_error_naming_the_prompt():
    app = build([], variables=(), template="Hello {{who}}")
    with pytest.raises(TemplateError) as info:
        app.run_sync("prompt:summarize", {"other": 1})
    assert "who" in info.value.message and info.value.kind == "prompt"


def test_alias_input_and_llm_keys():
    app = n3.App(None)
    app.llm("m", {"responses": [{"match": "A-B", "reply": "done"}]})
    app.prompt("p", {"llm": n3.Ref("m"), "template": "{{a}}-{{b}}", "input": ["a", "b"]})
    app.finalize()
    assert app.get("prompt", "p").variables == ["a", "b"]
    assert app.run_sync("prompt:p", {"a": "A", "b": "B"}) == "done"


def test_structured_output_fenced_json():
    app = build([{"match": ".", "reply": "Here:\n```json\n{\"summary\": \"s\", \"n\": 2}\n```"}],
                output={"summary": "text", "n": "number"})
    assert app.run_sync("prompt:summarize", {"text": "x"}) == {"summary": "s", "n": 2}


def test_invalid_output_is_retried_with_the_error_and_then_succeeds():
    # The first reply lacks a field; the retry message quotes the error, which the
    # second scripted response matches.
    app = build([{"match": "field 'score' is missing", "reply": '{"summary": "ok", "score": 1}'},
                 {"match": "Summarise", "reply": '{"summary": "no score"}'}],
                output={"summary": "text", "score": "number"})
    assert app.run_sync("prompt:summarize", {"text": "x"}) == {"summary": "ok", "score": 1}


def test_retries_exhausted_reports_the_last_error():
    app = build([{"match": ".", "reply": '{"summary": 5}'}],
                output={"summary": "text"}, retries=1)
    with pytest.raises(OutputValidationError) as info:
        app.run_sync("prompt:summarize", {"text": "x"})
    err = info.value
    assert "2 attempts" in err.message and "'summary' must be text, got number" in err.message
    assert err.name == "summarize" and err.loc.line == 12


def test_retries_zero_means_one_attempt():
    app = build([{"match": ".", "reply": "not json"}], output={"a": "text"}, retries=0)
    with pytest.raises(OutputValidationError) as info:
        app.run_sync("prompt:summarize", {"text": "x"})
    assert "1 attempt:" in info.value.message and "not JSON" in info.value.message


@pytest.mark.parametrize("reply,message", [
    ("[1, 2]", "not an object"),
    ('{"flag": "yes", "items": [], "meta": {}}', "'flag' must be boolean"),
    ('{"flag": true, "items": {}, "meta": {}}', "'items' must be list"),
    ('{"flag": true, "items": [], "meta": []}', "'meta' must be object"),
])
def test_validate_checks_each_type(reply, message):
    app = build([], output={"flag": "boolean", "items": "list", "meta": "object"})
    prompt = app.get("prompt", "summarize")
    with pytest.raises(OutputValidationError) as info:
        prompt.validate(reply)
    assert message in info.value.message
    assert prompt.validate('{"flag": false, "items": [1], "meta": {"a": 1}}')["flag"] is False


def test_unknown_output_type_is_a_config_error():
    with pytest.raises(n3.N3Error) as info:
        build([], output={"a": "date"})
    assert "date" in info.value.message and info.value.code == "CONFIG_ERROR"


def test_prompt_without_model_uses_the_only_llm():
    app = n3.App(None)
    app.llm("only", {"responses": [{"match": ".", "reply": "from only"}]})
    app.prompt("p", {"template": "hi"})
    app.finalize()
    assert app.run_sync("prompt:p", {}) == "from only"
