"""The shared template renderer."""
from __future__ import annotations

import pytest

from n3core.runtime.errors import TemplateError
from n3core.runtime.template import placeholders, render, render_value, truthy


def test_render_dotted_paths_and_non_strings():
    ctx = {"user": {"name": "Ada", "tags": ["a", "b"]}, "n": 3, "ok": False, "none": None}
    assert render("Hi {{user.name}} ({{ user.tags.1 }})", ctx) == "Hi Ada (b)"
    assert render("{{n}} {{ok}} {{none}} {{user.tags}}", ctx) == '3 false null ["a", "b"]'


def test_single_placeholder_keeps_the_raw_value():
    ctx = {"input": {"items": [1, 2]}, "steps": {"s": {"k": True}}}
    value = render_value({"a": "{{input.items}}", "b": ["{{steps.s}}", "x {{input.items.0}}"]}, ctx)
    assert value == {"a": [1, 2], "b": [{"k": True}, "x 1"]}


def test_missing_variable_names_it():
    with pytest.raises(TemplateError) as info:
        render("Hello {{person.name}}", {"person": {"age": 3}})
    assert "person.name" in info.value.message
    assert "person" in info.value.hint


def test_env_is_read_at_render_time(monkeypatch):
    monkeypatch.setenv("N3_TEST_TOKEN", "abc")
    assert render("Bearer {{env.N3_TEST_TOKEN}}", {}) == "Bearer abc"
    monkeypatch.setenv("N3_TEST_TOKEN", "xyz")
    assert render("Bearer {{env.N3_TEST_TOKEN}}", {}) == "Bearer xyz"
    monkeypatch.delenv("N3_TEST_TOKEN")
    with pytest.raises(TemplateError) as info:
        render("{{env.N3_TEST_TOKEN}}", {})
    assert "N3_TEST_TOKEN" in info.value.message


def test_json_string_values_can_be_walked():
    assert render("{{s.a}}", {"s": '{"a": 5}'}) == "5"


def test_placeholders_listed_in_order():
    assert placeholders("{{a}} and {{ b.c }} and {{env.X}}") == ["a", "b.c", "env.X"]


@pytest.mark.parametrize("value,expected", [
    ("", False), ("false", False), ("FALSE", False), ("0", False), ("No", False),
    (" none ", False), ("null", False), ("yes", True), ("true", True), ("1", True),
    ("anything", True), (False, False), (None, False), (0, False), ([], False),
    ({"a": 1}, True), (2, True)])
def test_truthy(value, expected):
    assert truthy(value) is expected


def test_env_values_in_step_inputs_and_prompt_templates(monkeypatch):
    from n3core import runtime as n3

    monkeypatch.setenv("N3_TEST_REGION", "north")
    app = n3.App(None)
    app.llm("m", {"responses": [{"match": "region north", "reply": "matched"}]})
    app.prompt("p", {"model": n3.Ref("m"), "template": "region {{env.N3_TEST_REGION}}"})
    app.chain("c", {"steps": [
        n3.Step({"name": "a", "kind": "template", "template": "{{where}}",
                 "input": {"where": n3.Env("N3_TEST_REGION")}}),
        n3.Step({"name": "b", "target": n3.Ref("p"), "input": {}}),
    ]})
    app.finalize()
    assert app.run_sync("chain:c", None) == "matched"
    assert render_value({"x": n3.Env("N3_TEST_REGION")}, {}) == {"x": "north"}
