"""App: finalize (aliases, defaults, references, value checks) and choosing what runs."""
from __future__ import annotations

import asyncio

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import ConfigError, UsageError


def test_defaults_and_aliases_are_applied():
    app = n3.App("A", source="/tmp/app.ai", properties={"description": "d"})
    app.llm("m", {})
    app.memory("mem", {"kind": "buffer", "capacity": 4})
    app.agent("ag", {"llm": n3.Ref("m"), "system": "be nice", "memory": n3.Ref("mem")})
    app.prompt("p", {"llm": n3.Ref("m"), "template": "x"})
    app.finalize()
    assert app.get("llm", "m").provider_name == "mock"
    assert app.get("memory", "mem").type == "buffer" and app.get("memory", "mem").max_items == 4
    agent = app.get("agent", "ag")
    assert agent.system_prompt == "be nice" and agent.max_turns == 10
    assert agent.memory is app.get("memory", "mem") and agent.llm is app.get("llm", "m")
    assert app.get("prompt", "p").retries == 2 and app.get("prompt", "p").llm is agent.llm
    assert app.properties == {"description": "d"}
    assert {c.kind for c in (agent, agent.llm, agent.memory)} == {"agent", "llm", "memory"}


def test_references_may_point_forwards():
    app = n3.App(None)
    app.agent("ag", {"llm": n3.Ref("later"), "tools": [n3.Ref("t")]})
    app.tool("t", {"type": "mock"})
    app.llm("later", {})
    app.finalize()
    assert list(app.get("agent", "ag").tools) == ["t"]


@pytest.mark.parametrize("declare,fragment", [
    (lambda a: a.agent("ag", {"tools": []}, loc=n3.Loc("app.ai", 9, 1)), "needs an llm"),
    (lambda a: a.llm("x", {"provider": "nonesuch"}, loc=n3.Loc("app.ai", 9, 1)),
     "must be one of mock, openai, ollama"),
    (lambda a: a.llm("x", {"temperature": "hot"}, loc=n3.Loc("app.ai", 9, 1)),
     "'temperature' must be a number"),
    (lambda a: a.llm("x", {"temperature": 7}, loc=n3.Loc("app.ai", 9, 1)), "at most 2"),
    (lambda a: a.agent("ag", {"llm": n3.Ref("m"), "max_turns": 0}, loc=n3.Loc("app.ai", 9, 1)),
     "at least 1"),
    (lambda a: a.llm("x", {"provider": "openai"}, loc=n3.Loc("app.ai", 9, 1)), "needs a model"),
    (lambda a: a.memory("x", {"type": "ftp"}, loc=n3.Loc("app.ai", 9, 1)), "must be one of"),
    (lambda a: a.prompt("x", {"model": n3.Ref("m")}, loc=n3.Loc("app.ai", 9, 1)),
     "needs a template"),
    (lambda a: a.llm("m", {}, loc=n3.Loc("app.ai", 9, 1)), "declared twice"),
])
def test_bad_configuration_is_a_config_error_with_location(declare, fragment):
    app = n3.App(None)
    app.llm("m", {}, loc=n3.Loc("app.ai", 1, 1))
    declare(app)
    with pytest.raises(ConfigError) as info:
        app.finalize()
    assert fragment in info.value.message
    assert info.value.loc == n3.Loc("app.ai", 9, 1)
    assert "app.ai:9:1" in info.value.paragraph()


def test_unknown_keys_are_ignored_with_a_warning():
    app = n3.App(None)
    app.llm("m", {"future_knob": 3}, loc=n3.Loc("app.ai", 2, 1))
    app.finalize()
    assert "future_knob" not in app.get("llm", "m").config
    assert any("future_knob" in w and "app.ai:2:1" in w for w in app.warnings)


def test_env_is_never_read_at_finalize(monkeypatch):
    monkeypatch.delenv("N3_NEVER_SET", raising=False)
    app = n3.App(None)
    app.llm("m", {"provider": "openai", "model": "x", "api_key": n3.Env("N3_NEVER_SET")})
    app.tool("t", {"type": "http", "endpoint": n3.Env("N3_NEVER_SET")})
    app.finalize()
    assert app.get("llm", "m").config["api_key"] == n3.Env("N3_NEVER_SET")


def test_declarative_kinds_are_kept_not_run():
    app = n3.App(None)
    app.declarative("page", "home", {"title": "Home"}, loc=n3.Loc("app.ai", 3, 1))
    app.finalize()
    assert app.declarative_items["page"]["home"]["title"] == "Home"
    assert app.entries() == []


def test_finalize_is_idempotent_and_closes_declaration():
    app = n3.App(None)
    app.llm("m", {})
    assert app.finalize() is app.finalize()
    with pytest.raises(ConfigError):
        app.llm("n", {})


def chains_app(chains=1, agents=0):
    app = n3.App(None)
    app.llm("m", {"responses": [{"match": ".", "reply": "agent says hi"}]})
    for i in range(chains):
        app.chain(f"c{i}", {"steps": [n3.Step({"name": "t", "kind": "template",
                                                "template": f"chain {i}: {{{{input}}}}"})]})
    for i in range(agents):
        app.agent(f"a{i}", {"llm": n3.Ref("m")})
    app.finalize()
    return app


def test_default_entry_rules():
    assert chains_app(1, 2).run_sync(None, "x") == "chain 0: x"
    assert chains_app(0, 1).run_sync(None, "x") == "agent says hi"
    for app in (chains_app(2, 0), chains_app(0, 2), chains_app(0, 0)):
        with pytest.raises(UsageError):
            app.run_sync(None, "x")


def test_entry_forms():
    app = chains_app(2, 1)
    assert app.run_sync("chain:c1", "y") == "chain 1: y"
    assert app.run_sync("c1", "y") == "chain 1: y"
    assert app.run_sync("agent:a0", "y") == "agent says hi"
    with pytest.raises(UsageError) as info:
        app.run_sync("chain:zzz", None)
    assert "chain:c0, chain:c1, agent:a0" in info.value.hint
    with pytest.raises(UsageError):
        app.run_sync("page:home", None)


def test_run_is_awaitable_and_run_sync_refuses_a_running_loop():
    app = chains_app(1)

    async def inside():
        with pytest.raises(UsageError):
            app.run_sync(None, "x")
        return await app.run("chain:c0", "z")

    assert asyncio.run(inside()) == "chain 0: z"


def test_runtime_package_never_imports_tracing():
    import subprocess
    import sys

    code = ("import sys; from n3core import runtime as n3; import n3core.runtime.app, "
            "n3core.runtime.entry, n3core.runtime.providers.openai; "
            "bad = [m for m in sys.modules if m.startswith(('n3core.tracing', 'n3instrument', "
            "'analyzer'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_what_cannot_be_resolved_fails_when_run_and_the_rest_runs():
    app = n3.App(None)
    app.llm("a", {"responses": [{"match": ".*", "reply": "fine"}]})
    app.llm("b", {})
    app.prompt("vague", {"template": "x"}, loc=n3.Loc("app.ai", 3, 1))
    app.agent("lost", {"llm": n3.Ref("gpt4")}, loc=n3.Loc("app.ai", 4, 1))
    app.chain("empty", {}, loc=n3.Loc("app.ai", 5, 1))
    app.agent("ok", {"llm": n3.Ref("a")})
    app.finalize()
    assert app.run_sync("agent:ok", "hi") == "fine"
    for entry, owner, words in (("prompt:vague", "prompt 'vague'", "several llms"),
                                ("agent:lost", "agent 'lost'", "'gpt4', which is not a declared llm"),
                                ("chain:empty", "chain 'empty'", "needs steps")):
        with pytest.raises(ConfigError) as info:
            app.run_sync(entry, {})
        assert info.value.component == owner and words in info.value.message
        assert info.value.hint
