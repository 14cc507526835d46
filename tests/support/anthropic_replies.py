"""Anthropic Messages API bodies and event streams for the loopback server to send."""
from __future__ import annotations

import json

from tests.support.openai_server import sse


def message(text=None, tool_uses=(), usage=(10, 5), stop=None, model="claude-test"):
    """A Messages reply; `tool_uses` items are (id, name, input dict)."""
    content = [{"type": "text", "text": text}] if text is not None else []
    content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in tool_uses]
    return {"status": 200, "json": {
        "id": "msg_test", "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop or ("tool_use" if tool_uses else "end_turn"),
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}}


def error(status: int, kind: str, text: str):
    return {"status": status, "json": {"type": "error", "error": {"type": kind, "message": text}}}


def stream(pieces=(), tool_use=None, usage=(10, 5), gap=0.0, model="claude-test"):
    """The events of a streamed reply: text `pieces`, then an optional (id, name, input)."""
    events = [("message_start", {"type": "message_start", "message": {
        "id": "msg_s", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "usage": {"input_tokens": usage[0], "output_tokens": 1}}}),
        ("ping", {"type": "ping"})]
    index = 0
    if pieces:
        events.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "text", "text": ""}}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": p}})
                   for p in pieces]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    if tool_use:
        call_id, name, arguments = tool_use
        text = json.dumps(arguments)
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                       "content_block": {"type": "tool_use", "id": call_id, "name": name,
                                         "input": {}}}))
        for part in (text[: len(text) // 2], text[len(text) // 2:]):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta", "partial_json": part}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": "tool_use" if tool_use else "end_turn"},
        "usage": {"output_tokens": usage[1]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return sse(events, gap)
