"""The command line: exit codes, messages on bad input, plain and JSON output."""
import hashlib
import io
import json
import os

import pytest
from rich.console import Console

from analyzer import cli
from support.trace_factory import research_run
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("analyzer_core")


def run_cli(argv, capsys=None, color=False, err=None):
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=color, no_color=not color)
    code = cli.main(argv, console=console, err_console=Console(file=err or io.StringIO()))
    return code, out.getvalue()


@pytest.fixture
def trace(tmp_path):
    return research_run().to_n3t(tmp_path / "run.n3t")


def test_analyze_json_has_the_schema_and_slow_operations(trace):
    code, out = run_cli(["analyze", trace, "--format", "json"])
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == "1.1"
    assert doc["performance"]["slow_operations"][0]["event_type"] == "chain_execution"
    assert doc["trace"]["lossy"] is False


def test_plain_output_has_no_escape_codes(trace):
    code, out = run_cli(["analyze", trace])
    assert code == 0
    assert "\x1b[" not in out
    assert "Critical path" in out and "llm_call" in out


def test_no_color_env_is_honoured(trace, monkeypatch):
    from analyzer.console import make_console
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    console = make_console(buf)
    assert console.no_color
    code = cli.main(["analyze", trace, "--summary"], console=console)
    assert code == 0 and "\x1b[3" not in buf.getvalue() and "run " in buf.getvalue()


def test_inspect_event_shows_payload_and_source(tmp_path):
    text = "\n".join(f"line {i}" for i in range(1, 20)) + "\n"
    (tmp_path / "app.ai").write_text(text)
    trace = research_run().to_n3t(tmp_path / "run.n3t", metadata={
        "source_sha256": hashlib.sha256(text.encode()).hexdigest()})
    code, out = run_cli(["inspect", trace, "--event", "3", "--format", "json"])
    doc = json.loads(out)
    assert code == 0 and doc["site"]["event_type"] == "llm_call"
    assert doc["payload"]["model"] == "gpt-4o"
    assert [r["line"] for r in doc["source"] if r["current"]] == [3]
    code, out = run_cli(["inspect", trace, "--event", "3"])
    assert "> " in out and "line 3" in out


def test_inspect_views(trace):
    code, out = run_cli(["inspect", trace])
    assert code == 0 and "Researcher" in out
    code, out = run_cli(["inspect", trace, "--tool", "search", "--format", "json"])
    assert {r["name"] for r in json.loads(out)["spans"]} == {"search"}
    code, out = run_cli(["inspect", trace, "--errors-only", "--format", "json"])
    doc = json.loads(out)
    assert [s["error"]["type"] for s in doc["spans"]] == ["builtins.TimeoutError"] or \
        [s["error"]["type"] for s in doc["spans"]] == ["TimeoutError"]
    code, out = run_cli(["inspect", trace, "--tree"])
    assert code == 0 and "chain_execution" in out and "tool_call" in out


def check_bad(argv, capsys, *words):
    code, _ = run_cli(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    return err


def test_missing_file(capsys, tmp_path):
    check_bad(["analyze", str(tmp_path / "nope.n3t")], capsys, "no such file")


def test_not_a_trace(capsys, tmp_path):
    p = tmp_path / "x.n3t"
    p.write_bytes(b"hello world, not a trace")
    check_bad(["analyze", str(p)], capsys, "not a trace", str(p))


def test_empty_and_json_without_events(capsys, tmp_path):
    p = tmp_path / "e.n3t"
    p.write_bytes(b"")
    check_bad(["analyze", str(p)], capsys, "empty")
    p = tmp_path / "j.jsonl"
    p.write_text('{"hello": 1}\n')
    check_bad(["analyze", str(p)], capsys, "no trace events")


def test_newer_format_version(capsys, tmp_path, trace):
    data = bytearray(open(trace, "rb").read())
    data[8:10] = (99).to_bytes(2, "little")
    p = tmp_path / "new.n3t"
    p.write_bytes(bytes(data))
    check_bad(["analyze", str(p)], capsys, "newer", "upgrade")


def test_corrupt_header(capsys, tmp_path, trace):
    data = bytearray(open(trace, "rb").read())
    data[50] ^= 0xFF
    p = tmp_path / "bad.n3t"
    p.write_bytes(bytes(data))
    check_bad(["analyze", str(p)], capsys, "damaged header")


def test_truncated_trace_gives_partial_analysis_and_a_warning(capsys, tmp_path):
    script = research_run(turns=400)
    full = script.to_n3t(tmp_path / "full.n3t", config={"chunk_events": 64})
    data = open(full, "rb").read()
    p = tmp_path / "cut.n3t"
    p.write_bytes(data[: len(data) // 2])
    err = io.StringIO()
    code, out = run_cli(["analyze", str(p), "--format", "json"], err=err)
    assert code == 0
    doc = json.loads(out)
    assert doc["trace"]["damaged"] or not doc["trace"]["complete"]
    assert 0 < doc["trace"]["events"] < len(script.ops)
    assert "WARNING" in err.getvalue()


def test_unknown_component_name(capsys, trace):
    check_bad(["inspect", trace, "--agent", "Nobody"], capsys, "Nobody", "Researcher")


def test_event_out_of_range(capsys, trace):
    check_bad(["inspect", trace, "--event", "100000"], capsys, "only")


def test_bad_price_file(capsys, tmp_path, trace):
    p = tmp_path / "p.json"
    p.write_text("{not json")
    check_bad(["analyze", trace, "--prices", str(p)], capsys, "not valid JSON")


def test_bad_usage_is_exit_2(capsys, trace):
    assert run_cli(["analyze", trace, "--format", "xml"])[0] == 2
    assert run_cli(["frobnicate"])[0] == 2


def test_traces_folder_uses_trace_latest(tmp_path):
    folder = tmp_path / "traces"
    folder.mkdir()
    research_run(turns=2).to_n3t(folder / "a.n3t")
    research_run(turns=5).to_n3t(folder / "b.n3t")
    os.utime(folder / "a.n3t", (1, 1))
    code, out = run_cli(["analyze", str(folder), "--format", "json"])
    assert json.loads(out)["trace"]["path"].endswith("b.n3t")
    (folder / "trace_latest").write_text("a.n3t")
    code, out = run_cli(["analyze", str(folder), "--format", "json"])
    assert json.loads(out)["trace"]["path"].endswith("a.n3t")


def test_bugs_are_not_swallowed(monkeypatch, trace):
    import analyzer.analysis as analysis

    def boom(*a, **k):
        raise ZeroDivisionError("bug")
    monkeypatch.setattr(analysis, "analyze", boom)
    with pytest.raises(ZeroDivisionError):
        cli.main(["analyze", trace])


def test_register_mounts_the_commands():
    import click

    @click.group()
    def debug():
        pass
    cli.register(debug)
    assert set(debug.commands) == {"analyze", "inspect", "export", "report"}
