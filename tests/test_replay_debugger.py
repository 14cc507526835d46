"""Every debugger command, driven by scripted stdin over real traces and by hand-made events."""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest

from analyzer.replay.breakpoints import parse_breakpoints
from analyzer.replay.debugger import Debugger, DebugIO, QuitReplay
from analyzer.replay.events import Catalog, ReplayEvent
from analyzer.replay.stepping import step_through
from support.trace_factory import SITES, research_run
from support.traced_runs import read_events, traced_run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
APP = EXAMPLES / "research_agent" / "app.ai"
PAUSE = re.compile(r"^-- (?:breakpoint|step)[^\n]*--\n#(\d+) ", re.M)


@pytest.fixture(scope="module")
def research(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("research")
    done, trace = traced_run(tmp, APP, "--agent", "ResearchAgent", "--input",
                             "Research quantum error correction")
    assert done.returncode == 0, done.stderr
    return str(trace.resolve())


@pytest.fixture(scope="module")
def events(research):
    return read_events(research)[1]


def session(trace, commands, *specs, step=False):
    out = io.StringIO()
    result = step_through(trace, list(specs), step, DebugIO.scripted(commands, out))
    return out.getvalue(), result


def first(events, event_type, kind="start", n=1):
    found = [i for i, e in enumerate(events) if e[1].event_type == event_type and e[0] == kind]
    return found[n - 1]


def source_line(n: int) -> str:
    return APP.read_text().splitlines()[n - 1]


def test_a_pause_shows_the_event_its_payload_and_the_source_line(research, events):
    text, _ = session(research, "", "llm_call_start")
    at = first(events, "llm_call")
    site = events[at][1]
    assert f"-- breakpoint 1 (llm_call_start) --\n#{at} llm_call_start llm:research_llm at " \
           f"{site.file}:{site.line}:{site.column}" in text
    assert '  model: "mock-research-1"' in text
    assert "more characters: p payload.tools)" in text  # a long value is cut, with how to see it
    highlighted = [line for line in text.splitlines() if line.startswith(">")]
    assert highlighted == [f"> {site.line:5d} | {source_line(site.line)}"]
    assert "end of commands: continuing to the end without pausing" in text
    assert text.count("-- breakpoint") == 1  # EOF: no pause after the commands ran out


def test_step_pauses_at_every_event(research, events):
    text, result = session(research, "s\n" * (len(events) + 5), step=True)
    assert [int(n) for n in PAUSE.findall(text)] == list(range(len(events)))
    assert result.pauses == len(events) and result.events == len(events)


def test_next_steps_over_a_spans_inside(research, events):
    turn = first(events, "agent_turn")
    span = events[turn][2]
    end = next(i for i, e in enumerate(events) if e[2] == span and e[0] != "start")
    text, _ = session(research, "n\nc\n", "agent_turn_start:1")
    assert [int(n) for n in PAUSE.findall(text)] == [turn, end]
    # From an end, next goes to the following event at the same level (the next turn).
    text, _ = session(research, "n\nn\nq\n", "agent_turn_start:1")
    assert [int(n) for n in PAUSE.findall(text)] == [turn, end, first(events, "agent_turn",
                                                                      n=2)]


def test_step_into_stops_at_the_very_next_event(research, events):
    turn = first(events, "agent_turn")
    text, _ = session(research, "s\ns\nc\n", "agent_turn_start:1")
    assert [int(n) for n in PAUSE.findall(text)] == [turn, turn + 1, turn + 2]


def test_continue_runs_to_the_next_breakpoint(research, events):
    text, result = session(research, "c\nc\n", "tool_call_start")
    expected = [i for i, e in enumerate(events) if e[1].event_type == "tool_call"
                and e[0] == "start"]
    assert [int(n) for n in PAUSE.findall(text)] == expected
    assert f"end of the record: {len(events)} events, 2 pauses" in text
    assert not result.quit


def test_print_fields_paths_and_the_whole_payload(research, events):
    at = first(events, "llm_call")
    payload = events[at][4]
    text, _ = session(research, "p model\np messages.0.role\np params.temperature\n"
                                "p name\np kind\np payload.model\np\np nothere\n",
                      "llm_call_start:1")
    assert "model = mock-research-1" in text
    assert f"messages.0.role = {payload['messages'][0]['role']}" in text
    assert "params.temperature = 0.2" in text
    assert "name = research_llm" in text and "kind = start" in text
    assert "payload.model = mock-research-1" in text
    assert '"provider": "mock"' in text  # p alone: the whole payload, pretty-printed
    assert payload["messages"][0]["content"].splitlines()[0] in text
    assert "no field 'nothere'" in text and "messages, model" in text


def test_print_tokens_at_an_llm_end(research, events):
    at = first(events, "llm_call", "end")
    total = events[at][4]["usage"]["total_tokens"]
    text, _ = session(research, "p tokens\np usage.total_tokens\n", "llm_call_end:1")
    assert f"tokens = {total}" in text and f"usage.total_tokens = {total}" in text


def test_where_shows_the_span_stack_with_source_lines(research, events):
    text, _ = session(research, "w\n", "llm_call_start:1")
    text = text.split("(replay) w")[1]
    frames = re.findall(r"^ *#(\d) (\w+) (\S+) at ", text, re.M)
    assert frames == [("0", "agent_execution", "ResearchAgent"),
                      ("1", "agent_turn", "ResearchAgent"), ("2", "llm_call", "research_llm")]
    agent_line = events[first(events, "agent_execution")][1].line
    assert f"> {agent_line:5d} | {source_line(agent_line)}" in text
    assert "agent ResearchAgent {" in source_line(agent_line)
    text, _ = session(research, "w\n", "app_load_start")
    assert "#0 app_load Research Assistant" in text


def test_events_lists_the_last_events(research, events):
    at = first(events, "llm_call", n=2)
    text, _ = session(research, "e 3\ne\ne x\n", "llm_call_start:2")
    listed = [int(n) for n in re.findall(r"^[> ] #(\d+) ", text, re.M)]
    assert listed[:3] == [at - 2, at - 1, at]
    assert listed[3:] == list(range(at - 9, at + 1))
    lines = [line for line in text.splitlines() if line.startswith("> #")]
    assert len(lines) == 2 and lines[0].startswith(f"> #{at} llm_call_start llm:research_llm")
    assert f"  #{at - 1} {events[at - 1][1].event_type}_start" in text
    assert "e takes a count of events, such as e 5, not 'x'" in text


def test_break_adds_lists_and_refuses(research, events):
    text, _ = session(research, "b\nb tool:save_note\nb tool:nope\nb\nc\nc\n", "app_load_start")
    assert "1: app_load_start" in text
    assert "breakpoint 2: tool:save_note" in text
    assert "no tool named 'nope'" in text and "save_note, search" in text
    assert "2: tool:save_note" in text
    note = next(i for i, e in enumerate(events) if e[1].name == "save_note" and e[0] == "start")
    assert [int(n) for n in PAUSE.findall(text)] == [0, note]


def test_a_breakpoint_added_later_counts_from_when_it_is_set(research, events):
    second_start = first(events, "llm_call", n=2)
    text, _ = session(research, "b llm_call_start:1\nc\nc\n", "llm_call_start:1")
    assert [int(n) for n in PAUSE.findall(text)] == [first(events, "llm_call"), second_start]


def test_quit_stops_the_walk(research, events):
    at = first(events, "tool_call")
    text, result = session(research, "q\n", "tool_call_start")
    assert result.quit and result.events == at + 1
    assert f"quit at event #{at}" in text
    assert "end of the record" not in text


def test_help_and_unknown_commands(research):
    text, _ = session(research, "h\n?\nfrobnicate now\n", "app_load_start")
    for word in ("n/next", "s/step", "c/continue", "p/print", "w/where", "e/events", "b/break",
                 "q/quit", "h/help"):
        assert word in text
    assert text.count("p FIELD: a field or dotted path") == 2
    assert "unknown command 'frobnicate'. Commands: n/next, s/step" in text


def test_long_forms_and_comments(research, events):
    text, result = session(research, "# a comment\n\nprint model\nwhere\nevents 2\nstep\n"
                                     "next\ncontinue\n", "llm_call_start:1")
    at = first(events, "llm_call")
    assert "model = mock-research-1" in text and "#2 llm_call research_llm" in text
    assert [int(n) for n in PAUSE.findall(text)] == [at, at + 1, at + 2]
    assert "unknown command" not in text and not result.quit


def _event(index, site=4, kind="start", payload=None, stack=(("llm_call", "gpt", "app.ai:3:1"),)):
    s = next(r for r in SITES if r["id"] == site)
    types = {"start": "_start", "end": "_end", "error_end": "_end", "instant": ""}
    return ReplayEvent(index, s["event_type"] + types[kind], kind, site, s["component"],
                       s["name"], s["file"], s["line"], s["column"], index, 0, 0, 1000 + index,
                       payload, stack)


def test_the_debugger_as_replay_drives_it(tmp_path):
    source = tmp_path / "app.ai"
    source.write_text("\n".join(f"line {n}" for n in range(1, 11)) + "\n")
    catalog = Catalog.from_sites(SITES)
    out = io.StringIO()
    dbg = Debugger(parse_breakpoints(["llm_call_end:tokens>100"], catalog), False,
                   DebugIO.scripted("e\nc\nq\n", out), catalog=catalog,
                   trace_path=str(tmp_path / "run.n3t"),
                   source_sha256=hashlib.sha256(source.read_bytes()).hexdigest())
    assert dbg.watched_sites() == frozenset({4, 8})  # both llms' sites
    dbg.on_event(_event(0, payload={"model": "m"}))
    dbg.on_event(_event(1, kind="end", payload={"usage": {"total_tokens": 50}}))
    dbg.on_event(_event(2, kind="end", payload={"usage": {"total_tokens": 150}}))
    text = out.getvalue()
    assert PAUSE.findall(text) == ["2"]
    assert ">     3 | line 3" in text  # the source read next to the trace
    assert "  #0 llm_call_start llm:gpt" in text and "> #2 llm_call_end" in text
    with pytest.raises(QuitReplay):
        dbg.on_event(_event(3, kind="end", payload={"usage": {"total_tokens": 999}}))


def test_watched_sites_follow_the_mode():
    catalog = Catalog.from_sites(SITES)
    dbg = Debugger(parse_breakpoints(["tool:search"], catalog), True,
                   DebugIO.scripted("c\n", io.StringIO()), catalog=catalog)
    assert dbg.watched_sites() is None  # stepping: every event is needed
    dbg.on_event(_event(0))
    assert dbg.watched_sites() == frozenset(catalog.components["tool"]["search"])


def test_a_missing_source_file_is_said_not_fatal(tmp_path):
    out = io.StringIO()
    dbg = Debugger([], True, DebugIO.scripted("", out), trace_path=str(tmp_path / "x.n3t"))
    dbg.on_event(_event(0))
    assert "(source app.ai:3 cannot be read here)" in out.getvalue()


def test_a_synthetic_trace_with_errors(tmp_path):
    trace = research_run(turns=2).to_n3t(tmp_path / "t.n3t")
    text, _ = session(trace, "p type\np message\nw\n", "error_occurred")
    assert "type = TimeoutError" in text and "message = search timed out" in text
    assert "#2 tool_call search at app.ai:12:1" in text
