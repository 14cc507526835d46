"""Bodies of `n3analyze replay` and `n3analyze diff` (and `namel3ss debug replay`).

The click declarations in analyzer/cli.py stay thin; everything they do is here, so the
two command lines run the same code.
"""
from __future__ import annotations

import json
import os
import sys

import click

from .errors import ReplayInputError


def replay_command(traces, build, source, trace_out, on_divergence, mocks, fmt, check,
                   step, breakpoints) -> int:
    from .run import Options, replay

    if check:
        from .check import check_paths

        return check_paths(traces, fmt=fmt, build=build, source=source,
                           fail_fast=on_divergence == "fail")
    if len(traces) != 1:
        raise ReplayInputError(f"replay takes one trace ({len(traces)} given); use --check "
                               "to replay several as regression tests")
    if on_divergence == "live":
        click.echo("live: where the record no longer matches, the real components are called "
                   "(this may use the network and real providers)", err=True)
    path = _resolve(traces[0])
    mode = on_divergence or "stop"
    options = Options(path, build=build, source=source, trace_out=trace_out, on_divergence=mode,
                      mocks=tuple(mocks), step=step, breakpoints=tuple(breakpoints))
    from .errors import NoBuildError

    try:
        outcome = replay(options)
    except NoBuildError as exc:
        if step or breakpoints:
            click.echo(f"note: {exc} Stepping through the recorded events instead.", err=True)
            return _fallback(path, step, breakpoints)
        raise
    from .report import failure_paragraph, outcome_doc, render

    if fmt == "json":
        click.echo(json.dumps(outcome_doc(outcome), indent=2, default=repr))
    elif mode == "fail" and outcome.divergences:
        click.echo(failure_paragraph(outcome), err=True)
    else:
        click.echo(render(outcome))
    return outcome.exit_code


def _fallback(path, step, breakpoints) -> int:
    try:
        from .stepping import step_through
    except ImportError:
        raise ReplayInputError("no build to run and this installation cannot step through "
                               "recorded events. Fix: pass --build DIR or --source APP.ai.") from None
    step_through(path, list(breakpoints), step, None)
    return 0


def _resolve(trace: str) -> str:
    from ..sources import resolve

    return resolve(trace)


def diff_command(a, b, fmt) -> int:
    from .diff import diff, render

    doc = diff(_resolve(a), _resolve(b))
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, default=repr))
    else:
        click.echo(render(doc))
    return 0 if doc["same"] else 1


def isatty() -> bool:
    return sys.stdin.isatty() and os.environ.get("TERM") != "dumb"
