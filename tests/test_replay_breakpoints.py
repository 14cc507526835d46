"""Breakpoint specs: each kind hits the right events of real traces; bad ones are refused."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.errors import AnalyzerError
from analyzer.replay.breakpoints import BreakpointError, parse_breakpoints
from analyzer.replay.debugger import DebugIO
from analyzer.replay.events import Catalog
from analyzer.replay.stepping import step_through
from support.trace_factory import SITES, research_run
from support.traced_runs import read_events, traced_run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAUSE = re.compile(r"^-- (?:breakpoint|step)[^\n]*--\n#(\d+) ", re.M)


@pytest.fixture(scope="module")
def research(tmp_path_factory):
    """The research example, recorded by a real traced run."""
    tmp = tmp_path_factory.mktemp("research")
    done, trace = traced_run(tmp, EXAMPLES / "research_agent" / "app.ai", "--agent",
                             "ResearchAgent", "--input", "Research quantum error correction")
    assert done.returncode == 0, done.stderr
    return str(trace.resolve())


@pytest.fixture(scope="module")
def retry(tmp_path_factory):
    """The structured-retry example: a prompt whose first answer fails validation."""
    tmp = tmp_path_factory.mktemp("retry")
    done, trace = traced_run(tmp, EXAMPLES / "structured_retry" / "app.ai", "--input",
                             json.dumps({"review": "Great battery life, sharp screen."}))
    assert done.returncode == 0, done.stderr
    return str(trace.resolve())


def paused_at(trace, *specs) -> list:
    """Indices of the events a scripted session (continue at every pause) stopped at."""
    out = io.StringIO()
    step_through(trace, list(specs), False, DebugIO.scripted("c\n" * 200, out))
    return [int(n) for n in PAUSE.findall(out.getvalue())]


def indices(trace, keep) -> list:
    """Expected pauses, from the trace read independently of the debugger."""
    _, events = read_events(trace)
    return [i for i, (kind, site, _span, _parent, payload) in enumerate(events)
            if keep(kind, site, payload or {})]


def test_an_event_type_hits_each_of_its_events(research):
    expected = indices(research, lambda k, s, p: s.event_type == "llm_call" and k == "start")
    assert len(expected) == 3
    assert paused_at(research, "llm_call_start") == expected


def test_a_stem_hits_starts_and_ends(research):
    expected = indices(research, lambda k, s, p: s.event_type == "tool_call")
    assert len(expected) == 4
    assert paused_at(research, "tool_call") == expected


def test_event_type_n_hits_only_the_nth(research):
    starts = indices(research, lambda k, s, p: s.event_type == "agent_turn" and k == "start")
    assert paused_at(research, "agent_turn_start:3") == [starts[2]]
    assert paused_at(research, "agent_turn_start:9") == []


def test_component_name_hits_that_components_starts(research):
    expected = indices(research, lambda k, s, p: s.name == "search" and k == "start")
    assert paused_at(research, "tool:search") == expected
    agent = indices(research, lambda k, s, p: s.component == "agent" and s.name ==
                    "ResearchAgent" and k == "start")
    assert len(agent) == 4  # the execution and its three turns
    assert paused_at(research, "agent:ResearchAgent") == agent
    memory = indices(research, lambda k, s, p: s.event_type == "memory_operation")
    assert paused_at(research, "memory:research_notes") == memory


def test_conditions_on_fields_and_dotted_paths(research):
    big = indices(research, lambda k, s, p: s.event_type == "llm_call" and k == "end"
                  and p["usage"]["total_tokens"] > 230)
    assert 0 < len(big) < 3
    assert paused_at(research, "llm_call_end:tokens>230") == big
    assert paused_at(research, "llm_call_end:usage.total_tokens>230") == big
    note = indices(research, lambda k, s, p: s.name == "save_note" and k == "start")
    assert paused_at(research, "tool_call_start:name==save_note") == note
    query = indices(research, lambda k, s, p: k == "start" and s.event_type == "tool_call"
                    and p["arguments"].get("query") == "quantum error correction")
    assert len(query) == 1
    assert paused_at(research, 'tool_call_start:arguments.query=="quantum error correction"') \
        == query
    assert paused_at(research, "tool_call_start:arguments.query==quantum error correction") \
        == query
    later = indices(research, lambda k, s, p: s.event_type == "agent_turn" and k == "start"
                    and p["turn"] >= 2)
    assert paused_at(research, "agent_turn_start:turn>=2") == later
    adds = indices(research, lambda k, s, p: s.event_type == "memory_operation"
                   and p.get("op") == "add")
    assert paused_at(research, "memory_operation:op==add") == adds
    assert paused_at(research, "tool_call_start:name!=search") == note


def test_breakpoints_on_the_retried_prompt(retry):
    failed = indices(retry, lambda k, s, p: s.event_type == "validation" and k == "error_end")
    assert len(failed) == 1
    assert paused_at(retry, "validation_end:kind==error_end") == failed
    second = indices(retry, lambda k, s, p: s.event_type == "llm_call" and k == "start")[1]
    assert paused_at(retry, "llm_call_start:2") == [second]
    errors = indices(retry, lambda k, s, p: s.event_type == "error_occurred")
    assert errors and paused_at(retry, "error_occurred") == errors
    steps = indices(retry, lambda k, s, p: s.event_type == "chain_step" and k == "start"
                    and p.get("step") == "score")
    assert paused_at(retry, "chain_step_start:step==score") == steps


def test_several_breakpoints_pause_once_per_event(research):
    both = indices(research, lambda k, s, p: s.event_type == "tool_call" and k == "start")
    assert paused_at(research, "tool_call_start", "tool:search") == both


def test_error_end_fields_on_a_failing_tool(tmp_path):
    trace = research_run(turns=2).to_n3t(tmp_path / "t.n3t")
    failed = indices(trace, lambda k, s, p: k == "error_end")
    assert len(failed) == 1
    assert paused_at(trace, "tool_call_end:type==TimeoutError") == failed
    assert paused_at(trace, "tool_call_end:message==\"search timed out\"") == failed


def catalog_of(trace) -> Catalog:
    from analyzer.replay.stepping import catalog_for
    from analyzer.sources import open_source

    with open_source(trace) as source:
        return catalog_for(source)


def refused(trace, spec) -> BreakpointError:
    with pytest.raises(BreakpointError) as info:
        parse_breakpoints([spec], catalog_of(trace))
    assert isinstance(info.value, AnalyzerError) and info.value.exit_code == 2
    return info.value


def test_unknown_event_type_lists_the_valid_ones(research):
    message = str(refused(research, "llm_cal_start"))
    assert "'llm_cal_start'" in message
    for name in ("llm_call_start", "tool_call_end", "agent_turn_start", "memory_operation"):
        assert name in message
    assert "agent, " in message and "tool" in message


def test_unknown_component_name_lists_the_names(research):
    message = str(refused(research, "tool:serch"))
    assert "no tool named 'serch'" in message
    assert "save_note" in message and "search" in message
    assert "ResearchAgent" in str(refused(research, "agent:Desk"))


def test_unknown_field_lists_the_fields(research):
    message = str(refused(research, "llm_call_end:tokenz>5"))
    assert "no field 'tokenz'" in message
    for name in ("tokens", "usage", "finish_reason", "text"):
        assert name in message
    assert "arguments" in str(refused(research, "tool_call_start:argumants.query==x"))
    assert "no field 'usage'" in str(refused(research, "llm_call_start:usage>1"))


@pytest.mark.parametrize("spec, words", [
    ("llm_call_start:0", "start at 1"),
    ("llm_call_start:tokens>", "has no value to compare with"),
    ("llm_call_start:model=gpt", "neither a number nor a condition"),
    ("", "empty"),
])
def test_malformed_specs_say_what_a_spec_is(research, spec, words):
    message = str(refused(research, spec))
    assert words in message and "EVENT_TYPE:N" in message


def test_the_cli_refuses_before_anything_runs(research):
    done = subprocess.run([sys.executable, "-m", "analyzer.replay.stepping", research,
                           "--breakpoint", "tool_call_start", "--breakpoint", "tool:nope"],
                          capture_output=True, text=True, input="c\n", timeout=60)
    assert done.returncode == 2
    assert "no tool named 'nope'" in done.stderr and "save_note" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_catalog_without_captures_uses_the_profile_fields(tmp_path):
    trace = research_run(turns=2).to_jsonl(tmp_path / "old.jsonl")
    catalog = catalog_of(trace)
    assert {"usage", "tokens"} <= catalog.fields_of("llm_call_end")
    bps = parse_breakpoints(["llm_call_end:tokens>1000", "tool:search"], catalog)
    assert [bp.spec for bp in bps] == ["llm_call_end:tokens>1000", "tool:search"]


def test_catalog_from_dict_rows_reads_captures():
    rows = [dict(s, captures=["arguments", "return"]) if s["event_type"] == "tool_call"
            else dict(s, captures=[]) for s in SITES]
    catalog = Catalog.from_sites(rows)
    assert "arguments" in catalog.fields_of("tool_call_start")
    assert "output" in catalog.fields_of("tool_call_end")
    assert "arguments" not in catalog.fields_of("tool_call_end")
    assert catalog.names("tool") == ["search"]
    assert catalog.site_ids("tool_call_start") == {5}
