"""The command line of a build: entry.main exit codes, output, and error paragraphs."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from n3core import runtime as n3
from n3core.runtime import entry


def build_app():
    app = n3.App("Entry", source="/tmp/app.ai")
    app.llm("m", {"responses": [{"match": "boom", "reply": "x"}], "fail_on": "explode"},
            loc=n3.Loc("app.ai", 2, 1))
    app.prompt("p", {"model": n3.Ref("m"), "template": "{{topic}}", "variables": ["topic"],
                     "output": {"summary": "text"}}, loc=n3.Loc("app.ai", 4, 1))
    app.agent("helper", {"llm": n3.Ref("m")}, loc=n3.Loc("app.ai", 6, 1))
    app.chain("main", {"steps": [n3.Step({"name": "t", "kind": "template",
                                          "template": "topic={{input.topic}}"})]})
    app.chain("other", {"steps": [n3.Step({"name": "t", "target": n3.Ref("helper")},
                                           loc=n3.Loc("app.ai", 9, 5))]})
    return app


def run(capsys, *argv):
    code = entry.main(build_app(), list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_chain_with_json_input_prints_result(capsys):
    code, out, err = run(capsys, "--chain", "main", "--input", '{"topic": "tides"}')
    assert (code, out, err) == (0, "topic=tides\n", "")


def test_json_flag_prints_json(capsys):
    code, out, _ = run(capsys, "--prompt", "p", "--input", '{"topic": "t"}', "--json")
    assert code == 0 and set(json.loads(out)) == {"summary"}
    code, out, _ = run(capsys, "--chain", "main", "--input", '{"topic": 3}', "--json")
    assert code == 0 and json.loads(out) == "topic=3"


def test_structured_result_without_json_flag_is_pretty_json(capsys):
    code, out, _ = run(capsys, "--prompt", "p", "--input", '{"topic": "t"}')
    assert code == 0 and out.startswith("{\n") and "summary" in json.loads(out)


def test_agent_input_is_text(capsys):
    code, out, _ = run(capsys, "--agent", "helper", "--input", "say boom")
    assert (code, out) == (0, "x\n")


def test_run_args(capsys):
    code, out, _ = run(capsys, "--run-args", '{"input": {"topic": "r"}, "entry": "chain:main"}')
    assert (code, out) == (0, "topic=r\n")


@pytest.mark.parametrize("argv,fragment", [
    (["--chain", "main", "--input", "not json"], "must be JSON"),
    (["--chain", "nope", "--input", "{}"], "no chain named 'nope'"),
    ([], "no single default"),
    (["--run-args", "[1]"], "JSON object"),
    (["--run-args", "{bad"], "--run-args must be JSON"),
    (["--run-args", '{"entry": "x:y"}'], "must start with chain:"),
    (["--run-args", "{}", "--input", "{}"], "cannot be combined"),
])
def test_bad_usage_exits_2_with_one_paragraph(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert fragment in err and err.startswith("error[USAGE_ERROR]")
    assert "Traceback" not in err and err.count("\n") == 1


def test_argparse_errors_exit_2(capsys):
    code, _, err = run(capsys, "--chain", "a", "--agent", "b")
    assert code == 2 and "not allowed with" in err
    code, _, err = run(capsys, "--bogus")
    assert code == 2


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--run-args" in out


def test_program_failure_exits_1_naming_component_and_location(capsys):
    code, out, err = run(capsys, "--chain", "other", "--input", '"explode now"')
    assert code == 1 and out == ""
    assert err.startswith("error[PROVIDER_ERROR] in llm 'm' (app.ai:2:1):")
    assert "Fix:" in err and "Traceback" not in err


def test_failure_with_json_flag_prints_an_error_object(capsys):
    code, out, err = run(capsys, "--prompt", "p", "--input", "{}", "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["code"] == "TEMPLATE_ERROR" and error["name"] == "p"
    assert error["loc"] == "app.ai:4:1" and "topic" in error["message"]
    assert "TEMPLATE_ERROR" in err


def test_config_error_at_finalize_exits_1(capsys):
    app = n3.App(None)
    app.agent("a", {"llm": n3.Ref("missing")}, loc=n3.Loc("app.ai", 3, 1))
    code = entry.main(app, ["--agent", "a", "--input", "hi"])
    _, err = capsys.readouterr()
    assert code == 1 and "CONFIG_ERROR" in err and "app.ai:3:1" in err


def test_a_real_process_exits_with_the_right_code_and_no_traceback(tmp_path):
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent("""
        import sys
        from n3core import runtime as n3
        from n3core.runtime import entry

        app = n3.App("P", source=__file__)
        app.tool("t", {"type": "python", "function": "helpers:explode"},
                 loc=n3.Loc("app.ai", 3, 1))
        app.chain("c", {"steps": "t"})
        app.finalize()
        sys.exit(entry.main(app, sys.argv[1:]))
    """))
    (tmp_path / "helpers.py").write_text("def explode(input=None):\n    return 1 / 0\n")
    proc = subprocess.run([sys.executable, str(script), "--input", '"x"'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "error[TOOL_ERROR] in tool 't' (app.ai:3:1)" in proc.stderr
    assert "ZeroDivisionError" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, str(script), "--chain", "c", "--input", "{oops"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
