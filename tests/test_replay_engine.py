"""Record real runs, replay them in a subprocess with the network refused and no secrets."""
import json
import os
import shutil

import pytest

from tests.support.replay_programs import (EXAMPLES, QuoteAPI, n3analyze, record,
                                           record_briefing)


def _doc(done):
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("example, args", [
    ("research_agent", ["--agent", "ResearchAgent", "--input", "Research quantum error correction"]),
    ("structured_retry", ["--input", '{"review": "Great battery life, sharp screen."}']),
])
def test_examples_replay_identically_without_network_or_keys(tmp_path, example, args):
    trace = record(tmp_path, EXAMPLES / example / "app.ai", tmp_path / "run.n3t", *args,
                   extra_env={"OPENAI_API_KEY": "sk-test-not-needed"})
    done = n3analyze(tmp_path, "replay", trace, "--format", "json", guarded=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / "network-used").exists()
    doc = _doc(done)
    assert doc["verdict"] == "identical" and doc["first_divergence"] is None
    assert doc["boundaries"]["matched"] == doc["boundaries"]["recorded"] >= 2
    replayed = tmp_path / "run.replay.n3t"
    assert doc["replay_trace"] == str(replayed) and replayed.is_file()
    from n3core.tracing.reader import open_trace

    with open_trace(trace) as original, open_trace(replayed) as again:
        assert again.header.metadata["replay_of"] == original.header.run_id


def test_text_report_counts_the_matched_boundaries(tmp_path):
    trace = record(tmp_path, EXAMPLES / "structured_retry" / "app.ai", tmp_path / "r.n3t",
                   "--input", '{"review": "Great battery life."}')
    done = n3analyze(tmp_path, "replay", trace)
    assert done.returncode == 0, done.stderr
    assert "identical, 2 of 2 boundaries matched" in done.stdout


@pytest.fixture
def briefing_trace(tmp_path):
    """The briefing program recorded against a loopback API that is then stopped."""
    api = QuoteAPI()
    try:
        return record_briefing(tmp_path, api)
    finally:
        api.stop()


def test_http_python_parallel_and_latency_replay_identically_twenty_times(tmp_path, briefing_trace):
    source, trace = briefing_trace
    (source.parent / "stamptool.py").unlink()  # python tools are answered from the trace
    results = set()
    for i in range(20):
        done = n3analyze(tmp_path, "replay", trace, "--format", "json",
                         "--trace-out", tmp_path / f"again{i}.n3t", guarded=True)
        assert done.returncode == 0, done.stdout + done.stderr
        doc = _doc(done)
        assert doc["verdict"] == "identical", doc["first_divergence"]
        results.add((doc["boundaries"]["matched"], doc["boundaries"]["recorded"]))
    assert not (tmp_path / "network-used").exists()
    assert len(results) == 1 and next(iter(results))[0] >= 3


def test_replay_sleeps_no_mock_latency(tmp_path, briefing_trace):
    from n3core.tracing.reader import open_trace

    _, trace = briefing_trace
    done = n3analyze(tmp_path, "replay", trace, "--trace-out", tmp_path / "again.n3t", guarded=True)
    assert done.returncode == 0, done.stdout + done.stderr

    def llm_ns(path):
        spans = {}
        with open_trace(path) as t:
            llm = {s.id for s in t.header.sites if s.event_type == "llm_call"}
            for e in t.events():
                if e.site in llm:
                    spans.setdefault(e.span, []).append(e.ts)
        return [b - a for a, b in spans.values()]

    recorded, replayed = llm_ns(trace), llm_ns(tmp_path / "again.n3t")
    assert min(recorded) >= 30_000_000  # the mock slept latency_ms: 30
    assert max(replayed) < 30_000_000


def test_edited_template_diverges_at_the_prompt_llm_call_and_line(tmp_path):
    source = tmp_path / "app.ai"
    shutil.copy(EXAMPLES / "structured_retry" / "app.ai", source)
    trace = record(tmp_path, source, tmp_path / "r.n3t", "--input", '{"review": "Great battery life."}')
    text = source.read_text()
    source.write_text(text.replace("Score this product review", "Rate this product review"))
    done = n3analyze(tmp_path, "replay", trace, "--source", source, "--format", "json")
    assert done.returncode == 1, done.stderr
    first = _doc(done)["first_divergence"]
    assert first["verdict"] == "changed"
    assert first["key"] == ("chain:review#1 / chain_step:review.score#1 / "
                            "prompt:score_review#1 / llm_call:scorer_llm#1")
    llm_line = text[:text.index("llm scorer_llm")].count("\n") + 1
    assert first["where"] == f"{source}:{llm_line}:1"
    (row,) = [f for f in first["fields"] if f["field"] == "messages[1].content"]
    assert "-Score this product review" in "\n".join(row["diff"])
    assert "+Rate this product review" in "\n".join(row["diff"])
    done = n3analyze(tmp_path, "replay", trace, "--source", source)
    assert done.returncode == 1
    assert "CHANGED: chain:review#1" in done.stdout and "+Rate this product review" in done.stdout


def test_header_naming_a_missing_build_is_exit_2_and_runs_nothing(tmp_path):
    source = tmp_path / "app.ai"
    shutil.copy(EXAMPLES / "research_agent" / "app.ai", source)
    shutil.copy(EXAMPLES / "research_agent" / "tools.py", tmp_path / "tools.py")
    trace = record(tmp_path, source, tmp_path / "r.n3t", "--agent", "ResearchAgent",
                   "--input", "Research quantum error correction")
    source.unlink()
    shutil.rmtree(tmp_path / "cache")
    done = n3analyze(tmp_path, "replay", trace)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not a regular .ai file" in done.stderr and "--source" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r.replay.n3t").exists()


def test_header_pointing_at_a_changed_source_is_refused(tmp_path):
    source = tmp_path / "app.ai"
    shutil.copy(EXAMPLES / "structured_retry" / "app.ai", source)
    trace = record(tmp_path, source, tmp_path / "r.n3t", "--input", '{"review": "x"}')
    done = n3analyze(tmp_path, "replay", trace)
    assert done.returncode == 0, done.stdout + done.stderr  # the cached original build
    shutil.rmtree(tmp_path / "cache")
    source.write_text("# moved every line down\n" + source.read_text())
    done = n3analyze(tmp_path, "replay", trace)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "has changed since the trace was recorded" in done.stderr


def test_build_flag_checks_the_folder_shape(tmp_path):
    trace = record(tmp_path, EXAMPLES / "structured_retry" / "app.ai", tmp_path / "r.n3t",
                   "--input", '{"review": "x"}')
    (tmp_path / "notabuild").mkdir()
    done = n3analyze(tmp_path, "replay", trace, "--build", tmp_path / "notabuild")
    assert done.returncode == 2 and "no manifest.json" in done.stderr
