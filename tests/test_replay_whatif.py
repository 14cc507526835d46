"""What-ifs: --mock of a tool and of an llm under each --on-divergence mode, and `live`
calling a real http tool on a loopback server where an edited program leaves the record."""
import json

import pytest

from tests.support.replay_programs import (QuoteAPI, n3analyze, record_briefing,
                                           record_example)

SEARCH_MOCK = 'search:{"results": ["nothing relevant here"]}'
LLM_MOCK = 'research_llm:"No research needed."'
FIRST_LLM = "agent:ResearchAgent#1 / agent_turn:ResearchAgent#1 / llm_call:research_llm#1"


@pytest.fixture(scope="module")
def research(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("whatif")
    _, trace = record_example(tmp, "research_agent", "app", tmp / "run.n3t", "--agent",
                              "ResearchAgent", "--input", "Research quantum error correction")
    return tmp, trace


def replay(research, *args, out="again.n3t"):
    tmp, trace = research
    return n3analyze(tmp, "replay", trace, "--trace-out", tmp / out, *args, guarded=True)


def doc_of(done):
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def keys(doc, verdict):
    return [d["key"] for d in doc["departures"] if d["verdict"] == verdict]


def test_tool_mock_stops_at_the_first_changed_request_it_causes(research):
    done = replay(research, "--mock", SEARCH_MOCK, "--format", "json")
    assert done.returncode == 1, done.stderr
    doc = doc_of(done)
    (mocked,) = [d for d in doc["departures"] if d["verdict"] == "mocked"]
    assert mocked["cause"] == "--mock search" and "tool_call:search#1" in mocked["key"]
    first = doc["first_divergence"]
    assert first["verdict"] == "changed" and first["key"].endswith("llm_call:research_llm#1")
    assert "agent_turn:ResearchAgent#2" in first["key"]
    assert first["cause"] == f"downstream of --mock search ({mocked['key']})"
    assert "nothing relevant here" in json.dumps(first["fields"])
    assert doc["stopped"] and doc["on_divergence"] == "stop"
    assert doc["boundaries"]["not_reached"] >= 2  # save_note and the last llm call
    text = replay(research, "--mock", SEARCH_MOCK).stdout
    assert "mocked   " + mocked["key"] in text and "(--mock search)" in text
    assert "CHANGED: " + first["key"] in text and "not reached: the replay stopped" in text


def test_tool_mock_with_fail_is_one_error_and_exit_1(research):
    done = replay(research, "--mock", SEARCH_MOCK, "--on-divergence", "fail")
    assert done.returncode == 1
    assert done.stdout == ""  # no report: the error is all there is
    assert done.stderr.startswith("error: the replay of ")
    assert "asked something else than the record (messages[" in done.stderr
    assert "--on-divergence fail ended it there (downstream of --mock search" in done.stderr
    assert "Traceback" not in done.stderr


def test_tool_mock_with_live_runs_the_real_llm_and_finishes(research):
    done = replay(research, "--mock", SEARCH_MOCK, "--on-divergence", "live", "--format", "json")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("live: where the record no longer matches, the real "
                                  "components are called")
    doc = doc_of(done)
    assert not doc["stopped"] and doc["program_error"] is None
    changed = [d for d in doc["departures"] if d["verdict"] == "changed"]
    assert changed and all(d["action"] == "live" for d in changed)
    assert changed[0]["cause"].startswith("downstream of --mock search")
    # the live mock provider saw '"results"' in the mocked result and asked for the note,
    # whose call then matched the record again
    assert doc["boundaries"]["matched"] >= 2
    assert not keys(doc, "missing")


def test_llm_mock_makes_the_recorded_tool_calls_missing(research):
    done = replay(research, "--mock", LLM_MOCK, "--format", "json")
    assert done.returncode == 1, done.stderr
    doc = doc_of(done)
    assert keys(doc, "mocked") == [FIRST_LLM]
    missing = keys(doc, "missing")
    assert any(k.endswith("tool_call:search#1") for k in missing)
    assert any(k.endswith("tool_call:save_note#1") for k in missing)
    assert doc["first_divergence"]["cause"].startswith("downstream of --mock research_llm")
    assert not doc["stopped"]  # a missing call is found when the run ends


def test_llm_mock_with_fail_names_the_missing_call(research):
    done = replay(research, "--mock", LLM_MOCK, "--on-divergence", "fail")
    assert done.returncode == 1 and done.stdout == ""
    assert "never made a call the record has at agent:ResearchAgent#1" in done.stderr
    assert "tool_call:search#1" in done.stderr


def test_llm_mock_with_live_needs_no_real_call(research):
    done = replay(research, "--mock", LLM_MOCK, "--on-divergence", "live", "--format", "json")
    assert done.returncode == 1
    doc = doc_of(done)
    assert not [d for d in doc["departures"] if d["action"] == "live"]
    assert doc["program_error"] is None


def test_live_calls_a_real_http_tool_where_an_edited_program_leaves_the_record(tmp_path):
    api = QuoteAPI()
    try:
        source, trace = record_briefing(tmp_path, api)
        source.write_text(source.read_text().replace('symbol: "{{input.symbol}}"',
                                                     'symbol: "{{input.symbol}}-B"'))
        stop = n3analyze(tmp_path, "replay", trace, "--source", source, "--format", "json",
                         extra_env={"REPLAY_TEST_API": api.url})
        assert stop.returncode == 1 and api.served == 1  # stop never calls the server
        live = n3analyze(tmp_path, "replay", trace, "--source", source, "--on-divergence",
                         "live", "--format", "json", "--trace-out", tmp_path / "live.n3t",
                         extra_env={"REPLAY_TEST_API": api.url})
    finally:
        api.stop()
    assert live.returncode == 1, live.stderr
    assert api.served == 2  # the changed quote request went to the server
    doc = doc_of(live)
    first = doc["first_divergence"]
    assert first["key"].endswith("tool_call:quote#1") and first["action"] == "live"
    (row,) = [f for f in first["fields"] if f["field"] == "arguments"]
    assert row["recorded"] == {"symbol": "N3X"} and row["replayed"] == {"symbol": "N3X-B"}
    assert doc["program_error"] is None and not doc["stopped"]
    assert doc_of(stop)["stopped"]
