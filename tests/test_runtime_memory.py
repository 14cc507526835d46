"""Memories: windowing, the three types, summarization by the agent's llm."""
from __future__ import annotations

import asyncio

import pytest

from n3core import runtime as n3
from n3core.runtime.errors import MemoryOpError
from n3core.runtime.memory import SUMMARY_PREFIX
from tests.support.openai_server import chat, openai_server  # noqa: F401


def memory(props):
    app = n3.App(None)
    app.memory("mem", props)
    app.finalize()
    return app.get("memory", "mem")


def test_conversation_window_keeps_newest_messages():
    mem = memory({"type": "conversation", "max_items": 3})

    async def go():
        for i in range(5):
            await mem.add({"role": "user", "content": f"m{i}"})
        await mem.add("plain text becomes a user message")
        return await mem.read()

    items = asyncio.run(go())
    assert [m["content"] for m in items] == ["m3", "m4", "plain text becomes a user message"]
    assert items[-1]["role"] == "user"


def test_capacity_alias_and_buffer_default():
    assert memory({"type": "buffer", "capacity": 2}).max_items == 2
    assert memory({"kind": "buffer"}).max_items == 10
    assert memory({}).type == "conversation" and memory({}).max_items is None


def test_buffer_keeps_any_entries():
    mem = memory({"type": "buffer", "max_items": 2})

    async def go():
        for entry in (1, {"x": 2}, [3]):
            await mem.add(entry)
        return await mem.read()

    assert asyncio.run(go()) == [{"x": 2}, [3]]


def test_key_value_merges_and_evicts_oldest():
    mem = memory({"type": "key_value", "max_items": 2})

    async def go():
        await mem.add({"a": 1, "b": 2})
        await mem.add({"a": 10})
        await mem.add({"c": 3})
        return await mem.read(), await mem.read("a")

    assert asyncio.run(go()) == ({"a": 10, "c": 3}, 10)
    with pytest.raises(MemoryOpError):
        asyncio.run(mem.add("not a dict"))


def test_clear_forgets_everything():
    mem = memory({})

    async def go():
        await mem.add("x")
        mem.summary = "old"
        await mem.clear()
        return await mem.read()

    assert asyncio.run(go()) == []


def test_conversation_rejects_non_messages():
    with pytest.raises(MemoryOpError) as info:
        asyncio.run(memory({}).add(42))
    assert info.value.name == "mem"


def test_agent_memory_is_summarized_by_its_llm_after_the_threshold():
    app = n3.App(None)
    app.llm("m", {"responses": [
        {"match": "^user: q1", "reply": "SUMMARY-OF-Q1"},
        {"match": ".", "reply": "answer"},
    ]})
    app.memory("notes", {"type": "conversation", "summarize_after": 3})
    app.agent("helper", {"llm": n3.Ref("m"), "memory": n3.Ref("notes")})
    app.finalize()
    mem = app.get("memory", "notes")
    app.run_sync("agent:helper", "q1")
    assert len(mem) == 2 and mem.summary is None
    app.run_sync("agent:helper", "q2")
    # 4 messages > 3: all but the newest 3 // 2 == 1 are folded into the summary
    assert mem.summary == "SUMMARY-OF-Q1"
    items = asyncio.run(mem.read())
    assert items[0] == {"role": "system", "content": SUMMARY_PREFIX + "SUMMARY-OF-Q1"}
    assert [m["content"] for m in items[1:]] == ["answer"]


def test_agent_sees_what_memory_holds(openai_server):
    app = n3.App(None)
    app.llm("m", {"provider": "ollama", "model": "x", "base_url": openai_server.url})
    app.memory("notes", {})
    app.agent("helper", {"llm": n3.Ref("m"), "memory": n3.Ref("notes"), "system": "Be kind."})
    app.finalize()
    openai_server.script(chat("Nice to meet you"), chat("You said your name is Ada"))
    app.run_sync("agent:helper", "my name is Ada")
    assert app.run_sync("agent:helper", "what did I say") == "You said your name is Ada"
    sent = openai_server.chat_requests()[1]["body"]["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("system", "Be kind."), ("user", "my name is Ada"),
        ("assistant", "Nice to meet you"), ("user", "what did I say")]


def test_key_value_memory_is_shown_as_known_facts(openai_server):
    app = n3.App(None)
    app.llm("m", {"provider": "ollama", "model": "x", "base_url": openai_server.url})
    app.memory("facts", {"type": "key_value"})
    app.agent("helper", {"llm": n3.Ref("m"), "memory": n3.Ref("facts")})
    app.finalize()
    openai_server.script(chat("first"), chat("second"))
    app.run_sync("agent:helper", "hello")
    app.run_sync("agent:helper", "again")
    system = openai_server.chat_requests()[1]["body"]["messages"][0]
    assert system["role"] == "system"
    assert "- last_input: hello" in system["content"] and "- last_answer: first" in system["content"]


# --- built-in memory policies named on an agent ------------------------------------------

def policy_app(memory, **agent):
    app = n3.App(None)
    app.llm("m", {"provider": "mock", "responses": [
        {"match": "^user: ", "reply": "ROLLING-SUMMARY"},
        {"match": ".*", "reply": "answer"}]})
    app.agent("helper", dict({"llm": n3.Ref("m"), "memory": n3.Ref(memory)}, **agent))
    return app.finalize()


def contents(agent):
    return [m["content"] for m in asyncio.run(agent.memory.read())]


def test_conversation_window_keeps_the_last_window_messages():
    app = policy_app("conversation_window", window=3)
    for question in ("q1", "q2", "q3"):
        app.run_sync("agent:helper", question)
    agent = app.get("agent", "helper")
    assert agent.memory.name == "helper.conversation_window"
    assert contents(agent) == ["answer", "q3", "answer"]
    assert [m["content"] for m in asyncio.run(agent._recall())] == ["answer", "q3", "answer"]


def test_conversation_window_defaults_to_ten_messages():
    app = policy_app("conversation_window")
    for number in range(8):
        app.run_sync("agent:helper", f"q{number}")
    assert contents(app.get("agent", "helper"))[0::2] == [f"q{n}" for n in range(3, 8)]


def test_full_history_keeps_everything():
    app = policy_app("full_history")
    for number in range(30):
        app.run_sync("agent:helper", f"q{number}")
    assert len(contents(app.get("agent", "helper"))) == 60


def test_summary_folds_older_messages_with_the_agents_llm():
    app = policy_app("summary", window=4)
    for question in ("q1", "q2", "q3"):
        app.run_sync("agent:helper", question)
    memory = app.get("agent", "helper").memory
    # 6 messages > 4: all but the newest 4 // 2 == 2 are folded by the agent's own llm
    assert memory.summary == "ROLLING-SUMMARY"
    assert contents(app.get("agent", "helper")) == [
        SUMMARY_PREFIX + "ROLLING-SUMMARY", "q3", "answer"]


def test_none_remembers_nothing():
    app = policy_app("none")
    app.run_sync("agent:helper", "q1")
    assert app.get("agent", "helper").memory is None


def test_a_declared_memory_wins_over_a_policy_of_the_same_name():
    app = n3.App(None)
    app.llm("m", {})
    app.memory("summary", {"type": "buffer", "max_items": 2})
    app.agent("helper", {"llm": n3.Ref("m"), "memory": n3.Ref("summary")})
    app.finalize()
    assert app.get("agent", "helper").memory is app.get("memory", "summary")


def test_each_agent_has_its_own_policy_memory():
    app = n3.App(None)
    app.llm("m", {})
    for name in ("a", "b"):
        app.agent(name, {"llm": n3.Ref("m"), "memory": "full_history"})
    app.finalize()
    app.run_sync("agent:a", "only a")
    assert len(app.get("agent", "a").memory) == 2 and len(app.get("agent", "b").memory) == 0


def test_the_llm_sees_only_the_window(openai_server):
    app = n3.App(None)
    app.llm("m", {"provider": "ollama", "model": "x", "base_url": openai_server.url})
    app.agent("helper", {"llm": n3.Ref("m"), "memory": "conversation_window", "window": 2})
    app.finalize()
    openai_server.script(chat("a1"), chat("a2"), chat("a3"))
    for question in ("q1", "q2", "q3"):
        app.run_sync("agent:helper", question)
    sent = openai_server.chat_requests()[2]["body"]["messages"]
    assert [m["content"] for m in sent] == ["q2", "a2", "q3"]


def test_memory_types_of_real_programs_map_to_ours():
    assert memory({"type": "short_term"}).type == "conversation"
    assert memory({"kind": "structured"}).type == "key_value"
    assert memory({"type": "list", "max_items": 3}).max_items == 3
