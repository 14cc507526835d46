"""A conversation recorded once: llm requests keep only what is new, readers rebuild them.

The requests go through the same calls an instrumented build makes (`probes.request`, then
`hooks.enter`/`exit`) into a real trace file, read back by both reader cores.
"""
from __future__ import annotations

import pytest

from n3core.tracing import hooks, probes, session
from n3core.tracing.format import KIND_START, Site
from n3core.tracing.history import FIELD
from n3core.tracing.payload import Cut
from n3core.tracing.reader import open_trace
from n3core.tracing.reqhash import FIELD as HASH, digest, recorded_digest

from tests.support.tracing_cores import tracing_core  # noqa: F401 - fixture

LLM, TOOL = 1, 2
SITES = [Site(LLM, "llm_call", "llm", "chat"), Site(TOOL, "tool_call", "tool", "search")]
TOOLS = [{"name": "search", "description": "Search the web for a query " * 4,
          "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]


def _request(messages, tools=TOOLS):
    return {"provider": "mock", "model": "m-1", "messages": list(messages),
            "tools": list(tools), "params": {"temperature": 0.2}, "output_schema": None}


def _turn(n: int, width: int) -> list:
    return [{"role": "assistant", "content": f"calling search {n}",
             "tool_calls": [{"id": f"c{n}", "name": "search", "arguments": {"q": f"q{n}"}}]},
            {"role": "tool", "tool_call_id": f"c{n}", "name": "search",
             "content": f"result {n}: " + "x" * width}]


def _conversation(turns: int, width: int = 200, first: str = "go"):
    """The requests of one agent run of `turns` turns, as the runtime builds them."""
    messages = [{"role": "system", "content": "You are a careful researcher."},
                {"role": "user", "content": first}]
    requests = []
    for n in range(turns):
        requests.append(_request(messages))
        messages = messages + _turn(n, width)
    return requests


def _record(path, conversations, core, config=None):
    """Trace every request of `conversations` (interleaved turn by turn); the requests."""
    session.start(str(path), SITES, {"install_hooks": False, **(config or {})}, core=core)
    sent = []
    try:
        for step in range(max(len(c) for c in conversations)):
            for conv in conversations:
                if step < len(conv):
                    payload = probes.request(conv[step])
                    token = hooks.enter(LLM, payload)
                    hooks.exit(token, {"text": "ok", "tool_calls": []})
                    sent.append(_plain(conv[step]))
    finally:
        session.stop()
    return sent


def _requests(path, core):
    with open_trace(str(path), core=core) as trace:
        return [ev.payload for ev in trace.events() if ev.site == LLM and ev.kind == KIND_START]


def _plain(request):
    return {k: v for k, v in request.items() if k != HASH}


@pytest.mark.parametrize("reader", ["c", "python"])
def test_both_readers_rebuild_every_request_whole(tmp_path, tracing_core, reader):
    path = tmp_path / "t.n3t"
    sent = _record(path, [_conversation(8), _conversation(5, first="other")], tracing_core)
    got = _requests(path, reader)
    assert [_plain(r) for r in got] == sent
    assert all(FIELD not in r and r[HASH] == digest(r) for r in got)


def test_the_hash_is_read_from_the_payload_tail_as_decoding_gives_it(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    _record(path, [_conversation(6)], tracing_core)
    with open_trace(str(path), history=False) as trace:
        starts = [(b, i) for b in trace.batches() for i in range(len(b))
                  if b.site[i] == LLM and b.kind[i] == KIND_START]
        assert starts
        for batch, i in starts:
            raw = batch.raw_payload(i)
            assert recorded_digest(raw) == batch.recorded(i)[HASH]
            assert recorded_digest(raw[:-1]) is None
    assert recorded_digest(b"") is None and recorded_digest(None) is None


def test_the_file_holds_each_message_once_and_the_tools_once(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    _record(path, [_conversation(6)], tracing_core)
    with open_trace(str(path)) as trace:
        stored = [b.recorded(i) for b in trace.batches() for i in range(len(b))
                  if b.site[i] == LLM and b.kind[i] == KIND_START]
    assert [len(r["messages"]) for r in stored] == [2, 2, 2, 2, 2, 2]
    assert stored[0]["tools"] == TOOLS and all(r["tools"] is None for r in stored[1:])
    assert [r[FIELD]["messages"] for r in stored[1:]] == [[n, 2 * n] for n in range(1, 6)]


def _bytes_per_turn(tmp_path, turns: int, core) -> float:
    path = tmp_path / f"conv{turns}.n3t"
    _record(path, [_conversation(turns, width=500)], core)
    with open_trace(str(path)) as trace:
        total = sum(sum(b.lengths) for b in trace.batches())
    return total / turns


def test_trace_bytes_per_turn_stay_flat_from_5_to_50_turns(tmp_path, tracing_core):
    five, fifty = (_bytes_per_turn(tmp_path, n, tracing_core) for n in (5, 50))
    assert fifty <= 1.3 * five, (five, fifty)


def test_a_conversation_larger_than_max_payload_has_no_request_cut(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    conv = _conversation(40, width=2000)
    assert len(repr(conv[-1])) > 64 * 1024
    sent = _record(path, [conv], tracing_core, {"max_payload": 16 * 1024})
    got = _requests(path, None)
    assert [_plain(r) for r in got] == sent


def test_a_trace_cut_short_rebuilds_every_request_it_holds(tmp_path, tracing_core):
    path = tmp_path / "t.n3t"
    sent = _record(path, [_conversation(30, width=300)], tracing_core, {"chunk_events": 8})
    data = path.read_bytes()
    (tmp_path / "cut.n3t").write_bytes(data[: len(data) // 2])
    got = _requests(tmp_path / "cut.n3t", None)
    assert 3 < len(got) < len(sent)
    assert [_plain(r) for r in got] == sent[:len(got)]


def test_a_request_whose_history_is_gone_says_so(tmp_path, tracing_core):
    """The drop policy can lose the request a later one refers to; the reader marks the gap
    with a `history` cut marker rather than show a shorter conversation."""
    path = tmp_path / "t.n3t"
    conv = _conversation(4)
    session.start(str(path), SITES, {"install_hooks": False}, core=tracing_core)
    try:
        for n, request in enumerate(conv):
            payload = probes.request(request)
            if n != 1:  # the second request never reaches the file
                hooks.exit(hooks.enter(LLM, payload), None)
    finally:
        session.stop()
    got = _requests(path, None)
    assert len(got) == 3 and _plain(got[0]) == _plain(conv[0])
    for request, whole in zip(got[1:], conv[2:]):  # the third, and the fourth built on it
        assert request["messages"][0] == Cut("history", "list")
        assert request["messages"][1:] == whole["messages"][4:]
        assert request["tools"] == Cut("history", "list")
        assert request["model"] == whole["model"] and request[HASH] == whole[HASH]


def test_the_replayer_is_offered_the_whole_request(tmp_path, tracing_core):
    seen = []

    class Replayer:
        def answer(self, token, payload):
            seen.append(payload)
            return probes.MISS

    conv = _conversation(3)
    session.start(str(tmp_path / "t.n3t"), SITES, {"install_hooks": False}, core=tracing_core)
    probes.install_replayer(Replayer())
    try:
        for request in conv:
            payload = probes.request(request)
            token = hooks.enter(LLM, payload)
            assert probes.answer(token, payload) is probes.MISS
            hooks.exit(token, None)
    finally:
        probes.install_replayer(None)
        session.stop()
    assert [_plain(p) for p in seen] == [_plain(c) for c in conv]
    assert all(type(p) is dict and p[HASH] == digest(_plain(p)) for p in seen)


def test_the_flight_recorder_keeps_requests_whole(tmp_path, tracing_core):
    """Its ring forgets old chunks, so a request there must not lean on an earlier one."""
    path = tmp_path / "t.n3t"
    sent = _record(path, [_conversation(5)], tracing_core, {"policy": "flight-recorder"})
    with open_trace(str(path)) as trace:
        stored = [b.recorded(i) for b in trace.batches() for i in range(len(b))
                  if b.site[i] == LLM and b.kind[i] == KIND_START]
    assert [_plain(r) for r in stored] == sent
    assert all(FIELD not in r for r in stored)
