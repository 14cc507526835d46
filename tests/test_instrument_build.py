"""Instrumented builds end to end, and the proof that plain builds carry no tracing at all."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from n3instrument.build import build
from support.openai_server import chat, openai_server  # noqa: F401 - fixture
from support.traced_runs import read_events, traced_run

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
RESEARCH = EXAMPLES / "research_agent" / "app.ai"
RETRY = EXAMPLES / "structured_retry" / "app.ai"


def test_plain_build_is_byte_identical_to_a_compiler_without_the_pass(tmp_path):
    build(RESEARCH, tmp_path / "plain")
    script = textwrap.dedent(f"""
        import sys
        sys.modules["n3instrument.instrument"] = None   # the pass cannot even be imported
        sys.modules["libcst"] = None
        from n3instrument.build import build
        build({str(RESEARCH)!r}, {str(tmp_path / "nopass")!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    for name in ("program.py", "__main__.py", "manifest.json", "tools.py"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "nopass" / name).read_bytes()
    # the program's own tool module is copied; nothing of the pass is added
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [
        "__main__.py", "manifest.json", "program.py", "tools.py"]


def test_plain_build_imports_no_tracing_module(tmp_path):
    build(RESEARCH, tmp_path / "plain")
    script = textwrap.dedent(f"""
        import runpy, sys
        sys.argv = ["app", "--agent", "ResearchAgent", "--input", "Research quantum error correction"]
        try:
            runpy.run_path({str(tmp_path / "plain")!r}, run_name="__main__")
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        loaded = [m for m in sys.modules if m.startswith(("n3core.tracing", "n3instrument", "analyzer", "libcst", "lark"))]
        print("LOADED", loaded)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NAMEL3SS_DEBUG_ENABLED": "true"})
    assert done.returncode == 0, done.stderr
    assert "surface codes" in done.stdout
    assert "LOADED []" in done.stdout


def test_runtime_source_contains_no_tracing_code():
    offenders = []
    for path in (ROOT / "n3core" / "runtime").rglob("*.py"):
        text = path.read_text()
        for needle in ("n3core.tracing", "from ..tracing", "import tracing", "_n3__"):
            if needle in text:
                offenders.append(f"{path.name}: {needle}")
    assert offenders == []


def test_traced_agent_run_records_every_event_it_exercises(tmp_path):
    done, trace = traced_run(tmp_path, RESEARCH, "--agent", "ResearchAgent", "--input",
                             "Research quantum error correction")
    assert done.returncode == 0, done.stderr
    assert "surface codes" in done.stdout
    assert (trace.stat().st_mode & 0o777) == 0o600
    sites, events = read_events(trace)
    types = {site.event_type for _, site, *_ in events}
    assert {"app_load", "agent_execution", "agent_turn", "llm_call", "tool_call", "memory_operation"} <= types
    turns = [e for e in events if e[1].event_type == "agent_turn" and e[0] == "start"]
    assert [e[4]["turn"] for e in turns] == [1, 2, 3]
    tool_starts = [e for e in events if e[1].event_type == "tool_call" and e[0] == "start"]
    assert [e[1].name for e in tool_starts] == ["search", "save_note"]
    spans = {e[2]: e for e in events if e[0] == "start"}
    for tool in tool_starts:  # a tool call nests under the turn that asked for it
        assert spans[tool[3]][1].event_type == "agent_turn"
    agent_site = next(s for s in sites.values() if s.event_type == "agent_execution" and s.name == "ResearchAgent")
    decl_line = next(i for i, line in enumerate(RESEARCH.read_text().splitlines(), 1) if line.startswith("agent ResearchAgent"))
    assert (agent_site.line, agent_site.column) == (decl_line, 1)
    llm_end = next(e for e in events if e[1].event_type == "llm_call" and e[0] == "end")
    assert llm_end[4]["usage"]["total_tokens"] > 0


def test_traced_chain_records_the_failed_validation_and_its_retry(tmp_path):
    done, trace = traced_run(tmp_path, RETRY, "--input", json.dumps({"review": "Great battery."}))
    assert done.returncode == 0, done.stderr
    _, events = read_events(trace)
    validations = [e[0] for e in events if e[1].event_type == "validation" and e[0] != "start"]
    assert validations == ["error_end", "end"]
    errors = [e[4] for e in events if e[1].event_type == "error_occurred"]
    assert len(errors) == 1 and errors[0]["type"] == "n3core.runtime.errors.OutputValidationError"
    assert errors[0]["code"] == "OUTPUT_VALIDATION_ERROR"
    assert "error[" not in errors[0]["message"] and "app.ai" not in errors[0]["message"]
    types = {e[1].event_type for e in events}
    assert {"chain_execution", "chain_step", "prompt_execution", "llm_call"} <= types


def test_filters_leave_other_components_uninstrumented(tmp_path):
    out = tmp_path / "b"
    build(RESEARCH, out, instrument=True, filters=("agent",))
    rows = json.loads((out / "sites.json").read_text())["sites"]
    assert {row["component"] for row in rows} == {"runtime", "agent"}
    assert "_n3__hooks.enter" not in (out / "_n3_runtime" / "llm.py").read_text()
    assert "_n3__hooks.enter" in (out / "_n3_runtime" / "agent.py").read_text()


def test_secrets_never_reach_the_trace(tmp_path, openai_server):
    key = "sk-test-0123456789abcdef-secret"
    source = tmp_path / "secret.ai"
    source.write_text(textwrap.dedent(f"""
        llm remote {{
          provider: "openai"
          model: "gpt-test"
          base_url: "{openai_server.url}"
          api_key: env("N3_TEST_OPENAI_KEY")
        }}
        agent helper {{ llm: remote }}
    """))
    openai_server.script(chat("the answer", usage=(5, 2)))
    done, trace = traced_run(tmp_path, source, "--agent", "helper", "--input", f"echo {key} please",
                             env={"N3_TEST_OPENAI_KEY": key})
    assert done.returncode == 0, done.stderr
    assert openai_server.chat_requests(), "the provider really called the server"
    data = trace.resolve().read_bytes()
    assert key.encode() not in data
    assert b"the answer" in data and b"[REDACTED]" in data


def test_debug_trace_applies_its_flags_and_prints_a_summary(tmp_path):
    out = tmp_path / "run.n3t"
    done = subprocess.run(
        [sys.executable, "-m", "n3instrument.cli", "debug", "trace", str(RESEARCH), "--filter", "agent",
         "--filter", "llm", "--policy", "drop", "--buffer-size", "64", "--no-performance",
         "--agent", "ResearchAgent", "--input", "Research quantum error correction", "-o", str(out)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "NAMEL3SS_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr
    assert f"trace written to {out}" in done.stderr
    assert "3 llm calls" in done.stdout
    from n3core.tracing.reader import open_trace

    with open_trace(str(out)) as trace:
        assert trace.header.config["policy"] == "drop"
        assert trace.header.config["buffer_size"] == 64
        assert trace.header.metadata["capture_performance"] is False
        components = {trace.header.sites[0].component} | {s.component for s in trace.header.sites}
        types = {site.event_type for site in trace.header.sites if site.id < 0xFFFF00}
    assert components >= {"agent", "llm"} and "tool" not in components
    assert "tool_call" not in types


def test_debug_trace_refuses_an_unknown_filter(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "n3instrument.cli", "debug", "trace", str(RESEARCH), "--filter", "agents"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "--filter 'agents' is not a component" in done.stderr and "Traceback" not in done.stderr


def test_a_traced_run_ends_with_a_performance_marker_unless_switched_off(tmp_path):
    done, trace = traced_run(tmp_path, RETRY, "--input", json.dumps({"review": "Great battery."}))
    assert done.returncode == 0, done.stderr
    _, events = read_events(trace)
    markers = [payload for _, site, *_, payload in events if site.event_type == "performance_marker"]
    assert len(markers) == 1 and markers[0]["name"] == "process"
    assert markers[0]["max_rss_bytes"] > 1_000_000 and markers[0]["wall_s"] > 0
    assert events[-1][1].event_type == "performance_marker"

    done, trace = traced_run(tmp_path, RETRY, "--input", json.dumps({"review": "Great battery."}),
                             env={"NAMEL3SS_DEBUG_CAPTURE_PERFORMANCE": "false"})
    _, events = read_events(trace)
    assert not [site for _, site, *_ in events if site.event_type == "performance_marker"]


def test_every_chain_step_has_its_own_site_with_its_source_line(tmp_path):
    source = tmp_path / "steps.ai"
    source.write_text(textwrap.dedent('''
        llm m { provider: "mock", responses: [ { match: ".*", reply: "noted" } ] }
        memory notes { type: "conversation", summarize_after: 2 }
        agent a { llm: m, memory: notes }
        prompt p { model: m, template: "say {{x}}", variables: ["x"] }
        chain twice { steps: "a -> a -> a" }
        chain mixed {
          steps: [
            { target: p, input: { x: "1" } }
            { parallel: [ { target: p, input: { x: "2" } }, { name: "named", target: p, input: { x: "3" } } ] }
            { kind: "template", template: "done" }
          ]
        }
    '''))
    for chain in ("twice", "mixed"):
        done, trace = traced_run(tmp_path, source, "--chain", chain, "--input", '"hello"')
        assert done.returncode == 0, done.stderr
        _, events = read_events(trace)
        steps = [site for kind, site, *_ in events if site.event_type == "chain_step" and kind == "start"]
        assert steps and all(site.name != "*" for site in steps), [s.name for s in steps]
        if chain == "twice":
            assert [s.name for s in steps] == ["twice.a", "twice.a_2", "twice.a_3"]
            assert "memory_summarization" in {site.event_type for _, site, *_ in events}
        else:
            assert sorted(s.name for s in steps) == sorted(
                ["mixed.p", "mixed.parallel", "mixed.p_2", "mixed.named", "mixed.template"])
            lines = {s.name: s.line for s in steps}
            text = source.read_text().splitlines()
            assert text[lines["mixed.named"] - 1].strip().startswith("{ parallel:")
