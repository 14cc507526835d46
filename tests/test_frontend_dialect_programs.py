"""Whole programs in the dialect real users write, through the real command line: check,
build, run, trace, and the survey script over the fixture folder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "dialect"
SHOP = FIXTURES / "shop.ai"


def namel3ss(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "n3instrument.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "NO_COLOR": "1"})


def test_the_shop_checks_runs_and_is_traced(tmp_path):
    shutil.copy(SHOP, tmp_path / "shop.ai")
    checked = namel3ss("check", "shop.ai", "--format", "json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    report = json.loads(checked.stdout)
    codes = [d["code"] for d in report["diagnostics"]]
    assert codes.count("DECLARATIVE_KIND") == 1 and "UNDECLARED_LLM" in codes
    question = json.dumps({"question": "What are your hours?"})
    ran = namel3ss("run", "shop.ai", "--chain", "answer", "--input", question, cwd=tmp_path)
    assert (ran.returncode, ran.stdout.strip()) == (0, "We open at nine. / Thanks for shopping!")
    traced = namel3ss("debug", "trace", "shop.ai", "--chain", "answer", "--input", question,
                      "-o", "shop.n3t", cwd=tmp_path)
    assert traced.returncode == 0, traced.stderr
    inspected = subprocess.run([sys.executable, "-m", "analyzer.cli", "inspect", "shop.n3t",
                                "--agent", "windowed", "--format", "json"],
                               capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert inspected.returncode == 0, inspected.stderr
    spans = json.loads(inspected.stdout)["spans"]
    line = SHOP.read_text().split("\n").index(
        next(text for text in SHOP.read_text().split("\n") if text.startswith("agent windowed"))) + 1
    assert (spans[0]["event_type"], spans[0]["location"]) == (
        "agent_execution", f"{tmp_path / 'shop.ai'}:{line}:1")
    assert ("llm_call", "helper_model") in [(s["event_type"], s["name"]) for s in spans]


def test_an_undeclared_llm_fails_only_the_agent_that_uses_it(tmp_path):
    shutil.copy(SHOP, tmp_path / "shop.ai")
    ran = namel3ss("run", "shop.ai", "--agent", "premium", "--input", "hi", cwd=tmp_path)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert ran.stderr.startswith("error[CONFIG_ERROR] in agent 'premium' (shop.ai:")
    assert "'gpt4', which is not a declared llm" in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1
    ran = namel3ss("run", "shop.ai", "--agent", "historian", "--input", "hours?", cwd=tmp_path)
    assert (ran.returncode, ran.stdout.strip()) == (0, "We open at nine.")


def test_an_indented_executable_kind_fails_check_with_its_location():
    checked = namel3ss("check", FIXTURES / "invalid" / "braces.ai", "--format", "json")
    assert checked.returncode == 1
    (diagnostic,) = json.loads(checked.stdout)["diagnostics"]
    assert (diagnostic["code"], diagnostic["line"], diagnostic["column"]) == ("SYNTAX_ERROR", 4, 13)
    assert "must use braces" in diagnostic["message"]


def test_the_survey_counts_the_fixture_folder():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "dialect_survey.py"),
                           str(FIXTURES)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("all: 1 programs, 1 check (100.0%), 1 build, 0 ran every entry on mock, "
            "1 ran some, 0 have nothing to run, 0 with a traceback") in done.stdout
    # premium (undeclared llm) and greeter_role (no model among two llms) fail cleanly
    assert "entries: 6 ok, 2 clean error" in done.stdout
    assert "run errors: 2 CONFIG_ERROR" in done.stdout
