"""The analysis numbers, checked against values computed here from the scripted run."""
import json
import math

import pytest

from analyzer.analysis import analyze
from analyzer.costs import PriceTable
from analyzer.sources import open_source
from support.trace_factory import US, research_run
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("analyzer_core")


def rank(values, pct):
    values = sorted(values)
    return values[max(1, math.ceil(pct / 100 * len(values))) - 1]


@pytest.fixture(params=["n3t", "jsonl"])
def traced(request, tmp_path):
    script = research_run(turns=9)
    path = tmp_path / f"run.{request.param}"
    getattr(script, f"to_{request.param}")(path)
    return script, str(path)


def run(path, **kw):
    with open_source(path) as source:
        return analyze(source, **kw)


def row(doc, event_type, name):
    rows = [r for r in doc["performance"]["by_operation"]
            if r["event_type"] == event_type and r["name"] == name]
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize("event_type,name", [("llm_call", "gpt"), ("tool_call", "search"),
                                             ("agent_turn", "Researcher"), ("llm_call", "cheap")])
def test_duration_stats_match_the_script(traced, event_type, name):
    script, path = traced
    durs = script.durations(event_type, name)
    r = row(run(path), event_type, name)
    assert r["count"] == len(durs)
    assert r["total_ms"] == pytest.approx(sum(durs) / 1e6)
    assert r["mean_ms"] == pytest.approx(sum(durs) / len(durs) / 1e6)
    assert r["p50_ms"] == pytest.approx(rank(durs, 50) / 1e6)
    assert r["p95_ms"] == pytest.approx(rank(durs, 95) / 1e6)
    assert r["max_ms"] == pytest.approx(max(durs) / 1e6)


def test_slowest_operations_are_the_longest_spans(traced):
    script, path = traced
    doc = run(path)
    expected = sorted((e - s for _, s, e, *_ in script.spans), reverse=True)[:10]
    got = [round(r["duration_ms"] * 1e6) for r in doc["performance"]["slow_operations"]]
    assert got == expected


def test_tokens_and_costs_per_llm_agent_and_chain(traced):
    _, path = traced
    doc = run(path)
    tok = doc["tokens"]
    gpt = next(r for r in tok["by_llm"] if r["name"] == "gpt")
    assert gpt["calls"] == 9
    assert gpt["prompt_tokens"] == sum(1000 + t for t in range(9))
    assert gpt["completion_tokens"] == sum(100 + t for t in range(9))
    expected_gpt = (gpt["prompt_tokens"] * 0.0025 + gpt["completion_tokens"] * 0.01) / 1000
    assert gpt["cost_usd"] == pytest.approx(expected_gpt, abs=1e-6)
    cheap_cost = 2 * (400 * 0.00015 + 50 * 0.0006) / 1000
    agent = next(r for r in tok["by_agent"] if r["name"] == "Researcher")
    assert agent["cost_usd"] == pytest.approx(expected_gpt, abs=1e-6)   # the prompt is outside
    chain = next(r for r in tok["by_chain"] if r["name"] == "research")
    assert chain["cost_usd"] == pytest.approx(expected_gpt + cheap_cost, abs=1e-6)
    assert doc["summary"]["cost_usd"] == pytest.approx(expected_gpt + cheap_cost, abs=1e-6)


def test_price_override_file(traced, tmp_path):
    _, path = traced
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"gpt-4o": {"input": 1.0, "output": 2.0}}}))
    doc = run(path, prices=PriceTable(str(prices)))
    gpt = next(r for r in doc["tokens"]["by_llm"] if r["name"] == "gpt")
    assert gpt["cost_usd"] == pytest.approx((gpt["prompt_tokens"] * 1.0
                                             + gpt["completion_tokens"] * 2.0) / 1000)
    cheap = next(r for r in doc["tokens"]["by_llm"] if r["name"] == "cheap")
    assert cheap["cost_usd"] == pytest.approx(2 * (400 * 0.00015 + 50 * 0.0006) / 1000)
    assert str(prices) in doc["tokens"]["prices"]["source"]


def test_errors_failure_rates_and_retries(traced):
    script, path = traced
    doc = run(path)
    err = doc["errors"]
    assert err["by_type"] == [{"type": "TimeoutError", "count": 1}]
    assert err["by_component"] == [{"component": "tool", "name": "search", "count": 1}]
    tool_rate = next(r for r in err["failure_rates"] if r["event_type"] == "tool_call")
    assert (tool_rate["count"], tool_rate["failed"]) == (10, 1)
    assert tool_rate["failure_rate"] == pytest.approx(0.1)
    prompt = err["retries"]["prompts"][0]
    assert (prompt["name"], prompt["retried"], prompt["extra_attempts"]) == ("summarize", 1, 1)
    first_attempt = script.durations("llm_call", "cheap")[0]
    assert prompt["extra_ms"] == pytest.approx(first_attempt / 1e6)
    assert prompt["extra_tokens"] == 450
    tool = err["retries"]["tools"][0]
    assert tool["repeated"] == 1     # turn 2 repeats turn 1's arguments
    repeated = script.durations("tool_call", "search")[2]
    assert tool["extra_ms"] == pytest.approx(repeated / 1e6)


def test_memory_growth_across_turns(traced):
    _, path = traced
    mem = run(path)["memory"]
    turns = mem["agent_turns"][0]
    assert turns["turns"] == 9
    assert turns["growth_bytes"] == 9 * 2_000_000
    assert turns["growth_per_turn_bytes"] == pytest.approx(2_000_000)
    assert mem["rss_peak"] == 50_000_000 + 9 * 2_000_000


def test_sections_can_be_chosen(traced):
    _, path = traced
    doc = run(path, sections=["errors"])
    assert "errors" in doc and "performance" not in doc and "memory" not in doc
    assert doc["summary"]["errors"] == 1
