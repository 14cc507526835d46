"""--instrument-module: a user's python tool traced, its span/marker calls made direct."""
import json
import os
import subprocess
import sys
import textwrap

from support.traced_runs import read_events

TOOL = textwrap.dedent('''
    from n3core.tracing import marker, span


    def _score(q):
        return len(q)


    @span
    def search(q):
        with span("lookup", q=q):
            score = _score(q)
        marker("scored", score=score)
        if score > 100:
            raise ValueError("too long")
        return {"q": q, "score": score}
''')

APP = textwrap.dedent('''
    tool search {
      type: "python"
      function: "tools.search:search"
      parameters: { type: "object", properties: { q: { type: "string" } } }
    }
    chain c { steps: [ { name: "s", kind: "tool", target: search, input: { q: "{{input.q}}" } } ] }
''')


def make_program(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "tools" / "search.py").write_text(TOOL)
    (tmp_path / "app.ai").write_text(APP)


def run(tmp_path, *args, env=None):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, **(env or {})})


def test_user_module_spans_markers_and_functions_are_traced(tmp_path):
    make_program(tmp_path)
    done = run(tmp_path, "-m", "n3instrument.cli", "build", "--instrument",
               "--instrument-module", "tools/search.py", "app.ai", "-o", "b")
    assert done.returncode == 0, done.stderr
    copy = (tmp_path / "b" / "_n3_user" / "tools.search.py").read_text()
    assert "@span" not in copy and "with span(" not in copy and "marker(" not in copy.replace("import marker", "")
    trace = tmp_path / "t.n3t"
    done = run(tmp_path, "b", "--input", json.dumps({"q": "abc"}), "--json",
               env={"NAMEL3SS_DEBUG_ENABLED": "1", "NAMEL3SS_DEBUG_OUTPUT_DIR": str(tmp_path / "traces")})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"q": "abc", "score": 3}
    _, events = read_events(tmp_path / "traces" / "trace_latest")
    python = [(kind, site.event_type, site.name, site.line, payload) for kind, site, _, _, payload in events
              if site.component == "python"]
    starts = [(etype, name, line) for kind, etype, name, line, _ in python if kind == "start"]
    def_line = TOOL.splitlines().index("def search(q):") + 1
    assert ("python_call", "search", def_line) in starts
    assert ("user_span", "lookup", def_line + 1) in starts
    assert ("python_call", "_score", TOOL.splitlines().index("def _score(q):") + 1) in starts
    markers = [payload for kind, etype, _, _, payload in python if etype == "performance_marker"]
    assert markers == [{"name": "scored", "score": 3}]
    spans = {span: (site, parent) for kind, site, span, parent, _ in events if kind == "start"}
    lookup = next(span for span, (site, _) in spans.items() if site.name == "lookup")
    assert spans[spans[lookup][1]][0].name == "search"


def test_instrument_module_outside_the_program_folder_is_refused(tmp_path):
    make_program(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere.py"
    outside.write_text("def f():\n    return 1\n")
    done = run(tmp_path, "-m", "n3instrument.cli", "build", "--instrument",
               "--instrument-module", outside, "app.ai", "-o", "b")
    assert done.returncode == 2
    assert "outside the program's folder" in done.stderr and "Traceback" not in done.stderr


def test_a_module_that_does_not_parse_is_one_paragraph_and_exit_2(tmp_path):
    make_program(tmp_path)
    (tmp_path / "bad.py").write_text("def fine():\n    return 1\n\ndef broken(:\n    pass\n")
    done = run(tmp_path, "-m", "n3instrument.cli", "build", "--instrument",
               "--instrument-module", "bad.py", "app.ai", "-o", "b")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "libcst" not in done.stderr
    assert "bad.py:4:" in done.stderr and "not valid Python" in done.stderr
    assert "--instrument-module" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_a_module_that_is_not_utf8_is_refused_with_exit_2(tmp_path):
    make_program(tmp_path)
    (tmp_path / "latin.py").write_bytes(b"NAME = '\xe9t\xe9'\n")
    done = run(tmp_path, "-m", "n3instrument.cli", "build", "--instrument",
               "--instrument-module", "latin.py", "app.ai", "-o", "b")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "latin.py" in done.stderr and "UTF-8" in done.stderr
