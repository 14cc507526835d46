"""The pytest plugin (entry point `pytest11`): `def test_traces(n3_replay):
n3_replay.check("traces/")` replays every trace there and fails once per divergent one."""
from __future__ import annotations

import pytest


class TraceReplayFailed(AssertionError):
    """One or more traces no longer replay identically."""


class N3Replay:
    def __init__(self, out_dir):
        self.out_dir = str(out_dir)

    def check(self, *paths, build=None, source=None) -> int:
        """Replay the traces; raise one readable failure naming every divergent trace."""
        from .check import replay_all
        from .report import render

        results = replay_all(paths, build=build, source=source, out_dir=self.out_dir)
        failures = []
        for trace, outcome, error in results:
            if error:
                failures.append(f"{trace}: cannot be replayed: {error}")
            elif not outcome.identical:
                failures.append(render(outcome))
        if failures:
            raise TraceReplayFailed(
                f"{len(failures)} of {len(results)} traces diverged:\n\n" + "\n\n".join(failures))
        return len(results)


@pytest.fixture
def n3_replay(tmp_path):
    """Replays traces as regression tests; replays' own traces go to a temporary folder."""
    return N3Replay(tmp_path)
