"""Instrumented builds keep line numbers: a traceback names the same file:line as a plain build.

The pass writes readable rewritten copies whose text has lines of its own; the build's
`positions.json` maps them back, so a failure inside the runtime copy names the installed
runtime's line, and one inside a traced user module names the user's line.
"""
import json
import os
import subprocess
import sys
import textwrap

from n3instrument.build import build

TOOL = textwrap.dedent('''
    def helper(text):
        """Fails on purpose."""
        words = text.split()
        return {"first": words[5]}


    def lookup(q):
        return helper(q)
''')

APP = textwrap.dedent('''
    tool lookup {
      type: "python"
      function: "tools:lookup"
      parameters: { type: "object", properties: { q: { type: "string" } } }
    }
    chain c { steps: [ { name: "s", kind: "tool", target: lookup, input: { q: "{{input.q}}" } } ] }
''')

FRAMES = textwrap.dedent('''
    import asyncio, json, os, sys, traceback
    from n3instrument.loader import load_build
    app = load_build(sys.argv[1])
    try:
        asyncio.run(app.run("c", {"q": "two words"}))
    except Exception as exc:
        frames, seen = [], exc
        while seen is not None:
            for f in traceback.extract_tb(seen.__traceback__):
                path = f.filename.replace(os.sep, "/")
                if "/n3core/runtime/" in path:
                    frames.append(["runtime/" + path.split("/n3core/runtime/")[1], f.lineno, f.name, f.line])
                elif path.endswith("/tools.py"):
                    frames.append(["tools.py", f.lineno, f.name, f.line])
            seen = seen.__context__
        print(json.dumps(frames))
''')


def frames(build_dir, tmp_path, **env):
    done = subprocess.run([sys.executable, "-c", FRAMES, str(build_dir)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_failures_name_the_same_lines_plain_and_instrumented(tmp_path):
    (tmp_path / "tools.py").write_text(TOOL)
    (tmp_path / "app.ai").write_text(APP)
    build(tmp_path / "app.ai", tmp_path / "plain")
    build(tmp_path / "app.ai", tmp_path / "traced", instrument=True, user_modules=[str(tmp_path / "tools.py")])
    plain = frames(tmp_path / "plain", tmp_path)
    assert ["tools.py", 5, "helper", 'return {"first": words[5]}'] in plain
    assert any(path == "runtime/tools.py" and name == "call" for path, _, name, _ in plain)
    # the rewritten texts moved: without the line tables these lines would differ
    copy = (tmp_path / "traced" / "_n3_runtime" / "tools.py").read_text().splitlines()
    assert [line for path, line, _, text in plain if path == "runtime/tools.py"
            and copy[line - 1].strip() != text] != []
    assert frames(tmp_path / "traced", tmp_path) == plain
    traces = tmp_path / "traces"
    assert frames(tmp_path / "traced", tmp_path, NAMEL3SS_DEBUG_ENABLED="1",
                  NAMEL3SS_DEBUG_OUTPUT_DIR=str(traces)) == plain
    assert list(traces.glob("*.n3t"))
