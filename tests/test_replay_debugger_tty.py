"""The debugger at a real terminal: a pseudo-terminal driven by pexpect, history included."""
from __future__ import annotations

import hashlib
import os
import sys

import pexpect
import pytest

from support.trace_factory import research_run

UP = "\x1b[A"


@pytest.fixture
def trace(tmp_path):
    """A scripted research run, with an app.ai beside it so source lines can be shown."""
    source = tmp_path / "app.ai"
    source.write_text("".join(f"decl {n}\n" for n in range(1, 41)))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()  # sources are shown only on a match
    return research_run(turns=3).to_n3t(tmp_path / "run.n3t", metadata={"source_sha256": digest})


def spawn(trace, *args):
    env = dict(os.environ, TERM="xterm", NO_COLOR="1")
    child = pexpect.spawn(sys.executable, ["-m", "analyzer.replay.stepping", trace, *args],
                          env=env, dimensions=(50, 220), encoding="utf-8", timeout=30)
    return child


def finish(child) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_prompt_commands_and_history(trace):
    child = spawn(trace, "--breakpoint", "tool_call_start:2")
    child.expect_exact("-- breakpoint 1 (tool_call_start:2) --")
    child.expect_exact(">    12 | decl 12")  # the site's line, highlighted
    child.expect_exact("(replay) ")
    child.sendline("p arguments.q")
    child.expect_exact("arguments.q = same")
    child.expect_exact("(replay) ")
    child.sendline("p call_id")
    child.expect_exact("call_id = call-1")
    child.expect_exact("(replay) ")
    child.send(UP + UP + "\r")  # two back in the history: p arguments.q again
    child.expect_exact("arguments.q = same")
    child.expect_exact("(replay) ")
    child.sendline("")  # an empty line repeats the last command
    child.expect_exact("arguments.q = same")
    child.expect_exact("(replay) ")
    child.sendline("w")
    child.expect_exact("#0 chain_execution research at app.ai:30:1")
    child.expect_exact("#3 tool_call search at app.ai:12:1")
    child.expect_exact("(replay) ")
    child.sendline("n")
    child.expect_exact("-- step --")
    child.expect_exact("tool_call_end tool:search")
    child.expect_exact("(replay) ")
    child.sendline("b prompt:summarize")
    child.expect_exact("breakpoint 2: prompt:summarize")
    child.sendline("c")
    child.expect_exact("-- breakpoint 2 (prompt:summarize) --")
    child.expect_exact("prompt_execution_start prompt:summarize at app.ai:16:1")
    child.sendline("c")
    child.expect_exact("end of the record:")
    assert finish(child) == 0


def test_step_and_quit_at_the_terminal(trace):
    child = spawn(trace, "--step")
    child.expect_exact("-- step --")
    child.expect_exact("#0 chain_execution_start chain:research")
    child.expect_exact("(replay) ")
    child.sendline("s")
    child.expect_exact("#1 agent_execution_start agent:Researcher")
    child.expect_exact("(replay) ")
    child.sendline("e 2")
    child.expect_exact("  #0 chain_execution_start")
    child.expect_exact("> #1 agent_execution_start")
    child.sendline("q")
    child.expect_exact("quit at event #1")
    assert finish(child) == 0


def test_ctrl_d_continues_to_the_end(trace):
    child = spawn(trace, "--breakpoint", "llm_call_start")
    child.expect_exact("(replay) ")
    child.sendeof()
    child.expect_exact("continuing to the end without pausing")
    child.expect_exact("end of the record:")
    out = child.before
    assert "-- breakpoint" not in out
    assert finish(child) == 0


def test_unknown_command_at_the_terminal(trace):
    child = spawn(trace, "--breakpoint", "llm_call_start:1")
    child.expect_exact("(replay) ")
    child.sendline("jump 5")
    child.expect_exact("unknown command 'jump'. Commands: n/next, s/step, c/continue")
    child.expect_exact("(replay) ")
    child.sendline("c")
    assert finish(child) == 0
