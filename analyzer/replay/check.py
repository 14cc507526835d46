"""Traces as regression tests: replay each, one line per trace (`replay --check`)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from .errors import ReplayInputError


def trace_files(paths) -> list:
    """The `.n3t` files named, folders expanded (sorted; replays' own traces left out)."""
    out = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*.n3t")
                          if f.is_file() and not f.name.endswith(".replay.n3t"))
        elif p.is_file():
            out.append(str(p))
        else:
            raise ReplayInputError(f"{path}: no such file or folder")
    if not out:
        raise ReplayInputError(f"no .n3t traces in {', '.join(map(str, paths))}")
    return out


def replay_all(paths, *, build=None, source=None, out_dir=None, fail_fast=False):
    """[(trace, Outcome or None, error text or None)] for each trace found; `fail_fast`
    ends at the first trace that diverged or could not be replayed."""
    from .run import Options, default_trace_out, replay

    results = []
    for trace in trace_files(paths):
        if fail_fast and results and (results[-1][2] or not results[-1][1].identical):
            break
        out = default_trace_out(trace)
        if out_dir is not None:
            out = os.path.join(out_dir, Path(out).name)
        try:
            results.append((trace, replay(Options(
                trace, build=build, source=source, trace_out=out,
                on_divergence="fail" if fail_fast else "stop")), None))
        except ReplayInputError as exc:
            results.append((trace, None, str(exc)))
    return results


def check_paths(paths, *, fmt="table", build=None, source=None, fail_fast=False) -> int:
    from .report import check_line, outcome_doc

    results = replay_all(paths, build=build, source=source, fail_fast=fail_fast)
    skipped = len(trace_files(paths)) - len(results)
    if fmt == "json":
        click.echo(json.dumps({"schema": 1, "traces": [
            outcome_doc(o) if o else {"trace": t, "verdict": "error", "error": e}
            for t, o, e in results]}, indent=2, default=repr))
    else:
        for trace, outcome, error in results:
            click.echo(check_line(outcome) if outcome else f"error    {trace}  {error}")
        if skipped:
            click.echo(f"--on-divergence fail: {skipped} more trace{'s' if skipped != 1 else ''} "
                       "not replayed")
    if any(e for _, _, e in results):
        return 2
    return 1 if any(not o.identical for _, o, _ in results) else 0
