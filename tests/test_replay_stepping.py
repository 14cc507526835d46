"""Stepping through a record: the reason first, every format, damaged files, both cores."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest

from analyzer.replay.debugger import DebugIO
from analyzer.replay.stepping import main, step_through
from n3core.tracing import core
from n3core.tracing.reader import open_trace
from support.trace_factory import research_run
from support.traced_runs import read_events

PAUSE = re.compile(r"^-- (?:breakpoint|step)[^\n]*--\n#(\d+) ", re.M)


def run(trace, commands, *specs, step=False, **kw):
    out = io.StringIO()
    result = step_through(trace, list(specs), step, DebugIO.scripted(commands, out), **kw)
    return out.getvalue(), result


def stepping_cli(*args, stdin="", env=None):
    return subprocess.run([sys.executable, "-m", "analyzer.replay.stepping", *map(str, args)],
                          capture_output=True, text=True, input=stdin, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def trace(tmp_path):
    return research_run(turns=4).to_n3t(tmp_path / "run.n3t")


def test_it_says_first_why_it_steps_rather_than_replays(trace):
    text, _ = run(trace, "", reason="no build folder was found for this trace")
    first = text.splitlines()[0]
    assert first.startswith(f"Stepping through the recorded events of {trace} instead of "
                            "re-executing the run: no build folder was found for this trace.")
    assert "nothing runs again" in first


def test_without_pauses_every_event_is_walked(trace):
    _, events = read_events(trace)
    text, result = run(trace, "")
    assert result.events == len(events) and result.pauses == 0 and not result.quit
    assert f"end of the record: {len(events)} events, 0 pauses" in text


def test_events_never_built_are_still_listed(tmp_path):
    trace = research_run(turns=6).to_n3t(tmp_path / "small-chunks.n3t",
                                         config={"chunk_events": 8})
    with open_trace(trace) as t:
        assert sum(1 for _ in t.batches()) > 3
    _, events = read_events(trace)
    at = [i for i, e in enumerate(events) if e[1].event_type == "tool_call"
          and e[0] == "start"][4]
    text, _ = run(trace, "e 6\n", "tool_call_start:5")
    listed = re.findall(r"^[> ] #(\d+) (\w+) ", text, re.M)
    assert [int(i) for i, _ in listed] == list(range(at - 5, at + 1))
    suffix = {"start": "_start", "end": "_end", "error_end": "_end", "instant": ""}
    assert [t for _, t in listed] == [events[i][1].event_type + suffix[events[i][0]]
                                      for i in range(at - 5, at + 1)]


def test_where_follows_open_spans_across_chunks(tmp_path):
    trace = research_run(turns=6).to_n3t(tmp_path / "t.n3t", config={"chunk_events": 4})
    text, _ = run(trace, "w\n", "llm_call_start:6")
    where = text.split("(replay) w")[1]
    assert re.findall(r"#(\d) (\w+) (\w+) at", where) == [
        ("0", "chain_execution", "research"), ("1", "agent_execution", "Researcher"),
        ("2", "agent_turn", "Researcher"), ("3", "llm_call", "gpt")]


def test_a_jsonl_trace_of_the_earlier_debugger(tmp_path):
    trace = research_run(turns=3).to_jsonl(tmp_path / "old.jsonl")
    text, result = run(trace, "p arguments.q\nc\nc\nc\n", "tool:search")
    assert len(PAUSE.findall(text)) == 4  # three turns and the failing call
    assert "arguments.q = query 0" in text
    assert result.events == len(open(trace).read().splitlines())


def test_a_folder_means_its_newest_trace(tmp_path):
    trace = research_run(turns=2).to_n3t(tmp_path / "traces" / "a.n3t")
    os.symlink(os.path.basename(trace), tmp_path / "traces" / "trace_latest")
    text, _ = run(str(tmp_path / "traces"), "")
    assert f"recorded events of {trace}" in text


def test_a_torn_trace_is_stepped_up_to_the_damage_and_says_so(tmp_path):
    trace = research_run(turns=6).to_n3t(tmp_path / "t.n3t", config={"chunk_events": 8})
    data = open(trace, "rb").read()
    open(trace, "wb").write(data[: len(data) * 2 // 3])
    with open_trace(trace) as t:
        readable = sum(len(b) for b in t.batches())
    text, result = run(trace, "")
    assert result.events == readable > 0
    assert "WARNING: the trace is damaged" in text


def test_the_entry_point(trace):
    done = stepping_cli(trace, "--step", stdin="s\ns\nq\n")
    assert done.returncode == 0, done.stderr
    assert [int(n) for n in PAUSE.findall(done.stdout)] == [0, 1, 2]
    assert "quit at event #2" in done.stdout


@pytest.mark.parametrize("name", ["missing.n3t", "not-a-trace.txt"])
def test_bad_traces_are_one_paragraph_and_exit_2(tmp_path, capsys, name):
    (tmp_path / "not-a-trace.txt").write_text("hello\n")
    assert main([str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1


def test_both_reader_cores_step_alike(trace):
    outputs = []
    for name in core.available():
        done = stepping_cli(trace, "-b", "llm_call_end:tokens>1101", "-b", "error_occurred",
                            stdin="p usage\nw\ne 4\nc\nc\nc\np message\nc\n",
                            env={"N3TRACE_CORE": name})
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert len(PAUSE.findall(outputs[0])) == 4  # turns 1..3 exceed 1101 tokens, the error
    assert "message = search timed out" in outputs[0]
    assert all(out == outputs[0] for out in outputs)
