"""Build folders: what they hold, that `python DIR` runs them, and the content-keyed cache."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from n3instrument.build import build, cached_build
from n3instrument.errors import BuildError, UsageError

ROOT = Path(__file__).parent.parent
RESEARCH = ROOT / "examples" / "research_agent" / "app.ai"


def test_build_folder_holds_program_main_and_manifest(tmp_path):
    out = tmp_path / "app"
    result = build(RESEARCH, out)
    assert sorted(p.name for p in out.iterdir()) == ["__main__.py", "manifest.json", "program.py"]
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
    source.write_text('agent a { llm: nowhere }\nagent a { llm: nowhere }\n')
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
