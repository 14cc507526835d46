"""What users see: the analyzer's tables, trees and JSON compared byte for byte with tests/gold.

Each case renders one command on a 100-column, colourless, non-terminal Console (what a pipe
gets) and compares stdout, and stderr when the case writes any, with a file under
tests/gold/analyzer/. The traces come from the trace factory with an injected clock, run id
and header metadata, so their bytes, timings and sizes are the same on every run; the test
runs in its tmp folder and passes relative paths, so no absolute path reaches the output.

A different or missing file fails with a unified diff. To accept new output, regenerate and
review the diff in git:

    N3_REGEN_GOLD=1 .venv/bin/python -m pytest tests/test_analyzer_gold.py
"""
from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import sys
from pathlib import Path

import pytest
from rich.console import Console

from analyzer import cli
from support.trace_factory import (FIXED_METADATA, VALIDATION_SITES, research_run,
                                   validation_retry_run)
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("analyzer_core")

GOLD = Path(__file__).parent / "gold" / "analyzer"
REGEN_ENV = "N3_REGEN_GOLD"
WIDTH = 100

# An .ai file long enough for every site line of the factory's SITES (3 to 31).
APP_AI = "\n".join(f"# app.ai line {n}" for n in range(1, 41)) + "\n"
# The build records the source's hash in the header; only a file that matches is shown.
METADATA = {**FIXED_METADATA, "source_sha256": hashlib.sha256(APP_AI.encode()).hexdigest()}

# The files each test regenerated in this session: both analysis cores render into the same
# gold file, so a regeneration where they disagree must fail rather than keep the last one.
_regenerated: dict = {}


def _regen() -> bool:
    return os.environ.get(REGEN_ENV, "") not in ("", "0")


def check_gold(name: str, actual: str) -> None:
    """Compare `actual` with tests/gold/analyzer/NAME byte for byte (or rewrite it)."""
    path = GOLD / name
    if _regen():
        if name in _regenerated and _regenerated[name] != actual:
            pytest.fail(f"{path}: two runs in this session rendered different output (the "
                        "analysis cores disagree?):\n" + _diff(_regenerated[name], actual, name))
        _regenerated[name] = actual
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    if not path.exists():
        pytest.fail(f"{path} is missing. Run with {REGEN_ENV}=1 to write it from the current "
                    "output, then read it and commit it.\nThe output was:\n" + actual)
    expected = path.read_bytes().decode("utf-8")
    if expected != actual:
        pytest.fail(f"output differs from {path} (--- expected, +++ actual; if the change is "
                    f"intended, rerun with {REGEN_ENV}=1 and review the diff):\n"
                    + _diff(expected, actual, name))


def check_no_gold(name: str, actual: str) -> None:
    """A stream that must stay empty: fails when it is not, or when a stale gold file says
    it once had content (regenerating removes that file)."""
    path = GOLD / name
    if _regen() and path.exists():
        path.unlink()
    assert actual == "", f"unexpected output (no {path} to compare with):\n{actual}"
    assert not path.exists(), f"{path} exists but the command wrote nothing there"


def _diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(expected.splitlines(keepends=True),
                                 actual.splitlines(keepends=True),
                                 f"gold/analyzer/{name}", "actual")
    return "".join(_visible(line) for line in lines)


def _visible(line: str) -> str:
    """A diff line with its trailing blanks marked (⏎ ends the line) and a missing final
    newline said, so a change in either is not invisible in the message."""
    body = line[:-1] if line.endswith("\n") else line
    if body.endswith((" ", "\t")) and not body.startswith(("---", "+++", "@@")):
        body += "⏎"
    return body + ("\n" if line.endswith("\n") else "\n\\ No newline at end of file\n")


def console(buf) -> Console:
    return Console(file=buf, width=WIDTH, color_system=None, force_terminal=False,
                   legacy_windows=False, emoji=False)


def render(argv, capsys) -> tuple:
    """(exit code, stdout, stderr): stderr is the err console plus what click echoed."""
    capsys.readouterr()
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, console=console(out), err_console=console(err))
    captured = capsys.readouterr()
    assert captured.out == "", "the analyzer printed around its console:\n" + captured.out
    return code, out.getvalue(), err.getvalue() + captured.err


# -- traces -------------------------------------------------------------------------------

def _research(folder: Path) -> str:
    return research_run().to_n3t(folder / "research.n3t", metadata=METADATA)


def _validation(folder: Path) -> str:
    return validation_retry_run().to_n3t(folder / "validation.n3t", sites=VALIDATION_SITES,
                                         metadata=METADATA)


def _damaged(folder: Path) -> str:
    full = research_run(turns=20).to_n3t(folder / "full.n3t", config={"chunk_events": 16},
                                          metadata=METADATA)
    data = Path(full).read_bytes()
    (folder / "damaged.n3t").write_bytes(data[: len(data) * 3 // 5])
    return "damaged.n3t"


def _jsonl(folder: Path) -> str:
    return research_run(turns=2).to_jsonl(folder / "debugger.jsonl")


TRACES = {"research": _research, "validation": _validation, "damaged": _damaged,
          "jsonl": _jsonl}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The tmp folder as working directory, with app.ai and every trace written into it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.ai").write_text(APP_AI, encoding="utf-8")
    for build in TRACES.values():
        build(tmp_path)
    return tmp_path


FILES = {"research": "research.n3t", "validation": "validation.n3t",
         "damaged": "damaged.n3t", "jsonl": "debugger.jsonl"}

# (gold name, trace, arguments after the trace): every view a user gets as a table.
CASES = [
    ("research_analyze", "research", ["analyze"]),
    ("research_analyze_performance_errors", "research", ["analyze", "--performance", "--errors"]),
    ("research_analyze_summary", "research", ["analyze", "--summary"]),
    ("research_inspect", "research", ["inspect"]),
    ("research_inspect_tree", "research", ["inspect", "--tree"]),
    ("research_inspect_errors_only", "research", ["inspect", "--errors-only"]),
    ("research_inspect_event_3", "research", ["inspect", "--event", "3"]),
    ("research_inspect_event_40", "research", ["inspect", "--event", "40"]),
    ("research_inspect_tool_limit", "research", ["inspect", "--tool", "search", "--limit", "4"]),
    ("validation_analyze", "validation", ["analyze"]),
    ("validation_inspect_tree", "validation", ["inspect", "--tree"]),
    ("validation_inspect_errors_only", "validation", ["inspect", "--errors-only"]),
    ("validation_inspect_event_6", "validation", ["inspect", "--event", "6"]),
    ("damaged_analyze", "damaged", ["analyze"]),
    ("damaged_analyze_summary", "damaged", ["analyze", "--summary"]),
    ("damaged_analyze_json_warning", "damaged", ["analyze", "--summary", "--format", "json"]),
    ("damaged_inspect", "damaged", ["inspect"]),
    ("jsonl_analyze", "jsonl", ["analyze"]),
    ("jsonl_inspect_tree", "jsonl", ["inspect", "--tree"]),
    ("jsonl_inspect_event_0", "jsonl", ["inspect", "--event", "0"]),
]


def _argv(trace: str, args: list) -> list:
    return [args[0], FILES[trace], *args[1:]]


@pytest.mark.parametrize("name,trace,args", CASES, ids=[c[0] for c in CASES])
def test_rendered_output_matches_gold(workdir, capsys, name, trace, args):
    code, out, err = render(_argv(trace, args), capsys)
    assert code == 0, err
    if "--format" in args:  # JSON on stdout: only its stderr warning is this case's gold
        json.loads(out)
        check_gold(f"{name}.stderr.txt", err)
        return
    check_gold(f"{name}.txt", out)
    # Warnings go once to stderr in every format, so piped results stay results.
    assert "WARNING" not in out
    if err:
        check_gold(f"{name}.stderr.txt", err)
    else:
        check_no_gold(f"{name}.stderr.txt", err)


def normalise_json(text: str, workdir: Path) -> str:
    """The JSON as printed, with the values that legitimately vary between runs replaced;
    every key and section is kept, and so is the CLI's own layout.

    With the factory's fixed clock, run id and header metadata (pid, argv, python version)
    nothing in these documents varies except what would name the tmp folder, which the
    relative trace path keeps out; the replacement is a guard for the day a path is made
    absolute, and the parse checks it left valid JSON."""
    text = text.replace(json.dumps(str(workdir))[1:-1], "<tmp>")
    json.loads(text)
    return text


@pytest.mark.parametrize("name,trace,args", [
    ("research_analyze", "research", ["analyze", "--format", "json"]),
    ("validation_inspect_errors_only", "validation", ["inspect", "--errors-only",
                                                      "--format", "json"]),
], ids=["research_analyze", "validation_inspect_errors_only"])
def test_json_output_matches_gold(workdir, capsys, name, trace, args):
    code, out, err = render(_argv(trace, args), capsys)
    assert code == 0, err
    assert err == ""
    check_gold(f"{name}.json", normalise_json(out, workdir))


def test_gold_comparison_can_fail(tmp_path, monkeypatch):
    """A changed byte, a trailing blank or a missing file each fail, with a diff."""
    monkeypatch.delenv(REGEN_ENV, raising=False)
    monkeypatch.setattr(sys.modules[__name__], "GOLD", tmp_path)
    (tmp_path / "x.txt").write_text("a  1\nb  2\n", encoding="utf-8")
    check_gold("x.txt", "a  1\nb  2\n")
    for wrong in ("a  1\nb  3\n", "a  1 \nb  2\n", "a  1\nb  2"):
        with pytest.raises(pytest.fail.Exception, match="differs") as info:
            check_gold("x.txt", wrong)
        assert "--- gold/analyzer/x.txt" in str(info.value)
    with pytest.raises(pytest.fail.Exception, match=f"(?s)missing.*{REGEN_ENV}=1"):
        check_gold("y.txt", "new\n")
    with pytest.raises(AssertionError):
        check_no_gold("x.txt", "")
    with pytest.raises(AssertionError):
        check_no_gold("z.txt", "a warning\n")
