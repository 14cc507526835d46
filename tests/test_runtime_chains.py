"""Chains: inputs and outputs between steps, when, parallel, arrows, nesting, templates."""
from __future__ import annotations

import sys
import textwrap

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import ConfigError, TemplateError

MODULE = """
    import asyncio
    import time

    intervals = []

    async def slow(tag):
        start = time.monotonic()
        await asyncio.sleep(0.2)
        intervals.append((tag, start, time.monotonic()))
        return "done " + tag

    def blocking(tag):
        start = time.monotonic()
        time.sleep(0.2)
        intervals.append((tag, start, time.monotonic()))
        return tag
"""


def L(line, col=1):
    return n3.Loc("app.ai", line, col)


@pytest.fixture
def base(tmp_path, request):
    """An app with an llm, a prompt, tools and an agent; chains are added by each test."""
    module = "rt_chain_tools_" + request.node.name.replace("[", "_").replace("]", "_")
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(MODULE))
    app = n3.App("Chains", source=str(tmp_path / "app.ai"))
    app.llm("m", {"responses": [
        {"match": "^Summarise (.*)", "reply": '{"summary": "short"}'},
        {"match": "^shout", "reply": "LOUD"},
    ]}, loc=L(1))
    app.prompt("summarize", {"model": n3.Ref("m"), "template": "Summarise {{text}}",
                             "variables": ["text"], "output": {"summary": "text"}}, loc=L(3))
    app.tool("echo", {"type": "mock", "returns": {"got": "{{args.value}}"},
                      "parameters": {"value": {"type": "any"}}}, loc=L(5))
    app.tool("slow", {"type": "python", "function": f"{module}:slow",
                      "parameters": {"tag": "string"}}, loc=L(6))
    app.tool("blocking", {"type": "python", "function": f"{module}:blocking",
                          "parameters": {"tag": "string"}}, loc=L(7))
    app.agent("shouter", {"llm": n3.Ref("m")}, loc=L(8))
    app.module_name = module
    return app


def test_steps_feed_each_other_through_templates(base):
    base.chain("c", {"steps": [
        n3.Step({"name": "s1", "kind": "prompt", "target": n3.Ref("summarize"),
                 "input": {"text": "{{input.topic}}"}, "output": "summary1"}, loc=L(20, 5)),
        n3.Step({"name": "s2", "target": n3.Ref("echo"),
                 "input": {"value": "{{summary1}}"}}, loc=L(21, 5)),
        n3.Step({"name": "s3", "kind": "template",
                 "template": "{{steps.s1.summary}} / {{steps.s2.got.summary}} / {{input.topic}}"},
                loc=L(22, 5)),
    ]}, loc=L(19))
    base.finalize()
    assert base.run_sync("chain:c", {"topic": "tides"}) == "short / short / tides"


def test_single_placeholder_passes_raw_values(base):
    base.chain("c", {"steps": [
        n3.Step({"name": "s", "target": n3.Ref("echo"), "input": {"value": "{{input.items}}"}},
                loc=L(20)),
    ]})
    base.finalize()
    assert base.run_sync("chain:c", {"items": [1, 2]}) == {"got": [1, 2]}


@pytest.mark.parametrize("flag,expected", [
    ("yes", {"got": "ran"}), ("no", "first"), ("FALSE", "first"), ("0", "first"),
    ("", "first"), ("null", "first"), ("None", "first"), ("true", {"got": "ran"})])
def test_when_skips_falsy_steps(base, flag, expected):
    base.chain("c", {"steps": [
        n3.Step({"name": "a", "kind": "template", "template": "first"}, loc=L(20)),
        n3.Step({"name": "b", "target": n3.Ref("echo"), "input": {"value": "ran"},
                 "when": "{{input.flag}}"}, loc=L(21)),
    ]})
    base.finalize()
    assert base.run_sync("chain:c", {"flag": flag}) == expected


def test_a_skipped_step_reads_as_null_later(base):
    base.chain("c", {"steps": [
        n3.Step({"name": "a", "target": n3.Ref("echo"), "input": {"value": 1}, "when": "false"}),
        n3.Step({"name": "b", "kind": "template", "template": "a={{steps.a}}"}),
    ]})
    base.finalize()
    assert base.run_sync("chain:c", {}) == "a=null"


@pytest.mark.parametrize("tool", ["slow", "blocking"])
def test_parallel_steps_really_overlap(base, tool):
    base.chain("c", {"steps": [
        n3.Step({"parallel": [
            n3.Step({"name": "left", "target": n3.Ref(tool), "input": {"tag": "L"}}, loc=L(21)),
            n3.Step({"name": "right", "target": n3.Ref(tool), "input": {"tag": "R"}}, loc=L(22)),
        ]}, loc=L(20)),
        n3.Step({"name": "join", "kind": "template",
                 "template": "{{steps.left}} + {{steps.right}}"}, loc=L(23)),
    ]})
    base.finalize()
    result = base.run_sync("chain:c", None)
    assert result in ("done L + done R", "L + R")
    (_, l_start, l_end), (_, r_start, r_end) = sorted(sys.modules[base.module_name].intervals)
    assert l_start < r_end and r_start < l_end  # the two intervals intersect


def test_parallel_group_output_is_keyed_by_step_name(base):
    base.chain("c", {"steps": [
        n3.Step({"parallel": [
            n3.Step({"name": "x", "target": n3.Ref("echo"), "input": {"value": 1}}),
            n3.Step({"name": "y", "target": n3.Ref("echo"), "input": {"value": 2}}),
            n3.Step({"name": "z", "target": n3.Ref("echo"), "input": {"value": 3},
                     "when": "no"}),
        ]}),
    ]})
    base.finalize()
    assert base.run_sync("chain:c", None) == {"x": {"got": 1}, "y": {"got": 2}}


def test_arrow_shorthand_feeds_each_the_previous_output(base):
    base.tool("fmt", {"type": "mock", "returns": "S={{args.summary}}"})
    base.chain("quick", {"steps": "summarize -> fmt -> echo"}, loc=L(30))
    base.finalize()
    steps = base.get("chain", "quick").steps
    assert [(s.name, s.kind) for s in steps] == [
        ("summarize", "prompt"), ("fmt", "tool"), ("echo", "tool")]
    # a structured output becomes the next tool's arguments; a lone value fills a
    # one-parameter tool
    assert base.run_sync("chain:quick", {"text": "a long text"}) == {"got": "S=short"}


def test_nested_chain_and_agent_steps(base):
    base.chain("inner", {"steps": [
        n3.Step({"name": "i", "kind": "template", "template": "shout {{input.word}}"})]})
    base.chain("outer", {"steps": [
        n3.Step({"name": "sub", "target": n3.Ref("inner"), "input": {"word": "{{input}}"}}),
        n3.Step({"name": "ag", "target": n3.Ref("shouter")}),
    ]})
    base.finalize()
    assert [s.kind for s in base.get("chain", "outer").steps] == ["chain", "agent"]
    assert base.run_sync("chain:outer", "hey") == "LOUD"


def test_llm_step_and_declared_template_target(base):
    base.declarative("template", "greeting", {"content": "shout hello {{input.name}}"}, loc=L(40))
    base.chain("c", {"steps": [
        n3.Step({"name": "t", "kind": "template", "target": n3.Ref("greeting")}),
        n3.Step({"name": "l", "kind": "llm", "target": n3.Ref("m"), "input": "{{steps.t}}"}),
    ]})
    base.finalize()
    assert base.run_sync("chain:c", {"name": "Ada"}) == "LOUD"


def test_step_errors_name_the_chain_the_step_and_its_location(base):
    base.chain("c", {"steps": [
        n3.Step({"name": "s1", "target": n3.Ref("echo"), "input": {"value": "{{input.nope}}"}},
                loc=L(31, 9)),
    ]}, loc=L(30))
    base.finalize()
    with pytest.raises(TemplateError) as info:
        base.run_sync("chain:c", {"topic": "x"})
    err = info.value
    assert err.kind == "chain" and err.name == "c" and str(err.loc) == "app.ai:31:9"
    assert "step 's1'" in err.message and "input.nope" in err.message


def test_errors_inside_a_component_keep_that_component(base):
    base.chain("c", {"steps": [n3.Step({"name": "s", "target": n3.Ref("summarize"),
                                        "input": {"wrong": 1}}, loc=L(31))]})
    base.finalize()
    with pytest.raises(TemplateError) as info:
        base.run_sync("chain:c", {})
    assert info.value.kind == "prompt" and info.value.name == "summarize"


@pytest.mark.parametrize("steps,fragment", [
    ([n3.Step({"name": "s", "target": n3.Ref("nowhere")}, loc=L(33))], "'nowhere'"),
    ([n3.Step({"name": "s", "kind": "tool", "target": n3.Ref("summarize")}, loc=L(33))],
     "not a declared tool"),
    ([n3.Step({"name": "s", "kind": "teleport", "target": n3.Ref("echo")}, loc=L(33))],
     "unknown step kind"),
    ([n3.Step({"name": "s"}, loc=L(33))], "needs a target"),
    ([n3.Step({"name": "s", "target": n3.Ref("echo"), "output": "input"}, loc=L(33))],
     "not allowed"),
    ("summarize -> ghost", "'ghost'"),
    ([], "non-empty"),
])
def test_bad_steps_are_config_errors_at_finalize(base, steps, fragment):
    base.chain("c", {"steps": steps}, loc=L(32))
    with pytest.raises(ConfigError) as info:
        base.finalize()
    assert fragment in info.value.message
    assert info.value.name == "c" and info.value.loc.line in (32, 33)


def test_chain_cycles_are_rejected(base):
    base.chain("a", {"steps": [n3.Step({"name": "x", "target": n3.Ref("b")})]})
    base.chain("b", {"steps": [n3.Step({"name": "y", "target": n3.Ref("a")})]})
    with pytest.raises(ConfigError) as info:
        base.finalize()
    assert "cycle" in info.value.message and "a -> b -> a" in info.value.message


def test_template_step_without_target_renders_its_own_input_once(base):
    base.chain("c", {"steps": [
        n3.Step({"name": "outline", "kind": "template", "template": "{{input.topic}}"}),
        n3.Step({"name": "a", "kind": "template", "input": "A {{steps.outline}}!"}),
    ]})
    base.finalize()
    # `{{input.topic}}` arrives as text from the first step: rendered once, it stays text
    assert base.run_sync("chain:c", {"topic": "{{env.HOME}}"}) == "A {{env.HOME}}!"


def test_template_step_with_nothing_to_render_is_a_config_error(base):
    base.chain("c", {"steps": [n3.Step({"name": "a", "kind": "template", "input": {"x": 1}})]})
    with pytest.raises(ConfigError) as info:
        base.finalize()
    assert "needs a template string" in info.value.message and "input:" in info.value.hint
