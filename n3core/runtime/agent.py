"""Agents: a loop of turns in which the model answers or asks for tools.

A model may ask for tools natively (`tool_calls`) or, when it only produces text, with a
JSON object `{"tool": NAME, "arguments": {...}}` (or a list of them). Tools asked for in one
turn run concurrently. A request the agent cannot honour (an unknown tool, arguments that
fail validation) is answered with an error message the model sees next turn, so it can
correct itself; a tool that fails while running stops the agent with a ToolError.
"""
from __future__ import annotations

import asyncio

from . import clock
from .errors import MaxTurnsError, N3Error, ToolError
from .llm import LLMRequest, ToolCall
from .prompt import parse_json_reply
from .template import to_text
from .values import resolve_env

_INPUT_KEYS = ("input", "message", "text", "query", "question", "task")


class Agent:
    """A declared agent."""

    kind = "agent"

    def __init__(self, name: str, config: dict, llm, tools=(), memory=None, loc=None):
        self.name, self.config, self.loc = name, config, loc
        self.llm, self.memory = llm, memory
        self.tools = {tool.name: tool for tool in tools}
        self.system_prompt = config.get("system_prompt")
        self.max_turns = int(config.get("max_turns") or 10)
        self.params = {"temperature": config["temperature"]} \
            if config.get("temperature") is not None else {}

    async def run(self, value=None) -> str:
        """Answer `value` (text, or an object with one input field), turn by turn."""
        text = input_text(value)
        messages = []
        system = resolve_env(self.system_prompt, kind="agent", component=self.name, loc=self.loc)
        if system:
            messages.append({"role": "system", "content": system})
        if self.memory is not None:
            messages += await self._recall()
        messages.append({"role": "user", "content": text})
        try:
            for number in range(1, self.max_turns + 1):
                answer = await self.turn(messages, number)
                if answer is not None:
                    await self._remember(text, answer)
                    return answer
        except N3Error as err:
            raise err.attach("agent", self.name, self.loc)
        raise MaxTurnsError(
            f"no answer after {self.max_turns} turn{'s' if self.max_turns != 1 else ''}: "
            "the model kept asking for tools",
            hint="raise max_turns, or change the system prompt or tools so the model can "
                 "finish", kind="agent", name=self.name, loc=self.loc)

    async def turn(self, messages: list, number: int) -> str | None:
        """One model call; runs requested tools and returns None, or returns the answer."""
        request = LLMRequest(list(messages), [t.spec() for t in self.tools.values()],
                             dict(self.params))
        response = await self.llm.complete(request)
        calls, native = response.tool_calls, True
        if not calls and self.tools:
            calls, native = text_tool_calls(response.text), False
        if not calls:
            return response.text
        results = await asyncio.gather(*(self._run_tool(call) for call in calls))
        if native:
            messages.append({"role": "assistant", "content": response.text,
                             "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments}
                                            for c in calls]})
            for call, result in zip(calls, results):
                messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                                 "content": result})
        else:
            messages.append({"role": "assistant", "content": response.text})
            for call, result in zip(calls, results):
                messages.append({"role": "user", "content": f"Result of tool {call.name}: {result}"})
        return None

    async def _run_tool(self, call: ToolCall) -> str:
        tool = self.tools.get(call.name)
        if tool is None:
            available = ", ".join(self.tools) or "none"
            return f"error: there is no tool named '{call.name}' (available tools: {available})"
        try:
            tool.validate_arguments(call.arguments)
        except ToolError as err:
            return f"error: {err.message}"
        return to_text(await tool.call(call.arguments, call.id))

    async def _recall(self) -> list:
        stored = await self.memory.read()
        if isinstance(stored, dict):
            if not stored:
                return []
            facts = "\n".join(f"- {k}: {to_text(v)}" for k, v in stored.items())
            return [{"role": "system", "content": f"Known facts:\n{facts}"}]
        return [m if isinstance(m, dict) and "role" in m and "content" in m
                else {"role": "user", "content": to_text(m)} for m in stored]

    async def _remember(self, text: str, answer: str) -> None:
        if self.memory is None:
            return
        if self.memory.type == "key_value":
            await self.memory.add({"last_input": text, "last_answer": answer})
            return
        await self.memory.add({"role": "user", "content": text})
        await self.memory.add({"role": "assistant", "content": answer})
        if self.memory.needs_summary():
            await self.memory.summarize(self.llm)

    def __repr__(self) -> str:
        return f"<agent {self.name}>"


def input_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        key, inner = next(iter(value.items()))
        if key in _INPUT_KEYS:
            return to_text(inner)
    return to_text(value)


def text_tool_calls(text: str) -> list:
    """Tool requests written as JSON text by a model without native tool calling."""
    data = parse_json_reply(text or "")
    items = data if isinstance(data, list) else [data]
    calls = []
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("tool"), str)):
            return []
        arguments = item.get("arguments", item.get("args")) or {}
        calls.append(ToolCall(f"call_{clock.new_id()[:12]}", item["tool"],
                              arguments if isinstance(arguments, dict) else {"input": arguments}))
    return calls
