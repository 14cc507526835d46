"""Agents: the tool loop, concurrency of tool calls, turn limits, model mistakes."""
from __future__ import annotations

import sys
import json
import textwrap

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import MaxTurnsError, ToolError
from tests.support.openai_server import chat, openai_server  # noqa: F401

TOOLS_MODULE = """
    import asyncio
    import time

    calls = []
    intervals = []

    def weather(city):
        calls.append(("weather", city))
        return {"city": city, "sky": "sunny"}

    def hotels(city, nights=1):
        calls.append(("hotels", city, nights))
        return {"hotels": ["Grand " + city]}

    async def slow(tag):
        start = time.monotonic()
        await asyncio.sleep(0.2)
        intervals.append((tag, start, time.monotonic()))
        return tag

    def fails(x):
        raise RuntimeError("tool exploded")
"""


@pytest.fixture
def tools_module(tmp_path, request):
    name = "rt_agent_tools_" + request.node.name.replace("[", "_").replace("]", "_")
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(TOOLS_MODULE))
    return name, str(tmp_path / "app.ai")


def build(tools_module, responses, max_turns=None, tools=("weather", "hotels")):
    name, source = tools_module
    app = n3.App("Agents", source=source)
    app.llm("brain", {"provider": "mock", "responses": responses})
    params = {"weather": {"city": {"type": "string", "required": True}},
              "hotels": {"city": "string", "nights": "integer"},
              "slow": {"tag": "string"}, "fails": {}}
    for tool in ("weather", "hotels", "slow", "fails"):
        app.tool(tool, {"type": "python", "function": f"{name}:{tool}",
                        "parameters": params[tool]})
    props = {"llm": n3.Ref("brain"), "tools": [n3.Ref(t) for t in tools]}
    if max_turns is not None:
        props["max_turns"] = max_turns
    app.agent("Planner", props, loc=n3.Loc("app.ai", 20, 1))
    app.finalize()
    return app, _Loaded(name)


class _Loaded:
    """The tools module as the runtime imported it (it is imported on first tool call)."""

    def __init__(self, name):
        self.name = name

    def __getattr__(self, attr):
        return getattr(sys.modules[self.name], attr)


def test_tool_loop_over_several_turns(tools_module):
    app, module = build(tools_module, [
        {"match": "plan a trip", "tool_call": {"name": "weather", "arguments": {"city": "Oslo"}}},
        {"match": "sunny", "tool_call": {"name": "hotels",
                                         "arguments": {"city": "Oslo", "nights": 2}}},
        {"match": "Grand Oslo", "reply": "Go to Oslo, stay at Grand Oslo."},
    ])
    assert app.run_sync("agent:Planner", "plan a trip") == "Go to Oslo, stay at Grand Oslo."
    assert module.calls == [("weather", "Oslo"), ("hotels", "Oslo", 2)]


def test_tools_asked_in_one_turn_run_concurrently(tools_module):
    app, module = build(tools_module, [
        {"match": "go", "tool_calls": [{"name": "slow", "arguments": {"tag": "a"}},
                                       {"name": "slow", "arguments": {"tag": "b"}}]},
        {"match": ".", "reply": "both done"},
    ], tools=("slow",))
    assert app.run_sync("agent:Planner", "go") == "both done"
    (_, a_start, a_end), (_, b_start, b_end) = sorted(module.intervals)
    assert a_start < b_end and b_start < a_end  # the two intervals intersect


def test_running_out_of_turns_names_the_agent(tools_module):
    app, module = build(tools_module, [
        {"match": ".", "tool_call": {"name": "weather", "arguments": {"city": "Oslo"}}},
    ], max_turns=3)
    with pytest.raises(MaxTurnsError) as info:
        app.run_sync("agent:Planner", "loop forever")
    err = info.value
    assert err.name == "Planner" and err.kind == "agent" and str(err.loc) == "app.ai:20:1"
    assert "3 turns" in err.message and len(module.calls) == 3


def test_max_iterations_alias(tools_module):
    name, source = tools_module
    app = n3.App(None, source=source)
    app.llm("brain", {})
    app.agent("A", {"llm": n3.Ref("brain"), "max_iterations": 4})
    app.finalize()
    assert app.get("agent", "A").max_turns == 4


def test_unknown_tool_is_reported_back_to_the_model(tools_module):
    app, _ = build(tools_module, [
        {"match": "no tool named 'teleport'", "reply": "recovered"},
        {"match": ".", "tool_call": {"name": "teleport", "arguments": {}}},
    ])
    assert app.run_sync("agent:Planner", "beam me up") == "recovered"


def test_invalid_arguments_are_reported_back_to_the_model(tools_module):
    app, module = build(tools_module, [
        {"match": "missing required argument 'city'", "reply": "asked for the city"},
        {"match": ".", "tool_call": {"name": "weather", "arguments": {}}},
    ])
    assert app.run_sync("agent:Planner", "weather?") == "asked for the city"
    assert module.name not in sys.modules  # the tool was never called


def test_failing_tool_stops_the_agent_with_a_tool_error(tools_module):
    app, _ = build(tools_module, [
        {"match": ".", "tool_call": {"name": "fails", "arguments": {"x": 1}}},
    ], tools=("fails",))
    with pytest.raises(ToolError) as info:
        app.run_sync("agent:Planner", "do it")
    assert info.value.name == "fails" and "tool exploded" in info.value.message


def test_text_only_models_can_ask_for_tools_in_json(tools_module):
    app, module = build(tools_module, [
        {"match": "Result of tool weather", "reply": "It is sunny in Bergen."},
        {"match": ".", "reply": '{"tool": "weather", "arguments": {"city": "Bergen"}}'},
    ])
    assert app.run_sync("agent:Planner", "weather in Bergen?") == "It is sunny in Bergen."
    assert module.calls == [("weather", "Bergen")]


def test_native_tool_loop_over_openai_wire(tools_module, openai_server):
    name, source = tools_module
    app = n3.App(None, source=source)
    app.llm("remote", {"provider": "ollama", "model": "m", "base_url": openai_server.url})
    app.tool("weather", {"type": "python", "function": f"{name}:weather",
                         "description": "Weather for a city",
                         "parameters": {"city": {"type": "string", "required": True}}})
    app.agent("A", {"llm": n3.Ref("remote"), "tools": [n3.Ref("weather")], "temperature": 0.1})
    app.finalize()
    openai_server.script(chat(None, tool_calls=[("c1", "weather", {"city": "Oslo"})]),
                         chat("Sunny in Oslo."))
    assert app.run_sync("agent:A", {"input": "Weather in Oslo?"}) == "Sunny in Oslo."
    first, second = (r["body"] for r in openai_server.chat_requests())
    assert first["temperature"] == 0.1
    assert first["tools"][0]["function"]["name"] == "weather"
    assert first["tools"][0]["function"]["parameters"]["required"] == ["city"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "c1"
    assert json.loads(tool_message["content"]) == {"city": "Oslo", "sky": "sunny"}


def test_system_prompt_naming_a_prompt_uses_its_template():
    from n3core import runtime as n3

    app = n3.App(None)
    app.llm("m", {"responses": [{"match": ".*", "reply": "ok"}]})
    app.prompt("expert", {"content": "You grade quizzes.", "model": n3.Ref("m")})
    app.agent("grader", {"llm": n3.Ref("m"), "system_prompt": n3.Ref("expert")})
    app.finalize()
    assert app.get("agent", "grader").system_prompt == "You grade quizzes."
    assert app.get("prompt", "expert").template == "You grade quizzes."
