"""A long agent conversation, recorded with its history once, replays request for request.

Every llm request after the first records only its new messages; replay checks each
request's hash against the whole request, rebuilt from the trace.
"""
import json

from n3core.tracing.format import KIND_START
from n3core.tracing.payload import Cut
from n3core.tracing.reader import open_trace

from tests.support.replay_programs import n3analyze, record

TURNS = 30
PROGRAM = f'''app "Counter"

llm count_llm {{
  provider: "mock"
  model: "mock-count"
  responses: [
    {{ match: "step {TURNS}$", reply: "done after {TURNS} steps" }}
    {{ match: "step|^go", tool_call: {{ name: "count", arguments: {{ label: "next" }} }} }}
  ]
}}

tool count {{
  type: "python"
  function: "counttool:count"
  description: "The next step's number"
  parameters: {{ type: "object", properties: {{ label: {{ type: "string" }} }} }}
}}

agent Counter {{ llm: count_llm, tools: [count], max_turns: {TURNS + 5} }}
'''
COUNT_TOOL = '''N = 0


def count(label):
    global N
    N += 1
    return "padding " * 40 + f"{label} step {N}"
'''


def _recorded(tmp_path) -> str:
    folder = tmp_path / "counter"
    folder.mkdir()
    (folder / "app.ai").write_text(PROGRAM)
    (folder / "counttool.py").write_text(COUNT_TOOL)
    trace = record(tmp_path, folder / "app.ai", tmp_path / "run.n3t",
                   "--agent", "Counter", "--input", "go")
    return trace


def test_a_thirty_turn_conversation_replays_identically(tmp_path):
    trace = _recorded(tmp_path)
    with open_trace(trace) as run:
        llm = {s.id for s in run.header.sites if s.event_type == "llm_call"}
        stored, whole, index, seen = [], [], [], 0
        for batch in run.batches():
            for i in range(len(batch)):
                if batch.site[i] in llm and batch.kind[i] == KIND_START:
                    stored.append(batch.recorded(i))
                    whole.append(batch.payload(i))
                    index.append(seen + i)
            seen += len(batch)
    assert len(whole) == TURNS + 1
    assert [len(r["messages"]) for r in whole] == [1 + 2 * n for n in range(TURNS + 1)]
    assert all(len(r["messages"]) <= 2 for r in stored[1:])
    assert not any(isinstance(m, Cut) for r in whole for m in r["messages"])
    done = n3analyze(tmp_path, "replay", trace, "--format", "json", guarded=True)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "identical"
    assert doc["boundaries"]["matched"] == doc["boundaries"]["recorded"] == 2 * TURNS + 1
    shown = n3analyze(tmp_path, "inspect", trace, "--event", index[-1], "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["payload"]["messages"] == whole[-1]["messages"]


def test_requests_recorded_without_their_hash_are_hashed_whole(tmp_path):
    """A 1.3 trace whose llm requests carry their history but no request hash (a writer
    that left it out): the book hashes each request as the reader rebuilds it whole."""
    from analyzer.replay.book import read_book
    from n3core.tracing.history import FIELD as HISTORY
    from n3core.tracing.reqhash import FIELD as HASH
    from tests.support.trace_edit import rewrite

    trace = _recorded(tmp_path)
    before = []

    def unhashed(site, kind, payload):
        if site is None or site.event_type != "llm_call" or kind.name != "start":
            return payload
        messages = payload["messages"]
        number = len(before) + 1
        history = {"call": number}
        if before:
            history["messages"] = [number - 1, len(before[-1])]
        before.append(messages)
        kept = len(before[-2]) if len(before) > 1 else 0
        out = {k: v for k, v in payload.items() if k != HASH}
        return {**out, "messages": messages[kept:], HISTORY: history}

    bare = rewrite(trace, tmp_path / "bare.n3t", unhashed)
    assert len(before) == TURNS + 1
    with open_trace(bare) as run:
        llm = {s.id for s in run.header.sites if s.event_type == "llm_call"}
        stored = [b.recorded(i) for b in run.batches() for i in range(len(b))
                  if b.site[i] in llm and b.kind[i] == 0]
    assert all(HASH not in r and HISTORY in r for r in stored)
    assert all(len(r["messages"]) <= 2 for r in stored[1:])
    recorded, rebuilt = read_book(trace), read_book(bare)
    assert {k: e.hash for k, e in rebuilt.entries.items()} == \
        {k: e.hash for k, e in recorded.entries.items()}
