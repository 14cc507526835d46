"""Build folders: what they hold, that `python DIR` runs them, and the content-keyed cache."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from n3instrument.build import build, cached_build
from n3instrument.errors import BuildError, UsageError

ROOT = Path(__file__).parent.parent
RESEARCH = ROOT / "examples" / "research_agent" / "app.ai"


def test_build_folder_holds_program_main_and_manifest(tmp_path):
    out = tmp_path / "app"
    result = build(RESEARCH, out)
    assert sorted(p.name for p in out.iterdir()) == ["__main__.py", "manifest.json", "program.py", "tools.py"]
    assert (out / "tools.py").read_bytes() == (RESEARCH.parent / "tools.py").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == result.manifest
    assert manifest["source_sha256"] == hashlib.sha256(RESEARCH.read_bytes()).hexdigest()
    assert manifest["flags"] == {"instrument": False}
    assert manifest["entries"]["agents"] == ["ResearchAgent"]


def test_python_runs_the_build_folder(tmp_path):
    out = tmp_path / "app"
    build(RESEARCH, out)
    done = subprocess.run(
        [sys.executable, str(out), "--agent", "ResearchAgent", "--input", "Research quantum error correction"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "surface codes" in done.stdout


def test_a_build_of_the_same_source_is_byte_identical(tmp_path):
    build(RESEARCH, tmp_path / "a")
    build(RESEARCH, tmp_path / "b")
    for name in ("program.py", "__main__.py", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_build_refuses_to_overwrite_a_folder_that_is_not_a_build(tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a namel3ss build"):
        build(RESEARCH, out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_build_of_a_program_with_errors_reports_every_error(tmp_path):
    source = tmp_path / "bad.ai"
    source.write_text('llm m {}\nagent a { llm: m, tools: [nowhere] }\n'
                      'agent a { llm: m, tools: [nowhere] }\n')
    with pytest.raises(BuildError) as info:
        build(source, tmp_path / "out")
    codes = [d.code for d in info.value.diagnostics if d.severity == "error"]
    assert "UNDEFINED_REFERENCE" in codes and "DUPLICATE_DECLARATION" in codes
    assert not (tmp_path / "out").exists()


def test_cache_reuses_a_build_until_the_source_changes(tmp_path):
    source = tmp_path / "app.ai"
    source.write_text('llm m { provider: "mock" }\nprompt p { model: m, template: "hi {{x}}", variables: ["x"] }\n')
    first = cached_build(source, cache_dir=tmp_path / "cache")
    stamp = (first.path / "program.py").stat().st_mtime_ns
    again = cached_build(source, cache_dir=tmp_path / "cache")
    assert again.path == first.path
    assert (again.path / "program.py").stat().st_mtime_ns == stamp
    source.write_text(source.read_text() + "# changed\n")
    changed = cached_build(source, cache_dir=tmp_path / "cache")
    assert changed.path != first.path


MOVABLE_APP = textwrap.dedent('''
    tool shout {
      type: "python"
      function: "kit.voice:shout"
      parameters: { type: "object", properties: { text: { type: "string" } } }
    }
    tool count { type: "python", function: "counting:count" }
    chain c { steps: [
      { name: "a", kind: "tool", target: shout, input: { text: "{{input.text}}" } },
      { name: "b", kind: "tool", target: count, input: { text: "{{input.text}}" } }
    ] }
''')


def make_movable_program(folder):
    (folder / "kit").mkdir(parents=True)
    (folder / "kit" / "__init__.py").write_text("")
    (folder / "kit" / "voice.py").write_text(
        "from .marks import BANG\nfrom helpers import upper\n\n\ndef shout(text):\n    return upper(text) + BANG\n")
    (folder / "kit" / "marks.py").write_text('BANG = "!"\n')
    (folder / "helpers.py").write_text("def upper(text):\n    return text.upper()\n")
    (folder / "counting.py").write_text("def count(text):\n    return {'letters': len(text)}\n")
    (folder / "unrelated.py").write_text("raise SystemExit('never imported')\n")
    (folder / "app.ai").write_text(MOVABLE_APP)


def run_build(path, cwd, **env):
    return subprocess.run([sys.executable, str(path), "--chain", "c", "--input", json.dumps({"text": "hey"}),
                           "--json"], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, **env})


@pytest.mark.parametrize("instrument", [False, True])
def test_a_build_runs_after_it_is_moved_and_its_source_is_gone(tmp_path, instrument):
    source = tmp_path / "src"
    make_movable_program(source)
    extra = {"instrument": True, "user_modules": [str(source / "kit" / "voice.py")]} if instrument else {}
    build(source / "app.ai", tmp_path / "out", **extra)
    here = run_build(tmp_path / "out", tmp_path)
    assert here.returncode == 0, here.stderr
    assert json.loads(here.stdout) == {"letters": 3}
    copied = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.py")
                    if not p.relative_to(tmp_path / "out").as_posix().startswith(("_n3", "__main__", "program")))
    assert copied == ["counting.py", "helpers.py", "kit/__init__.py", "kit/marks.py", "kit/voice.py"]
    moved = tmp_path / "elsewhere" / "deeper"
    moved.parent.mkdir()
    shutil.move(str(tmp_path / "out"), str(moved))
    shutil.rmtree(source)
    env = {"NAMEL3SS_DEBUG_ENABLED": "1", "NAMEL3SS_DEBUG_OUTPUT_DIR": str(tmp_path / "traces")} if instrument else {}
    there = run_build(moved, tmp_path / "elsewhere", **env)
    assert there.returncode == 0, there.stderr
    assert there.stdout == here.stdout
    manifest = json.loads((moved / "manifest.json").read_text())
    assert manifest["source_path"] == str(source / "app.ai")  # information only
    assert str(source) not in (moved / "program.py").read_text()
    if instrument:
        assert list((tmp_path / "traces").glob("*.n3t"))


def test_cache_rebuilds_when_a_copied_tool_module_changes(tmp_path):
    make_movable_program(tmp_path)
    first = cached_build(tmp_path / "app.ai", cache_dir=tmp_path / "cache")
    assert cached_build(tmp_path / "app.ai", cache_dir=tmp_path / "cache").manifest == first.manifest
    (tmp_path / "counting.py").write_text("def count(text):\n    return {'letters': -1}\n")
    again = cached_build(tmp_path / "app.ai", cache_dir=tmp_path / "cache")
    assert "-1" in (again.path / "counting.py").read_text()
    assert json.loads(run_build(again.path, tmp_path).stdout) == {"letters": -1}
