"""Check, build and run (llms switched to mock) every `.ai` program under some folders.

Run: .venv/bin/python benchmarks/dialect_survey.py FOLDER... [--exclude TEXT] [--no-run]

For each program: `check` (errors fail it), `build` of the program as written, then a build
of a copy whose llms all use the mock provider, and a run of every chain, agent and prompt
of that copy in its own interpreter (as `python BUILD --chain NAME` runs it). Prompts get
every variable they name and chains every `{{input.NAME}}` the program uses, set to text.
A run that fails with the runtime's one-paragraph error counts as a clean failure; a
Python traceback anywhere is counted on its own, since it is always a bug.

Programs under a folder named `invalid` are left out, as are paths containing an
`--exclude` text. A program is "brace-style" unless it writes an executable kind with an
indented body (the form the dialect refuses); the counts are printed for all and for those.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

_INPUT_FIELD = re.compile(r"\{\{\s*input\.(\w+)")
_EXECUTABLE_COLON = re.compile(
    r"^(?:llm|prompt|tool|memory|agent|chain|app|ai model)\b[^{\n]*:[ \t]*(?:#.*)?$", re.M)
RUN_TIMEOUT = 60


def programs(folders, excludes) -> list[Path]:
    found = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.ai")):
            if "invalid" in path.parts or any(text in str(path) for text in excludes):
                continue
            found.append(path)
    return found


def mock_copy(program, source: str) -> str:
    """`source` with each llm's provider replaced by "mock" (and a mock-only llm as is)."""
    edits = []
    lines = source.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    for decl in program.of_kind("llm"):
        entry = decl.entry("provider")
        if entry is None:
            continue
        loc = entry.value.loc
        begin = starts[loc.line - 1] + loc.column - 1
        end = starts[loc.end_line - 1] + loc.end_column - 1
        edits.append((begin, end))
    for begin, end in sorted(edits, reverse=True):
        source = source[:begin] + '"mock"' + source[end:]
    return source


def entries(program, source: str) -> list[tuple[str, str, str]]:
    """(flag, name, input) for every chain, agent and prompt."""
    fields = sorted(set(_INPUT_FIELD.findall(source)))
    chain_input = json.dumps({f: "survey text" for f in fields}) if fields else '"survey text"'
    runs = [("--chain", d.name, chain_input) for d in program.of_kind("chain")]
    runs += [("--agent", d.name, "Hello from the dialect survey") for d in program.of_kind("agent")]
    for decl in program.of_kind("prompt"):
        names = decl.get("variables") or decl.get("input")
        items = getattr(names, "items", ())
        variables = [getattr(i, "value", None) for i in items]
        template = getattr(decl.get("template"), "value", "") or ""
        variables += re.findall(r"\{\{\s*(\w+)", template)
        runs.append(("--prompt", decl.name,
                     json.dumps({v: "survey text" for v in variables if isinstance(v, str)})))
    return runs


_CODE = re.compile(r"error\[(\w+)\]")


def run_entry(build_dir: Path, flag: str, name: str, value: str, cwd: Path) -> tuple[str, str]:
    """The outcome of one run, and the error code it ended with ("" when there is none)."""
    env = dict(os.environ, NO_COLOR="1")
    try:
        done = subprocess.run([sys.executable, str(build_dir), flag, name, "--input", value],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=cwd,
                              env=env)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    if "Traceback (most recent call last)" in done.stderr:
        return "traceback", ""
    if done.returncode == 0:
        return "ok", ""
    code = _CODE.search(done.stderr)
    return ("clean error" if done.stderr.strip() else "silent failure"), code.group(1) if code else "?"


def survey(paths, run: bool, verbose: bool) -> dict:
    from n3instrument.build import build
    from n3instrument.frontend import check_file, load_source

    counts = {"all": Counter(), "brace-style": Counter()}
    runs, run_errors, failures = Counter(), Counter(), Counter()
    with tempfile.TemporaryDirectory(prefix="n3-survey-") as scratch:
        scratch = Path(scratch)
        for number, path in enumerate(paths):
            source = path.read_text(encoding="utf-8", errors="replace")
            groups = ["all"] + ([] if _EXECUTABLE_COLON.search(source) else ["brace-style"])

            def count(what):
                for group in groups:
                    counts[group][what] += 1

            count("programs")
            try:
                program, diagnostics = check_file(path)
            except Exception:
                count("traceback")
                print(f"TRACEBACK in check of {path}:\n{traceback.format_exc()}")
                continue
            errors = [d for d in diagnostics if d.severity == "error"]
            if errors:
                failures[f"{errors[0].code}: {errors[0].message[:70]}"] += 1
                if verbose:
                    print(f"{path}: {errors[0].header()}")
                continue
            count("check")
            out = scratch / f"p{number}"
            try:
                build(str(path), str(out / "as-written"))
                count("build")
                copy = out / "mock" / path.name
                copy.parent.mkdir(parents=True)
                copy.write_text(mock_copy(program, program.source), encoding="utf-8")
                build(str(copy), str(out / "mock-build"))
            except Exception as exc:
                if not hasattr(exc, "exit_code"):
                    count("traceback")
                    print(f"TRACEBACK in build of {path}:\n{traceback.format_exc()}")
                elif verbose:
                    print(f"{path}: build failed: {exc}")
                continue
            if not run:
                continue
            results = Counter()
            for flag, name, value in entries(load_source(copy.read_text(), str(copy)), program.source):
                outcome, code = run_entry(out / "mock-build", flag, name, value, path.parent)
                results[outcome] += 1
                if code:
                    run_errors[code] += 1
                    if verbose:
                        print(f"{path}: {flag} {name}: {code}")
            runs.update(results)
            if results["traceback"]:
                count("traceback")
                print(f"TRACEBACK while running {path}")
            if not results:
                count("nothing to run")
            elif results["ok"] == sum(results.values()):
                count("every entry ran")
            elif results["ok"]:
                count("some entries ran")
    return {"counts": counts, "runs": runs, "run_errors": run_errors, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--exclude", action="append", default=[],
                        help="leave out paths containing this text (repeatable)")
    parser.add_argument("--no-run", action="store_true", help="check and build only")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failure")
    args = parser.parse_args()
    paths = programs(args.folders, args.exclude)
    start = time.perf_counter()
    result = survey(paths, not args.no_run, args.verbose)
    for group, counter in result["counts"].items():
        total = counter["programs"] or 1
        print(f"{group:>12}: {counter['programs']} programs, "
              f"{counter['check']} check ({100 * counter['check'] / total:.1f}%), "
              f"{counter['build']} build, {counter['every entry ran']} ran every entry on mock, "
              f"{counter['some entries ran']} ran some, {counter['nothing to run']} have nothing "
              f"to run, {counter['traceback']} with a traceback")
    if result["runs"]:
        print("     entries: " + ", ".join(f"{n} {what}" for what, n in result["runs"].most_common()))
        print("  run errors: " + ", ".join(f"{n} {code}" for code, n in result["run_errors"].most_common()))
    for reason, n in result["failures"].most_common():
        print(f"  {n:3d} x {reason}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
