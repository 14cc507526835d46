"""Mock responses check as docs/runtime.md describes them, and run as checked."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from test_frontend_checks import diagnose, only

CALLS = ('llm scripted { provider: "mock", responses: [\n'
         '  { match: "go", tool_calls: [ { name: "search", arguments: { q: "a" } },'
         ' { name: "search", arguments: { q: "b" } } ] },\n'
         '  { reply: { ok: true } }\n] }\n')


def test_tool_calls_without_match_and_object_replies_check():
    _, diagnostics = diagnose(CALLS)
    assert [d.header() for d in diagnostics] == []


@pytest.mark.parametrize("response, fragment", [
    ('{ match: "x", tool_calls: { name: "search" } }', "`tool_calls` must be a list"),
    ('{ tool_call: { name: "search" }, tool_calls: [] }', "both `tool_call` and `tool_calls`"),
    ('{ match: "x" }', "needs `reply`, `tool_call` or `tool_calls`"),
    ('{ reply: 3 }', "`reply` must be a string or an object"),
    ('{ tool_calls: [ { name: "search", nope: 1 } ] }', "nope"),
])
def test_malformed_responses_are_refused(response, fragment):
    _, diagnostic = only(f'llm bad {{ provider: "mock", responses: [ {response} ] }}\n',
                         "INVALID_VALUE" if "nope" not in fragment else "UNKNOWN_KEY")
    assert fragment in diagnostic.header() + (diagnostic.hint or "") + diagnostic.message


def test_several_tool_calls_in_one_reply_run(tmp_path):
    app = tmp_path / "app.ai"
    app.write_text('tool search { type: "mock", returns: { hits: 1 } }\n' + CALLS
                   + 'agent A { llm: scripted, tools: [search] }\n')
    run = subprocess.run([sys.executable, "-m", "n3instrument", "run", str(app), "--agent", "A",
                          "--input", "go"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"ok": True}
