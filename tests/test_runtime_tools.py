"""Tools: python callables from the program's folder, http endpoints, mocks, validation."""
from __future__ import annotations

import asyncio
import textwrap

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import ConfigError, ToolError
from tests.support.openai_server import openai_server  # noqa: F401


def app_with_tool(props, source="/tmp/app.ai", name="t"):
    app = n3.App("Tools", source=source)
    app.tool(name, props, loc=n3.Loc("app.ai", 5, 1))
    app.finalize()
    return app.get("tool", name)


def call(tool, arguments=None):
    return asyncio.run(tool.call(arguments))


def write_module(tmp_path, name, body):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return str(tmp_path / "app.ai")


def test_python_tool_sync_and_async_from_the_program_folder(tmp_path):
    source = write_module(tmp_path, "rt_tools_basic", """
        import asyncio

        def add(a, b=1):
            return {"sum": a + b}

        async def shout(text):
            await asyncio.sleep(0)
            return text.upper()
    """)
    assert call(app_with_tool({"type": "python", "function": "rt_tools_basic:add"}, source),
                {"a": 2, "b": 3}) == {"sum": 5}
    assert call(app_with_tool({"type": "python", "function": "rt_tools_basic:shout"}, source),
                {"text": "hi"}) == "HI"


def test_python_tool_exception_becomes_tool_error(tmp_path):
    source = write_module(tmp_path, "rt_tools_raise", """
        def broken(x):
            raise ValueError("bad x " + str(x))
    """)
    tool = app_with_tool({"type": "python", "function": "rt_tools_raise:broken"}, source)
    with pytest.raises(ToolError) as info:
        call(tool, {"x": 1})
    assert "ValueError: bad x 1" in info.value.message and info.value.name == "t"


def test_python_tool_missing_module_or_callable(tmp_path):
    source = write_module(tmp_path, "rt_tools_present", "def here():\n    return 1\n")
    with pytest.raises(ToolError) as info:
        call(app_with_tool({"type": "python", "function": "rt_tools_absent:f"}, source))
    assert "rt_tools_absent" in info.value.message and str(tmp_path) in info.value.hint
    with pytest.raises(ToolError) as info:
        call(app_with_tool({"type": "python", "function": "rt_tools_present:nope"}, source))
    assert "nope" in info.value.message


def test_python_tool_needs_module_colon_callable():
    with pytest.raises(ConfigError):
        app_with_tool({"type": "python"})


SCHEMA = {"type": "object", "required": ["query"], "properties": {
    "query": {"type": "string"}, "limit": {"type": "integer"},
    "mode": {"type": "string", "enum": ["fast", "deep"]}, "tags": {"type": "array"}}}


@pytest.mark.parametrize("arguments,fragment", [
    ({}, "missing required argument 'query'"),
    ({"query": 3}, "argument 'query' must be string"),
    ({"query": "q", "limit": 1.5}, "argument 'limit' must be integer"),
    ({"query": "q", "limit": True}, "argument 'limit' must be integer"),
    ({"query": "q", "mode": "slow"}, "argument 'mode' must be one of"),
    ({"query": "q", "tags": "a"}, "argument 'tags' must be array"),
    ("just text", "arguments must be an object"),
])
def test_arguments_are_validated_naming_tool_and_argument(arguments, fragment):
    tool = app_with_tool({"type": "mock", "returns": "ok", "parameters": SCHEMA}, name="search")
    with pytest.raises(ToolError) as info:
        call(tool, arguments)
    assert fragment in info.value.message
    assert info.value.name == "search" and info.value.loc.line == 5


def test_valid_arguments_pass_and_shorthand_parameters_work():
    tool = app_with_tool({"type": "mock", "returns": {"q": "{{args.query}}", "n": "{{args.n}}"},
                          "parameters": {"query": {"type": "text", "required": True},
                                         "n": "number"}})
    assert call(tool, {"query": "tides", "n": 2}) == {"q": "tides", "n": 2}
    assert tool.spec()["parameters"] == {"type": "object", "properties": {
        "query": {"type": "string"}, "n": {"type": "number"}}, "required": ["query"]}
    with pytest.raises(ToolError):
        call(tool, {"n": 1})


def test_mock_tool_without_returns_echoes_the_call():
    assert call(app_with_tool({"type": "mock"}, name="echo"), {"a": 1}) == {
        "tool": "echo", "arguments": {"a": 1}}


def test_http_tool_get_sends_query_string(openai_server):
    tool = app_with_tool({"type": "http", "endpoint": openai_server.root + "/echo",
                          "method": "GET"})
    result = call(tool, {"q": "tides", "n": 3})
    assert result["method"] == "GET" and result["query"] == {"q": "tides", "n": "3"}
    assert result["body"] is None


def test_http_tool_post_sends_json_body_and_rendered_headers(openai_server, monkeypatch):
    monkeypatch.setenv("N3_TEST_HTTP_TOKEN", "tok-123")
    tool = app_with_tool({"type": "http", "endpoint": openai_server.root + "/echo",
                          "headers": {"Authorization": "Bearer {{env.N3_TEST_HTTP_TOKEN}}",
                                      "X-Plain": n3.Env("N3_TEST_HTTP_TOKEN")}})
    result = call(tool, {"city": "Oslo", "days": [1, 2]})
    assert result["method"] == "POST"
    assert result["body"] == {"city": "Oslo", "days": [1, 2]}
    assert result["headers"]["authorization"] == "Bearer tok-123"
    assert result["headers"]["x-plain"] == "tok-123"
    assert result["headers"]["content-type"] == "application/json"


def test_http_tool_plain_text_reply(openai_server):
    tool = app_with_tool({"type": "http", "endpoint": openai_server.root + "/text",
                          "method": "GET"})
    assert call(tool, {}) == "plain words"


@pytest.mark.parametrize("status", [404, 500])
def test_http_tool_non_2xx_is_a_tool_error(openai_server, status):
    tool = app_with_tool({"type": "http", "endpoint": f"{openai_server.root}/status/{status}"},
                         name="weather")
    with pytest.raises(ToolError) as info:
        call(tool, {"a": 1})
    assert f"HTTP {status}" in info.value.message and f"failure {status}" in info.value.message
    assert info.value.name == "weather"


@pytest.mark.parametrize("path, timeout, said", [
    ("/slow", 0.2, "0.2 s"),
    ("/drip", 1, "within 1 s"),  # a deadline for the whole reply, not a per-read limit
])
def test_http_tool_timeout(openai_server, path, timeout, said):
    tool = app_with_tool({"type": "http", "endpoint": openai_server.root + path,
                          "method": "GET", "timeout": timeout})
    with pytest.raises(ToolError) as info:
        call(tool, {})
    assert said in info.value.message


def test_http_tool_needs_endpoint():
    with pytest.raises(ConfigError) as info:
        app_with_tool({"type": "http"})
    assert "endpoint" in info.value.message


def test_a_tool_of_a_type_not_run_here_fails_only_when_called():
    import asyncio

    from n3core import runtime as n3
    from n3core.runtime.errors import ConfigError

    app = n3.App(None)
    app.tool("db", {"type": "database", "description": "orders"}, loc=n3.Loc("app.ai", 4, 1))
    app.finalize()
    tool = app.get("tool", "db")
    assert tool.spec()["description"] == "orders"
    with pytest.raises(ConfigError) as info:
        asyncio.run(tool.call({}))
    assert info.value.name == "db" and "'database' is not one this runtime runs" in info.value.message
    assert str(info.value.loc) == "app.ai:4:1"
