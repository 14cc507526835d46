"""The real one-file executable, built once per session, run where the source is absent."""
import json
import shutil
import subprocess

import pytest

from support.trace_factory import research_run

pytestmark = pytest.mark.frozen


def run(exe, args, cwd):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "NO_COLOR": "1"}
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_frozen_analyze_inspect_export(frozen, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    exe = elsewhere / "n3analyze"
    shutil.copy2(frozen, exe)
    trace = research_run().to_n3t(elsewhere / "run.n3t")
    proc = run(exe, ["analyze", "run.n3t", "--format", "json"], elsewhere)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"]["llm_calls"] == 8 and doc["tokens"]["by_llm"]
    proc = run(exe, ["inspect", "run.n3t", "--tree"], elsewhere)
    assert proc.returncode == 0 and "chain_execution" in proc.stdout
    proc = run(exe, ["export", "run.n3t", "--to", "perfetto", "-o", "p.json"], elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((elsewhere / "p.json").read_text())["traceEvents"]
    proc = run(exe, ["report", "run.n3t", "-o", "r.html"], elsewhere)
    assert proc.returncode == 0, proc.stderr
    page = (elsewhere / "r.html").read_text()
    assert '"llm_calls":8' in page and 'getElementById("n3-data")' in page and ".bar{" in page
    proc = run(exe, ["analyze", "nope.n3t"], elsewhere)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert trace


def test_frozen_otlp_file_and_endpoint(frozen, tmp_path):
    from support.otlp import attrs, read_json_lines, spans_of
    from support.otlp_receiver import Receiver

    exe = tmp_path / "n3analyze"
    shutil.copy2(frozen, exe)
    script = research_run()
    script.to_n3t(tmp_path / "run.n3t")
    proc = run(exe, ["export", "run.n3t", "--to", "otlp", "-o", "o.jsonl"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    spans = spans_of(read_json_lines(tmp_path / "o.jsonl"))
    assert len(spans) == len(script.spans)
    chat = [attrs(s) for s in spans if attrs(s).get("gen_ai.operation.name") == "chat"]
    assert chat and all(a["gen_ai.usage.input_tokens"] > 0 for a in chat)
    with Receiver() as receiver:
        proc = run(exe, ["export", "run.n3t", "--to", "otlp", "--endpoint", receiver.url],
                   tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(s.span_id for s in spans_of(receiver.requests)) == sorted(s.span_id for s in spans)
