"""Every example runs offline as its README line says, with real tools and a real local API."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.loopback import briefing_api  # noqa: F401 - a fixture

EXAMPLES = Path(__file__).parent.parent / "examples"


def namel3ss(tmp_path, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "n3instrument.cli", *map(str, args)], capture_output=True, text=True,
        timeout=120, env={**os.environ, "NAMEL3SS_CACHE_DIR": str(tmp_path / "cache"), **(env or {})},
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/app.ai")), ids=lambda p: p.parent.name)
def test_every_example_checks_clean(tmp_path, path):
    done = namel3ss(tmp_path, "check", path, "--format", "json")
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["errors"] == 0


def test_research_agent_answers_after_searching_and_taking_a_note(tmp_path):
    done = namel3ss(tmp_path, "run", EXAMPLES / "research_agent" / "app.ai", "--agent", "ResearchAgent",
                    "--input", "Research quantum error correction")
    assert done.returncode == 0, done.stderr
    assert "logical qubit outlived its best physical qubit" in done.stdout


def test_structured_retry_returns_the_validated_answer(tmp_path):
    done = namel3ss(tmp_path, "run", EXAMPLES / "structured_retry" / "app.ai",
                    "--input", json.dumps({"review": "Great battery life."}), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "Verdict: positive (0.92)"


def test_parallel_pipeline_calls_the_local_api_and_the_python_tool(tmp_path, briefing_api):
    done = namel3ss(tmp_path, "debug", "trace", EXAMPLES / "parallel_pipeline" / "app.ai",
                    "--input", json.dumps({"symbol": "N3X", "notes": "meeting at 9, meeting at 2"}),
                    "-o", tmp_path / "briefing.n3t", env={"BRIEFING_API_URL": briefing_api})
    assert done.returncode == 0, done.stderr
    assert "Markets are calm" in done.stdout
    from support.traced_runs import read_events

    _, events = read_events(tmp_path / "briefing.n3t")
    tools = {site.name: payload for kind, site, _, _, payload in events
             if site.event_type == "tool_call" and kind == "end"}
    assert tools["market_quote"]["output"] == {"symbol": "N3X", "price": 101.25, "change": 0.4}
    assert tools["note_stats"]["output"] == {"words": 6, "meetings": 2}
