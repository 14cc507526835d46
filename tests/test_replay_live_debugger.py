"""`n3analyze replay --step/--breakpoint` re-executing a real run: at a real terminal
(pexpect), from scripted stdin, and with breakpoints refused before anything runs."""
import json
import os
import subprocess
import sys

import pexpect
import pytest

from tests.support.replay_programs import env, record_example

INPUT = '{"review": "Great battery life."}'


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live-debugger")
    source, trace = record_example(tmp, "structured_retry", "app", tmp / "r.n3t", "--input", INPUT)
    lines = source.read_text().splitlines()
    return tmp, trace, source, lines


def line_of(lines, text) -> int:
    return next(n for n, line in enumerate(lines, 1) if line.startswith(text))


def scripted(recorded, commands, *args):
    tmp, trace, _, _ = recorded
    return subprocess.run([sys.executable, "-m", "analyzer.cli", "replay", str(trace),
                           "--trace-out", str(tmp / "again.n3t"), *args],
                          input=commands, capture_output=True, text=True, timeout=180,
                          env=env(tmp, NO_COLOR="1"))


def test_every_command_at_a_real_terminal(recorded):
    tmp, trace, source, lines = recorded
    llm = line_of(lines, "llm scorer_llm")
    child = pexpect.spawn(sys.executable, ["-m", "analyzer.cli", "replay", str(trace), "--step",
                                           "--trace-out", str(tmp / "tty.n3t")],
                          env=env(tmp, TERM="xterm", NO_COLOR="1"), dimensions=(50, 220),
                          encoding="utf-8", timeout=60, cwd=str(tmp))
    prompt = "(replay) "
    child.expect_exact("-- step --")
    child.expect_exact("#0 chain_execution_start chain:review at " + f"{source}:")
    child.expect_exact(prompt)
    child.sendline("h")
    child.expect_exact("p/print")
    child.expect_exact(prompt)
    for _ in range(3):  # step into: chain step, prompt, llm call
        child.sendline("s")
        child.expect_exact(prompt)
    child.sendline("p model")
    child.expect_exact("model = mock-scorer-1")
    child.expect_exact(prompt)
    child.sendline("p")
    child.expect_exact('"output_schema": {')
    child.expect_exact(prompt)
    child.sendline("w")
    child.expect_exact("#3 llm_call scorer_llm at " + f"{source}:{llm}:1")
    child.expect_exact(f">  {llm:4d} | llm scorer_llm {{")
    child.expect_exact(prompt)
    child.sendline("e 2")
    child.expect_exact("  #2 prompt_execution_start prompt:score_review")
    child.expect_exact("> #3 llm_call_start llm:scorer_llm")
    child.expect_exact(prompt)
    child.sendline("b tool:nope")
    child.expect_exact("no tool named 'nope'")
    child.expect_exact(prompt)
    child.sendline("b llm_call_end:tokens>0")
    child.expect_exact("breakpoint 1: llm_call_end:tokens>0")
    child.expect_exact(prompt)
    child.sendline("b")
    child.expect_exact("1: llm_call_end:tokens>0")
    child.expect_exact(prompt)
    child.sendline("n")  # over the call's inside: its own end, at the same level
    child.expect_exact("#4 llm_call_end llm:scorer_llm")
    child.expect_exact(prompt)
    child.sendline("c")  # to the breakpoint: the retry's llm call ends at #9
    child.expect_exact("-- breakpoint 1 (llm_call_end:tokens>0) --")
    child.expect_exact("#9 llm_call_end llm:scorer_llm")
    child.expect_exact(prompt)
    child.sendline("p usage.total_tokens")
    child.expect(r"usage\.total_tokens = \d+")
    child.expect_exact(prompt)
    child.sendline("q")
    child.expect_exact("the replay was quit at a pause")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_scripted_stdin_session(recorded):
    _, _, source, _ = recorded
    done = scripted(recorded, "p model\nw\nn\nb prompt:score_review\nc\n",
                    "--breakpoint", "llm_call_start:2")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("-- breakpoint 1 (llm_call_start:2) --") < out.index("(replay) p model")
    assert "#8 llm_call_start llm:scorer_llm" in out
    assert "model = mock-scorer-1" in out
    assert "#2 prompt_execution score_review at " + f"{source}:" in out
    assert "#9 llm_call_end llm:scorer_llm" in out  # n: over to the call's end
    assert "breakpoint 2: prompt:score_review" in out
    # a component's breakpoint hits its starts: the prompt's retry validates next
    assert "-- breakpoint 2 (prompt:score_review) --\n#10 validation_start" in out
    assert "end of commands: continuing to the end without pausing" in out
    assert "identical, 2 of 2 boundaries matched" in out


def test_end_of_input_continues_to_the_end(recorded):
    done = scripted(recorded, "", "--step")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("-- step --") == 1
    assert "end of commands: continuing to the end without pausing" in done.stdout
    assert "identical, 2 of 2 boundaries matched" in done.stdout


def test_quit_ends_the_replay_and_says_how_far(recorded):
    done = scripted(recorded, "s\ns\nq\n", "--step", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout[done.stdout.rindex("\n{\n"):])  # after the session
    assert report["quit"] and report["stopped"] and report["verdict"] == "identical"
    assert report["boundaries"]["matched"] == 0 and report["boundaries"]["not_reached"] == 2


@pytest.mark.parametrize("spec, listed", [
    ("llm_cal_start", ["llm_call_start", "validation_start", "Components (as COMPONENT:NAME)"]),
    ("llm:gpt9", ["The llm names are: ", "scorer_llm"]),
    ("llm_call_end:tokenz>5", ["no field 'tokenz'", "tokens", "usage"]),
    ("llm_call_start:0", ["event numbers start at 1"]),
])
def test_bad_breakpoints_are_refused_before_anything_runs(recorded, spec, listed):
    tmp = recorded[0]
    out = tmp / "never.n3t"
    done = subprocess.run([sys.executable, "-m", "analyzer.cli", "replay", str(recorded[1]),
                           "--trace-out", str(out), "--breakpoint", spec],
                          capture_output=True, text=True, timeout=180, env=env(tmp))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    for name in listed:
        assert name in done.stderr
    assert not os.path.exists(out)
