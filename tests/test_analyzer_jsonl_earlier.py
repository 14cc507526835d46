"""The earlier debugger's JSON lines keep what they say: names from metadata, usage and
cost in metadata, the model, and one execution at a time from a file holding several."""
import io
import json

import pytest
from rich.console import Console

from analyzer import cli


def line(et, ts, eid, **kw):
    return json.dumps({"event_type": et, "timestamp": ts, "execution_id": eid, **kw})


@pytest.fixture
def old(tmp_path):
    lines = []
    for n, (eid, agent, tokens, cost) in enumerate((("run-a", "Researcher", 120, 0.00042),
                                                    ("run-b", "Writer", 80, 0.0002))):
        t = 1_700_000_000.0 + 10 * n
        lines += [
            line("agent_execution_start", t, eid, component="agent", metadata={"agent_name": agent}),
            line("llm_call_start", t + .1, eid, component="llm", metadata={"model": "house-model-7"}),
            line("llm_call_end", t + .3, eid, component="llm", status="completed", duration_ms=200,
                 metadata={"model": "house-model-7", "tokens_used": tokens, "cost": cost}),
            line("tool_call_start", t + .4, eid, component="tool", metadata={"tool_name": "search"}),
            line("tool_call_end", t + .5, eid, component="tool", status="completed",
                 metadata={"tool_name": "search"}),
            line("error_occurred", t + .55, eid, metadata={"component": agent}, error="boom"),
            line("agent_execution_end", t + .6, eid, component="agent", status="completed",
                 metadata={"agent_name": agent}),
        ]
    path = tmp_path / "old.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def analyze(path, *extra):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["analyze", path, "--format", "json", *extra],
                    console=Console(file=out), err_console=Console(file=err, width=300))
    return code, (json.loads(out.getvalue()) if out.getvalue() else None), err.getvalue()


def test_names_tokens_cost_and_model_come_from_metadata(old):
    code, doc, _ = analyze(old)
    assert code == 0
    names = {(r["event_type"], r["name"]) for r in doc["performance"]["by_operation"]}
    assert {("agent_execution", "Researcher"), ("tool_call", "search"),
            ("error_occurred", "Researcher")} <= names
    assert doc["summary"]["total_tokens"] == 120
    assert doc["summary"]["cost_usd"] == pytest.approx(0.00042)
    assert doc["tokens"]["by_llm"][0]["models"] == ["house-model-7"]


def test_one_execution_at_a_time_and_run_picks_it(old):
    code, first, err = analyze(old)
    assert code == 0 and first["trace"]["run_id"] == "run-a"
    assert "2 executions" in err and "--run ID: run-b" in err
    code, second, _ = analyze(old, "--run", "run-b")
    assert code == 0 and second["trace"]["run_id"] == "run-b"
    assert second["summary"]["total_tokens"] == 80 and second["summary"]["events"] == 7
    assert {r["name"] for r in second["performance"]["by_operation"]} >= {"Writer"}
    assert "Researcher" not in json.dumps(second["performance"])


def test_an_unknown_run_lists_the_executions(old):
    code, doc, _ = analyze(old, "--run", "nope")
    assert code == 2 and doc["error"]["message"].endswith("its executions are run-a, run-b.")
