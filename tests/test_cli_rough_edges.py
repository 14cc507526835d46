"""What a new user hits on the command lines: paths that cannot be written, missing
folders, short files, warnings, colour, locations, progress, --version, help texts, missing
input, JSON errors and small costs."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from rich.console import Console

from analyzer import cli, progress
from analyzer.console import make_console
from analyzer.render import usd
from n3instrument import cli as ncli
from n3instrument.instrument.profile import COMPONENTS
from support.trace_factory import research_run
from support.traced_runs import traced_run

EXAMPLES = Path(__file__).parent.parent / "examples"
REVIEW = EXAMPLES / "structured_retry" / "app.ai"


def tool(name, *args, cwd=None, env=None):
    """One of the installed command lines in a real subprocess."""
    code = {"n3analyze": "from analyzer.cli import main", "namel3ss": "from n3instrument.cli import main"}[name]
    return subprocess.run([sys.executable, "-c", f"import sys; {code}; sys.exit(main())", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **(env or {})})


def consoles(terminal=False):
    out, err = io.StringIO(), io.StringIO()
    return (Console(file=out, width=120, force_terminal=terminal),
            Console(file=err, width=120, force_terminal=terminal), out, err)


@pytest.fixture
def trace(tmp_path):
    return research_run(turns=3).to_n3t(tmp_path / "run.n3t")


def test_unwritable_outputs_are_one_paragraph_not_a_traceback(trace, tmp_path):
    done = tool("n3analyze", "export", trace, "--to", "perfetto", "-o", "/proc/nope.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: -o /proc/nope.json")
    done = tool("namel3ss", "build", REVIEW, "-o", "/proc/x", env={"NAMEL3SS_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: -o /proc/x") and done.stderr.count("\n") == 1


def test_missing_output_folders_are_created_by_every_command(trace, tmp_path):
    out = tmp_path / "new" / "dir" / "p.json"
    assert cli.main(["export", trace, "--to", "perfetto", "-o", str(out)],
                    console=consoles()[0], err_console=consoles()[1]) == 0
    assert json.loads(out.read_text())["traceEvents"]
    t = tmp_path / "other" / "dir" / "t.n3t"
    done = tool("namel3ss", "debug", "trace", REVIEW, "--input", '{"review": "ok"}', "-o", t,
                env={"NAMEL3SS_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert t.is_file()


def test_a_file_cut_inside_the_header_says_so(trace, tmp_path):
    short = tmp_path / "ten.n3t"
    short.write_bytes(Path(trace).read_bytes()[:10])
    done = tool("n3analyze", "analyze", short)
    assert done.returncode == 2
    assert "cut short" in done.stderr and "10 bytes" in done.stderr
    assert "should start with" not in done.stderr


def test_a_component_filter_on_a_trace_without_that_kind(tmp_path):
    done, trace = traced_run(tmp_path, REVIEW, "--input", '{"review": "ok"}')
    assert done.returncode == 0, done.stderr
    result = tool("n3analyze", "inspect", trace, "--agent", "Nope")
    assert result.returncode == 2
    assert "has no agent" in result.stderr and "*" not in result.stderr


def test_warnings_go_once_to_stderr_in_every_format(trace, tmp_path):
    torn = tmp_path / "torn.n3t"
    torn.write_bytes(Path(trace).read_bytes()[:-100])
    for argv in (["analyze", torn], ["analyze", torn, "--format", "json"], ["inspect", torn],
                 ["analyze", torn, "--summary"]):
        out_c, err_c, out, err = consoles()
        assert cli.main([str(a) for a in argv], console=out_c, err_console=err_c) == 0
        assert "WARNING" not in out.getvalue(), argv
        lines = [l for l in err.getvalue().splitlines() if l.startswith("WARNING")]
        assert lines and len(lines) == len(set(lines)), argv


def test_a_fallback_core_is_one_warning_through_the_console(trace):
    code = ("import sys; sys.modules['analyzer._pass'] = None; "
            "from analyzer.cli import main; sys.exit(main())")
    env = {k: v for k, v in os.environ.items() if k not in ("N3ANALYZE_CORE", "N3_CORE")}
    done = subprocess.run([sys.executable, "-W", "always", "-c", code, "analyze", trace, "--summary"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    warned = [l for l in done.stderr.splitlines() if "core" in l.lower()]
    assert len(warned) == 1 and warned[0].startswith("WARNING: "), done.stderr
    assert "CoreFallbackWarning" not in done.stderr and "warnings.warn" not in done.stderr
    assert "WARNING" not in done.stdout


def test_no_color_means_no_bold_or_italic(trace, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal, as far as rich can tell
    out = io.StringIO()
    console = make_console(out, width=120)
    assert console.is_terminal
    assert cli.main(["analyze", trace], console=console, err_console=make_console(io.StringIO())) == 0
    assert out.getvalue() and "\x1b[" not in out.getvalue()


def test_locations_are_relative_under_the_working_folder_and_never_cut(tmp_path):
    deep = tmp_path / ("a_rather_long_folder_name_" * 6) / "nested"
    deep.mkdir(parents=True)
    shutil.copy(REVIEW, deep / "app.ai")
    done, trace = traced_run(tmp_path, deep / "app.ai", "--input", '{"review": "ok"}')
    assert done.returncode == 0, done.stderr
    shown = tool("n3analyze", "inspect", trace, "--prompt", "score_review", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    flat = re.sub(r"\s+", "", shown.stdout)
    rel = os.path.relpath(deep / "app.ai", tmp_path)
    assert re.search(re.escape(rel) + r":\d+:\d+", flat), shown.stdout
    assert str(tmp_path) not in flat and "…" not in shown.stdout


def test_inspect_tree_and_export_show_progress_on_a_terminal_only(trace, tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    for terminal in (True, False):
        for argv, label in ((["inspect", trace, "--tree"], "inspecting trace"),
                            (["export", trace, "--to", "otlp", "-o", str(tmp_path / "o.jsonl")],
                             "exporting to otlp")):
            out_c, err_c, out, err = consoles(terminal)
            assert cli.main(argv, console=out_c, err_console=err_c) == 0
            assert (label in err.getvalue()) is terminal, (argv, terminal)


def test_versions():
    done = tool("n3analyze", "--version")
    assert done.returncode == 0 and re.fullmatch(r"n3analyze, version \d+\.\d+\.\d+\n", done.stdout)
    assert tool("namel3ss", "--version").stdout.split()[-1] == done.stdout.split()[-1]
    assert subprocess.run([sys.executable, "-m", "n3instrument", "--version"], capture_output=True,
                          text=True, timeout=60).returncode == 0


def _options(group, path=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _options(command, path + (name,))
            continue
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in ("help", "version"):
                yield " ".join(path + (name,)), param


def test_every_option_has_help_and_the_environment_is_named():
    from analyzer.cli import cli as acli

    missing = [f"{cmd} {p.opts[0]}" for group in (acli, ncli.cli) for cmd, p in _options(group)
               if not p.help]
    assert missing == []
    ahelp = tool("n3analyze", "--help").stdout
    nhelp = tool("namel3ss", "--help").stdout
    for var in ("N3ANALYZE_CORE", "N3TRACE_CORE", "NO_COLOR"):
        assert var in ahelp and var in nhelp
    for var in ("NAMEL3SS_DEBUG_ENABLED", "NAMEL3SS_DEBUG_OUTPUT_DIR", "NAMEL3SS_DEBUG_POLICY",
                "NAMEL3SS_DEBUG_OTLP_ENDPOINT", "NAMEL3SS_CACHE_DIR"):
        assert var in nhelp


def test_filter_help_and_error_list_the_same_components(tmp_path):
    listed = lambda text: re.findall(r"\b(?:%s)\b" % "|".join(COMPONENTS), text)
    for argv in (["build", "--help"], ["debug", "trace", "--help"]):
        help_text = tool("namel3ss", *argv).stdout
        line = re.search(r"--filter COMPONENT\s+(.*?)(?:\n\s*-|\Z)", help_text, re.S).group(1)
        assert sorted(set(listed(line))) == sorted(COMPONENTS), argv
    done = tool("namel3ss", "debug", "trace", REVIEW, "--filter", "nope",
                env={"NAMEL3SS_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert sorted(set(listed(done.stderr.split("use one of", 1)[1]))) == sorted(COMPONENTS)


def test_running_a_chain_without_input_is_bad_usage_naming_the_input(tmp_path):
    done = tool("namel3ss", "run", REVIEW, env={"NAMEL3SS_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert "chain 'review' needs an input" in done.stderr and "review" in done.stderr
    assert """--input '{"review": "..."}'""" in done.stderr


def test_json_mode_errors_are_json_on_stdout(tmp_path):
    missing = tmp_path / "missing.n3t"
    for argv in (["analyze", missing, "--format", "json"], ["inspect", missing, "--format=json"],
                 ["analyze", missing, "--format", "json", "--prices", tmp_path / "none.json"]):
        done = tool("n3analyze", *argv)
        assert done.returncode == 2
        doc = json.loads(done.stdout)
        assert set(doc) == {"error"} and doc["error"]["exit_code"] == 2
        assert doc["error"]["message"] and doc["error"]["message"] in done.stderr
    done = tool("n3analyze", "analyze", missing)
    assert done.returncode == 2 and done.stdout == ""


@pytest.mark.parametrize("value, shown", [
    (0, "$0"), (0.0000123, "$0.0000123"), (0.000400, "$0.000400"), (0.5, "$0.500"),
    (0.012345, "$0.0123"), (1.5, "$1.50"), (1234.567, "$1,234.57"),
])
def test_costs_keep_three_significant_digits(value, shown):
    assert usd(value) == shown
