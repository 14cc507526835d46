"""Traces written to hurt the analyzer: what they name, what they hold, what they hide.

Each test builds the hostile trace through the real writer (or writes the hostile JSON
line) and runs the real CLI entry point; expectations come from the trace's contents,
never from the analyzer's output.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os

import pytest
from rich.console import Console

from analyzer import cli
from support.trace_factory import MS, SITES, US, Script, research_run
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("analyzer_core")

APP = "\n".join(f"line {i}" for i in range(1, 40)) + "\n"
SHA = hashlib.sha256(APP.encode()).hexdigest()


def run(argv):
    """(exit code, stdout, stderr) of one command, in-process."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in argv], console=Console(file=out, width=120),
                    err_console=Console(file=err, width=120))
    return code, out.getvalue(), err.getvalue()


def run_json(argv) -> dict:
    code, out, err = run([*argv, "--format", "json"])
    assert code == 0, err
    return json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))


def sites_naming(path) -> list:
    return [dict(s, file=str(path)) if s["id"] == 4 else s for s in SITES]


# -- item 3: the files a trace names -----------------------------------------------------

def _event_3(tmp_path, file, metadata=None):
    trace = research_run().to_n3t(tmp_path / "t.n3t", sites=sites_naming(file),
                                  metadata=metadata or {"source_sha256": SHA})
    doc = run_json(["inspect", trace, "--event", "3"])
    assert doc["site"]["event_type"] == "llm_call"
    code, out, _ = run(["inspect", trace, "--event", "3"])
    assert code == 0
    return doc, out


def test_the_matching_source_file_is_shown(tmp_path):
    (tmp_path / "app.ai").write_text(APP)
    doc, out = _event_3(tmp_path, tmp_path / "app.ai")
    assert [r["text"] for r in doc["source"] if r["current"]] == ["line 3"]
    assert doc["source_not_shown"] is None and "line 3" in out


def test_a_file_with_another_hash_is_not_shown(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret-hash:19000:0:99999:7:::\n" * 5)
    doc, out = _event_3(tmp_path, secret)
    assert doc["source"] is None and "SHA-256 differs" in doc["source_not_shown"]
    assert "secret-hash" not in json.dumps(doc) and "secret-hash" not in out
    assert "source not shown" in out


@pytest.mark.skipif(not os.path.exists("/etc/shadow"), reason="no /etc/shadow here")
def test_etc_shadow_is_not_printed(tmp_path):
    doc, out = _event_3(tmp_path, "/etc/shadow")
    assert doc["source"] is None and "root:" not in out


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_device_is_never_read(tmp_path):
    doc, _ = _event_3(tmp_path, "/dev/zero")
    assert doc["source"] is None and "not a regular file" in doc["source_not_shown"]


def test_a_fifo_is_never_opened(tmp_path):
    fifo = tmp_path / "pipe.ai"
    os.mkfifo(fifo)  # opening it for reading without a writer would block forever
    doc, _ = _event_3(tmp_path, fifo)
    assert doc["source"] is None and "not a regular file" in doc["source_not_shown"]


def test_a_symlink_is_not_followed(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(64 << 20)  # sparse: 64 MiB of zeros that take no disk
    (tmp_path / "app.ai").symlink_to(big)
    doc, _ = _event_3(tmp_path, tmp_path / "app.ai")
    assert doc["source"] is None and "symbolic link" in doc["source_not_shown"]


def test_a_big_file_is_not_read(tmp_path):
    big = tmp_path / "app.ai"
    with open(big, "wb") as f:
        f.truncate(64 << 20)
    doc, _ = _event_3(tmp_path, big)
    assert doc["source"] is None and "larger than" in doc["source_not_shown"]


def test_without_a_recorded_hash_nothing_is_read(tmp_path):
    (tmp_path / "app.ai").write_text(APP)
    doc, _ = _event_3(tmp_path, tmp_path / "app.ai", metadata={"pid": 1})
    assert doc["source"] is None and "no source_sha256" in doc["source_not_shown"]


# -- item 7: payload values no output format can hold -------------------------------------

AWKWARD = {"big": 10**5000, (1, 2): "tuple key", "nan": math.nan, "inf": -math.inf,
           "deep": [[[[[[[[[[1]]]]]]]]]], frozenset({1}): "odd key", "lone": "\ud800x"}


def _awkward_trace(tmp_path):
    s = Script()
    c = s.enter(1, AWKWARD)
    s.wait(MS)
    s.exit(c, {"output": AWKWARD})
    return s.to_n3t(tmp_path / "awkward.n3t", config={"max_depth": 64})


def test_inspect_event_and_jsonl_export_carry_awkward_values(tmp_path):
    trace = _awkward_trace(tmp_path)
    doc = run_json(["inspect", trace, "--event", "0"])
    p = doc["payload"]
    assert p["big"] == "<integer of about 5001 digits>" and p["[1, 2]"] == "tuple key"
    assert p["nan"] == "NaN" and p["inf"] == "-Infinity" and p["lone"] == "\ufffdx"
    code, out, err = run(["inspect", trace, "--event", "1"])
    assert code == 0 and "tuple key" in out, err
    out_file = tmp_path / "out.jsonl"
    code, _, err = run(["export", trace, "--to", "jsonl", "-o", out_file])
    assert code == 0, err
    lines = [json.loads(line, parse_constant=pytest.fail) for line in out_file.open()]
    assert lines[0]["inputs"]["[1, 2]"] == "tuple key" and len(lines) == 2
    assert run_json(["analyze", out_file])["summary"]["spans"] == 1


def test_unusable_usage_and_model_fields_are_absent_with_one_warning(tmp_path):
    s = Script()
    c = s.enter(1)
    for usage, model in [({"prompt_tokens": math.nan, "completion_tokens": [3],
                           "total_tokens": 10**5000}, ["gpt-4o"]),
                         ({"prompt_tokens": math.inf, "completion_tokens": -4}, {"m": 1}),
                         ([1, 2], "gpt-4o"),
                         ({"prompt_tokens": 100, "completion_tokens": 10}, "gpt-4o")]:
        s.wait(US)
        s.span(4, MS, {"provider": "openai", "model": model},
               {"usage": usage, "model": model, "cost_estimate": math.nan})
    s.wait(US)
    t = s.enter(3, {"rss": math.nan})
    s.wait(US)
    s.exit(t, {"rss": 10**30})
    s.exit(c)
    trace = s.to_n3t(tmp_path / "t.n3t")
    doc = run_json(["analyze", trace])
    total = doc["tokens"]["total"]
    assert (total["calls"], total["prompt_tokens"], total["completion_tokens"]) == (4, 100, 10)
    assert total["total_tokens"] == 110 and total["models"] == ["gpt-4o"]
    warned = [w for w in doc["trace"]["warnings"] if "cannot use" in w]
    # 3 + 2 usage fields, the list usage, 2 list/dict models twice (start and end), 2 rss
    assert len(warned) == 1 and warned[0].startswith("12 recorded value(s)")
    assert doc["trace"]["lossy"] is False
    code, out, err = run(["analyze", trace])
    assert code == 0 and "cannot use" not in out and err.count("cannot use") == 1  # once, on stderr


# -- item 11: flight-recorder discards ----------------------------------------------------

def test_a_flight_recorder_trace_is_lossy_everywhere(tmp_path, capsys):
    trace = research_run(turns=20).to_n3t(tmp_path / "fr.n3t", config={
        "policy": "flight-recorder", "buffer_size": 16, "chunk_events": 8})
    doc = run_json(["analyze", trace])
    kept, discarded = doc["trace"]["events"], doc["trace"]["discarded"]
    assert discarded > 0 and kept < 24 and doc["trace"]["lossy"] and doc["summary"]["lossy"]
    assert any(f"discarded {discarded}" in w for w in doc["trace"]["warnings"])
    for argv in (["inspect", trace], ["inspect", trace, "--event", "2"],
                 ["inspect", trace, "--tree"], ["inspect", trace, "--errors-only"]):
        health = run_json(argv)["health"]
        assert health["lossy"] and health["discarded"] == discarded
        code, _, err = run(argv)
        assert code == 0 and f"discarded {discarded} older events" in err
    code, _, err = run(["analyze", trace, "--summary"])
    assert f"discarded {discarded} older events" in err
    code, _, err = run(["export", trace, "--to", "jsonl", "-o", tmp_path / "x.jsonl"])
    assert code == 0 and f"discarded {discarded}" in err


# -- item 12: one exception, one error ----------------------------------------------------

def test_an_exception_leaving_tool_step_and_chain_is_one_error(tmp_path):
    s = Script()
    chain = s.enter(1)
    for n in range(2):
        step = s.enter(9)
        s.wait(US)
        tool = s.enter(5, {"arguments": {"q": n}})
        s.wait(US)
        s.exit(tool, TimeoutError(f"slow {n}"), failed=True)
        s.exit(step, TimeoutError(f"slow {n}"), failed=True)
    s.exit(chain, TimeoutError("slow 1"), failed=True)
    trace = s.to_n3t(tmp_path / "t.n3t")
    doc = run_json(["analyze", trace])
    assert doc["summary"]["errors"] == 2 and doc["errors"]["total"] == 2
    assert doc["summary"]["failed_spans"] == 5
    assert doc["errors"]["by_component"] == [{"component": "tool", "name": "search", "count": 2}]


def test_an_error_event_and_the_spans_it_fails_are_one_error(tmp_path):
    s = Script()
    chain = s.enter(1)
    step = s.enter(9)
    tool = s.enter(5)
    s.wait(US)
    s.instant(7, {"type": "ValueError", "message": "bad", "stack": ""})
    s.exit(tool, ValueError("bad"), failed=True)
    s.exit(step, ValueError("bad"), failed=True)
    s.exit(chain, ValueError("bad"), failed=True)
    doc = run_json(["analyze", s.to_n3t(tmp_path / "t.n3t")])
    assert doc["errors"]["total"] == 1 and doc["errors"]["by_type"][0]["count"] == 1


# -- item 8: hostile JSON lines ------------------------------------------------------------

GOOD = {"event_type": "tool_call_start", "timestamp": 1_700_000_000.0, "execution_id": "r",
        "component": "tool", "component_name": "search", "event_id": "e1"}
END_LINE = {"event_type": "tool_call_end", "timestamp": 1_700_000_001.0, "event_id": "e1",
            "component": "tool", "component_name": "search", "duration_ms": 1000.0}
HOSTILE_LINES = [
    {**GOOD, "execution_id": ["a"], "event_id": ["e1"], "parent_id": {"x": 1}},
    {**GOOD, "timestamp": 1e23},
    {**GOOD, "timestamp": 1e400},
    {**END_LINE, "tokens_used": 1e400, "duration_ms": math.nan, "cost_estimate": math.inf},
    {**END_LINE, "tokens_used": {"total_tokens": math.nan}, "duration_ms": 1e400},
    {**GOOD, "source": {"file": ["x"], "line": "ten", "column": 1e400}},
    {**GOOD, "event_id": "\ud800", "component_name": "\udfff"},
    {**GOOD, "task_id": 2**70, "component": 5, "status": ["x"]},
    {**GOOD, "metadata": {"big": 10**400}, "inputs": [1, 2]},
    {**END_LINE, "error": 10**400, "status": "failed"},
    {**END_LINE, "timestamp": -1},  # before 1970: OTLP's times are unsigned
]


def _write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else
                     json.dumps(line, ensure_ascii=True)) + "\n")
    return path


@pytest.mark.parametrize("line", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
def test_a_hostile_json_line_is_validated(tmp_path, line):
    path = _write_lines(tmp_path / "t.jsonl", [GOOD, line, END_LINE])
    for argv in (["analyze", path], ["inspect", path], ["inspect", path, "--event", "1"],
                 ["inspect", path, "--tree"], ["inspect", path, "--errors-only"]):
        code, out, err = run(argv)
        assert code in (0, 2) and "Traceback" not in err, (argv, err)
        run_json(argv) if code == 0 else None
    for target in ("jsonl", "perfetto", "otlp"):
        code, _, err = run(["export", path, "--to", target, "-o", tmp_path / f"o.{target}"])
        assert code == 0, err


def test_a_deep_or_huge_line_is_a_bad_line(tmp_path):
    deep = '{"event_type": "x", "timestamp": 1, "m": ' + "[" * 20_000 + "]" * 20_000 + "}"
    path = _write_lines(tmp_path / "t.jsonl", [GOOD, deep, END_LINE, {**GOOD, "timestamp": 1e23}])
    doc = run_json(["analyze", path])
    assert doc["trace"]["events"] == 2 and doc["summary"]["spans"] == 1
    assert any("2 JSON line(s)" in w for w in doc["trace"]["warnings"])


def test_fields_of_the_wrong_type_are_dropped_and_counted(tmp_path):
    path = _write_lines(tmp_path / "t.jsonl", [HOSTILE_LINES[0], END_LINE])
    doc = run_json(["analyze", path])
    assert doc["summary"]["spans"] == 1 and doc["trace"]["run_id"] is None
    assert any(w.startswith("3 recorded value(s)") for w in doc["trace"]["warnings"])
