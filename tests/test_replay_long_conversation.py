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


def test_a_thirty_turn_conversation_replays_identically(tmp_path):
    folder = tmp_path / "counter"
    folder.mkdir()
    (folder / "app.ai").write_text(PROGRAM)
    (folder / "counttool.py").write_text(COUNT_TOOL)
    trace = record(tmp_path, folder / "app.ai", tmp_path / "run.n3t",
                   "--agent", "Counter", "--input", "go")
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
