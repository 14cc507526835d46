"""The analyzer on traces of real runs of the examples, checked against the raw events."""
import json
import subprocess
import sys
from pathlib import Path

from support.traced_runs import read_events, traced_run

EXAMPLES = Path(__file__).parent.parent / "examples"


def analyze(trace, *flags):
    done = subprocess.run([sys.executable, "-m", "analyzer", "analyze", str(trace), *flags, "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_retried_structured_prompt_shows_as_a_retry_with_its_cost(tmp_path):
    done, trace = traced_run(tmp_path, EXAMPLES / "structured_retry" / "app.ai",
                             "--input", json.dumps({"review": "Great battery life."}))
    assert done.returncode == 0, done.stderr
    _, events = read_events(trace)
    llm_ends = [payload for kind, site, _, _, payload in events if site.event_type == "llm_call" and kind == "end"]
    assert len(llm_ends) == 2  # the first answer failed validation; the prompt asked again
    report = analyze(trace, "--errors", "--performance")
    prompt = next(row for row in report["errors"]["retries"]["prompts"] if row["name"] == "score_review")
    assert (prompt["executions"], prompt["retried"], prompt["extra_attempts"]) == (1, 1, 1)
    assert prompt["extra_tokens"] == llm_ends[0]["usage"]["total_tokens"]


def test_tokens_per_llm_are_the_sum_of_the_recorded_usage(tmp_path):
    done, trace = traced_run(tmp_path, EXAMPLES / "research_agent" / "app.ai", "--agent", "ResearchAgent",
                             "--input", "Research quantum error correction")
    assert done.returncode == 0, done.stderr
    _, events = read_events(trace)
    usage = [payload["usage"] for kind, site, _, _, payload in events
             if site.event_type == "llm_call" and kind == "end"]
    tokens = analyze(trace, "--performance")["tokens"]
    assert len(usage) == 3
    llm = next(row for row in tokens["by_llm"] if row["name"] == "research_llm")
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert llm[key] == sum(u[key] for u in usage) > 0
    assert llm["calls"] == 3 and tokens["total"]["total_tokens"] == llm["total_tokens"]
