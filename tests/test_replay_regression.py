"""Traces as regression tests (`replay --check`, the pytest plugin), `diff`, and traces
whose recorded answers were hand-edited into something no run records."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.replay_programs import ROOT, env, n3analyze, record, record_example
from tests.support.trace_edit import rewrite

REVIEW = '{"review": "Great battery life."}'
PROMPT_KEY = "chain:review#1 / chain_step:review.score#1 / prompt:score_review#1"
LLM_KEY = PROMPT_KEY + " / llm_call:scorer_llm#1"


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """traces/: two runs that still replay, and one whose program's template was edited
    since (same site table): the header's source is replayed as it is now, not the cached
    build of its old text, and diverges."""
    tmp = tmp_path_factory.mktemp("regression")
    folder = tmp / "traces"
    folder.mkdir()
    record_example(tmp, "structured_retry", "review", folder / "a-review.n3t", "--input", REVIEW)
    record_example(tmp, "research_agent", "research", folder / "b-research.n3t",
                   "--agent", "ResearchAgent", "--input", "Research quantum error correction")
    edited, _ = record_example(tmp, "structured_retry", "edited", folder / "c-edited.n3t",
                               "--input", REVIEW)
    edited.write_text(edited.read_text().replace("Score this product review",
                                                 "Rate this product review"))
    return tmp, folder, edited


def test_check_a_folder_names_the_divergent_trace(traces):
    tmp, folder, edited = traces
    done = n3analyze(tmp, "replay", "--check", folder)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"matched  {folder / 'a-review.n3t'}  (2 boundaries)")
    assert lines[1].startswith(f"matched  {folder / 'b-research.n3t'}")
    assert lines[2] == f"diverged {folder / 'c-edited.n3t'}  changed at {LLM_KEY}, {edited}:5:1"
    done = n3analyze(tmp, "replay", "--check", folder / "a-review.n3t", folder / "b-research.n3t")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_with_fail_stops_at_the_first_divergent_trace(traces, tmp_path):
    tmp, folder, _ = traces
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(folder / "c-edited.n3t", mixed / "1.n3t")
    shutil.copy(folder / "a-review.n3t", mixed / "2.n3t")
    done = n3analyze(tmp, "replay", "--check", mixed, "--on-divergence", "fail")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"diverged {mixed / '1.n3t'}")
    assert lines[1] == "--on-divergence fail: 1 more trace not replayed"


TEST_PROJECT = '''
def test_traces(n3_replay):
    assert n3_replay.check("traces/") == 3
'''


@pytest.mark.parametrize("how", ["-p", "entry point"])
def test_the_pytest_plugin_fails_once_with_the_divergent_trace(traces, how):
    tmp, folder, edited = traces
    project = tmp / f"project-{how.replace(' ', '-')}"
    project.mkdir()
    shutil.copytree(folder, project / "traces")
    (project / "test_traces.py").write_text(TEST_PROJECT)
    extra = {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_traces.py"]
    if how == "-p":
        extra["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        command[3:3] = ["-p", "analyzer.replay.plugin"]
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300,
                          env=env(tmp, **extra))
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed" in out
    assert "TraceReplayFailed: 1 of 3 traces diverged" in out
    assert f"CHANGED: {LLM_KEY}" in out and f"at {edited}:5:1" in out
    assert "+Rate this product review" in out
    assert "a-review.n3t" not in out.split("TraceReplayFailed", 1)[1].split("short test")[0]


def test_diff_of_a_trace_and_its_replay_after_an_edit(traces):
    tmp, folder, edited = traces
    trace = folder / "c-edited.n3t"
    replayed = tmp / "edited-live.n3t"
    done = n3analyze(tmp, "replay", trace, "--source", edited, "--on-divergence", "live",
                     "--trace-out", replayed)
    assert done.returncode == 1, done.stderr
    done = n3analyze(tmp, "diff", trace, replayed, "--format", "json")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert not doc["same"]
    first = doc["first_divergence"]
    assert first["verdict"] == "changed" and first["key"] == LLM_KEY
    (row,) = [f for f in first["fields"] if f["field"] == "messages[1].content"]
    assert "+Rate this product review from 0 to 1" in "\n".join(row["diff"])
    assert doc["a"]["run_id"] != doc["b"]["run_id"] and doc["b"]["entry"] == "chain:review"
    text = n3analyze(tmp, "diff", trace, replayed).stdout
    assert f"first divergence: changed {LLM_KEY}" in text
    assert "-Score this product review" in text and "+Rate this product review" in text
    same = n3analyze(tmp, "replay", folder / "a-review.n3t", "--trace-out", tmp / "same.n3t")
    assert same.returncode == 0
    done = n3analyze(tmp, "diff", folder / "a-review.n3t", tmp / "same.n3t")
    assert done.returncode == 0 and "same: 2 boundaries match, call for call" in done.stdout


def test_diff_of_two_runs_with_different_inputs(traces, tmp_path):
    tmp, _, _ = traces
    source, a = record_example(tmp_path, "structured_retry", "p", tmp_path / "a.n3t",
                               "--input", REVIEW)
    b = record(tmp_path, source, tmp_path / "b.n3t", "--input",
               '{"review": "The hinge broke after two days and support never answered."}')
    done = n3analyze(tmp_path, "diff", a, b, "--format", "json")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert [r["key"] for r in doc["changed"]] == [LLM_KEY, LLM_KEY[:-1] + "2"]
    assert not doc["added"] and not doc["removed"]
    (row,) = [f for f in doc["first_divergence"]["fields"] if f["field"] == "messages[1].content"]
    assert "+Score this product review from 0 to 1 and name its highlights: The hinge broke" \
           in "\n".join(row["diff"])
    (llm,) = [c for c in doc["components"] if c["component"] == "llm_call:scorer_llm"]
    assert llm["calls_a"] == llm["calls_b"] == 2
    assert llm["tokens_delta"] == llm["tokens_b"] - llm["tokens_a"] != 0
    text = n3analyze(tmp_path, "diff", a, b).stdout
    assert "changed (2):" in text and "llm_call:scorer_llm" in text


class Unencodable:
    """A value the encoder can keep only as its repr."""

    def __repr__(self):
        return "<Unencodable>"


@pytest.mark.parametrize("component, kind, replace, problem", [
    ("llm", "end", lambda p: "not a mapping", "expected an object, found str"),
    ("llm", "end", lambda p: {**p, "tool_calls": "search"}, "field 'tool_calls' should be list"),
    ("tool", "end", lambda p: {"output": Unencodable()}, "was recorded as its repr only"),
])
def test_malformed_recorded_answers_are_refused_before_anything_runs(
        traces, tmp_path, component, kind, replace, problem):
    tmp, folder, _ = traces
    done_edit = []

    def edit(site, k, payload):
        if site is not None and site.component == component and k.name == kind and not done_edit:
            done_edit.append(site)
            return replace(payload)
        return payload

    hostile = rewrite(folder / "b-research.n3t", tmp_path / "hostile.n3t", edit)
    assert done_edit
    out = tmp_path / "hostile.replay.n3t"
    done = n3analyze(tmp, "replay", hostile, "--trace-out", out)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is malformed: " in done.stderr and problem in done.stderr
    assert "Nothing was run." in done.stderr and "Traceback" not in done.stderr
    assert not os.path.exists(out)  # no tracer started, no build loaded
