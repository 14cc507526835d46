"""The `namel3ss` command: exit codes, JSON output, errors without tracebacks."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from n3instrument import cli

ROOT = Path(__file__).parent.parent
RETRY = ROOT / "examples" / "structured_retry" / "app.ai"


def namel3ss(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "n3instrument.cli", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd, env={**os.environ, **(env or {})},
    )


def test_check_clean_program_exits_0():
    done = namel3ss("check", RETRY)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_check_with_errors_exits_1_with_location_and_caret(tmp_path):
    bad = tmp_path / "bad.ai"
    bad.write_text('llm m {\n  temperature = 0.5\n}\n')
    done = namel3ss("check", bad)
    assert done.returncode == 1
    assert f"{bad}:2:" in done.stderr
    assert "^" in done.stderr and "SYNTAX_ERROR" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_json_lists_every_diagnostic(tmp_path):
    bad = tmp_path / "bad.ai"
    bad.write_text('llm m {}\nagent a { llm: m, memory: missing }\nagent b { llm: m, memory: missing2 }\n')
    done = namel3ss("check", bad, "--format", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    lines = sorted(d["line"] for d in report["diagnostics"] if d["code"] == "UNDEFINED_REFERENCE")
    assert lines == [2, 3]


def test_missing_file_is_bad_usage_exit_2(tmp_path):
    done = namel3ss("check", tmp_path / "nope.ai")
    assert done.returncode == 2
    assert "no such file" in done.stderr


def test_run_json_output_and_cache(tmp_path):
    env = {"NAMEL3SS_CACHE_DIR": str(tmp_path / "cache")}
    args = ("run", RETRY, "--input", json.dumps({"review": "Great battery life."}), "--json")
    done = namel3ss(*args, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "Verdict: positive (0.92)"
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert namel3ss(*args, env=env).returncode == 0
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_run_unknown_entry_is_bad_usage(tmp_path):
    done = namel3ss("run", RETRY, "--chain", "nope", "--input", "{}", env={"NAMEL3SS_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "nope" in done.stderr and "Traceback" not in done.stderr


def test_run_failing_program_exits_1_with_one_paragraph(tmp_path):
    source = tmp_path / "fails.ai"
    source.write_text('llm m { provider: "mock", fail_on: "boom" }\n'
                      'prompt p { model: m, template: "boom {{x}}", variables: ["x"] }\n')
    done = namel3ss("run", source, "--prompt", "p", "--input", '{"x": 1}', env={"NAMEL3SS_CACHE_DIR": str(tmp_path / "c")})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "'m'" in done.stderr


def test_main_returns_codes_and_lets_bugs_propagate(monkeypatch, tmp_path):
    assert cli.main(["--help"]) == 0
    assert cli.main(["check", str(tmp_path / "missing.ai")]) == 2

    def broken(path):
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr("n3instrument.frontend.check_file", broken)
    source = tmp_path / "ok.ai"
    source.write_text('llm m { provider: "mock" }\n')
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["check", str(source)])
