"""The frozen `n3analyze` replays a build folder with its own interpreter, from a folder
where neither the source tree nor the program's python tools can be imported."""
import json
import shutil

import pytest

from tests.support.replay_programs import EXAMPLES, namel3ss, record
from test_analyzer_frozen import run

pytestmark = pytest.mark.frozen
ARGS = ("--agent", "ResearchAgent", "--input", "Research quantum error correction")


def test_frozen_replay_of_a_build_folder_and_its_fallback(frozen, tmp_path):
    source = tmp_path / "src" / "app.ai"
    source.parent.mkdir()
    shutil.copy(EXAMPLES / "research_agent" / "app.ai", source)
    shutil.copy(EXAMPLES / "research_agent" / "tools.py", source.parent / "tools.py")
    trace = record(tmp_path, source, tmp_path / "run.n3t", *ARGS)
    built = namel3ss(tmp_path, "build", "--instrument", source, "-o", tmp_path / "build")
    assert built.returncode == 0, built.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy2(frozen, elsewhere / "n3analyze")
    shutil.copy(trace, elsewhere / "run.n3t")
    shutil.copytree(tmp_path / "build", elsewhere / "build")
    (elsewhere / "build" / "tools.py").unlink(missing_ok=True)  # answered from the trace
    shutil.rmtree(source.parent)
    exe = elsewhere / "n3analyze"
    done = run(exe, ["replay", "run.n3t", "--build", "build", "--format", "json"], elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "identical" and doc["build_from"] == "build" and doc["sites_match"]
    assert doc["boundaries"]["matched"] == doc["boundaries"]["recorded"] >= 5
    assert (elsewhere / "run.replay.n3t").is_file()
    done = run(exe, ["replay", "run.n3t"], elsewhere)
    assert done.returncode == 2 and "not a regular .ai file here" in done.stderr
    assert "Traceback" not in done.stderr
    done = run(exe, ["replay", "run.n3t", "--breakpoint", "tool_call_start"], elsewhere)
    assert done.returncode == 0, done.stderr
    assert "Stepping through the recorded events instead" in done.stderr
    assert done.stdout.count("-- breakpoint 1 (tool_call_start) --") == 1
    assert "end of commands: continuing to the end without pausing" in done.stdout
