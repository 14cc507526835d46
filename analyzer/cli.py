"""The `n3analyze` command: analyze, inspect and export traces.

`main()` turns the toolchain's own errors (the analyzer's, the tracing core's) into exit
codes (2: bad usage or bad input, 1: failed); anything else is a bug and keeps its traceback.
The click group is importable (`analyzer.cli.cli`) and `register(group)` mounts the same
commands elsewhere, e.g. under `namel3ss debug`.
"""
from __future__ import annotations

import json
import os
import sys
import warnings

import click

from n3core import __version__
from n3core.errors import ToolchainError, run_main

FORMATS = click.Choice(["table", "json"])
RUN_OPTION = click.option("--run", "run", metavar="ID",
                          help="JSON lines holding several executions: the execution_id to "
                               "read (default: the file's first; a warning names the others).")
FORMAT_HELP = ("table: text for people (plain when piped or NO_COLOR is set); json: one "
               "document with a stable schema, errors as {\"error\": {...}}.")
ENVIRONMENT = """\b
Environment:
  N3ANALYZE_CORE=c|python  force the analysis core (default: compiled, else Python)
  N3TRACE_CORE=c|python    force the trace reader's core
  NAMEL3SS_CACHE_DIR       where replay looks for cached builds
  NO_COLOR=1               no colour and no bold or italic
"""


def _console(ctx, stderr: bool = False):
    obj = ctx.find_object(dict) or {}
    if stderr:
        return _err_console(obj)
    if obj.get("console") is None:
        from .console import make_console

        obj["console"] = make_console()
    return obj["console"]


def _emit_json(ctx, doc) -> None:
    from .values import jsonable

    console = _console(ctx)
    console.file.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
    console.file.flush()


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=ENVIRONMENT)
@click.version_option(__version__, prog_name="n3analyze")
@click.pass_context
def cli(ctx) -> None:
    """Analyze, inspect and export namel3ss traces (.n3t, or the earlier JSON lines)."""
    ctx.ensure_object(dict)


def _warn(ctx, lines) -> None:
    from .render import warnings as show

    show(_console(ctx, True), lines)


@cli.command()
@click.argument("trace", type=click.Path())
@click.option("--performance", is_flag=True, help="Timings, slowest operations, critical path, tokens and cost.")
@click.option("--errors", is_flag=True, help="Errors, failure rates and retries.")
@click.option("--memory", is_flag=True, help="RSS over time and growth across agent turns.")
@click.option("--summary", is_flag=True, help="Only the one-paragraph summary and trace health.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help=FORMAT_HELP)
@click.option("--prices", type=click.Path(dir_okay=False), help="JSON price overrides (USD per 1000 tokens).")
@RUN_OPTION
@click.pass_context
def analyze(ctx, trace, performance, errors, memory, summary, fmt, prices, run) -> int:
    """Where the time, tokens and errors of a run went. TRACE: file or traces folder."""
    from .analysis import SECTIONS, analyze as run_pass
    from .costs import PriceTable
    from .progress import LazyProgress
    from .sources import open_source

    chosen = [name for name, on in (("performance", performance), ("errors", errors),
                                    ("memory", memory), ("summary", summary)) if on]
    sections = chosen or list(SECTIONS)
    table = PriceTable(prices)
    with open_source(trace, run) as source, LazyProgress(_console(ctx, True), source.size) as bar:
        doc = run_pass(source, sections, table, bar)
    if fmt == "json":
        _emit_json(ctx, doc)
    else:
        from . import render

        render.analysis(_console(ctx), doc)
    _warn(ctx, doc["trace"]["warnings"])
    return 0


@cli.command()
@click.argument("trace", type=click.Path())
@click.option("--event", "event", type=int, help="Show event N (0-based, file order) in full.")
@click.option("--agent", help="Only this agent's spans and what ran inside them.")
@click.option("--chain", help="Only this chain's spans and what ran inside them.")
@click.option("--prompt", help="Only this prompt's spans and what ran inside them.")
@click.option("--tool", help="Only this tool's calls.")
@click.option("--errors-only", is_flag=True, help="Only failed spans and error events.")
@click.option("--tree", is_flag=True, help="The span tree with durations.")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True,
              help="At most this many rows or tree nodes.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help=FORMAT_HELP)
@RUN_OPTION
@click.pass_context
def inspect(ctx, trace, event, agent, chain, prompt, tool, errors_only, tree, limit, fmt, run) -> int:
    """Look at a trace: overview, one event, one component, errors or the span tree."""
    from . import inspect as ins
    from .progress import LazyProgress, reporting
    from .sources import open_source

    filters = {k: v for k, v in (("agent", agent), ("chain", chain), ("prompt", prompt),
                                 ("tool", tool)) if v}
    with open_source(trace, run) as source, \
            LazyProgress(_console(ctx, True), source.size, "inspecting trace") as bar:
        reporting(source, bar)
        if event is not None:
            doc = ins.one_event(source, event)
        elif tree or filters or errors_only:
            doc = ins.spans_view(source, filters, errors_only, tree, limit)
        else:
            doc = ins.overview(source)
    if fmt == "json":
        _emit_json(ctx, doc)
    else:
        from . import render_inspect

        render_inspect.render(_console(ctx), doc)
    _warn(ctx, doc.get("health", {}).get("warnings", []))
    return 0


@cli.command()
@click.argument("trace", type=click.Path())
@click.option("--to", "target", type=click.Choice(["perfetto", "otlp", "jsonl"]), required=True,
              help="perfetto: Chrome Trace Event JSON for ui.perfetto.dev; otlp: OpenTelemetry "
                   "spans (JSON Lines, or --protobuf); jsonl: the earlier debugger's format.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False),
              help="The file to write ('-' for standard output).")
@click.option("--protobuf", is_flag=True,
              help="otlp: binary ExportTraceServiceRequest messages, each preceded by its "
                   "length as a varint, instead of JSON Lines.")
@click.option("--endpoint", metavar="URL",
              help="otlp: send the spans to this OTLP/HTTP receiver (protobuf, gzip) instead "
                   "of writing a file; a bare http://host:port gets /v1/traces.")
@click.option("--max-spans", type=click.IntRange(1),
              help="otlp: at most this many spans per request (default 5,000; requests also "
                   "stay under 4 MiB).")
@click.option("--retries", type=click.IntRange(0, 20),
              help="otlp --endpoint: how often to retry a request the receiver refuses for now "
                   "(429, 502-504) or cannot be reached, with exponential backoff (default 5).")
@RUN_OPTION
@click.pass_context
def export(ctx, trace, target, out, protobuf, endpoint, max_spans, retries, run) -> int:
    """Convert a trace for Perfetto, an OpenTelemetry backend, or the earlier debugger."""
    from .export import check_options, export as run_export
    from .progress import LazyProgress, reporting
    from .sources import open_source

    check_options(target, out, protobuf, endpoint)
    with open_source(trace, run) as source, \
            LazyProgress(_console(ctx, True), source.size, f"exporting to {target}") as bar:
        reporting(source, bar)
        done = run_export(source, target, out, protobuf=protobuf, endpoint=endpoint,
                   max_spans=max_spans, retries=retries)
        health = source.health
    _warn(ctx, health.warnings())
    if endpoint:
        click.echo(done.summary(target, endpoint, "sent"), err=True)
    elif out != "-":
        click.echo(done.summary(target, out), err=True)
    return 0


@cli.command()
@click.argument("trace", type=click.Path())
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False),
              help="The HTML file to write (default: TRACE with .html).")
@click.option("--diff", "other", type=click.Path(),
              help="A second trace of the same program: both timelines, the first divergence marked.")
@click.option("--prices", type=click.Path(dir_okay=False), help="JSON price overrides (USD per 1000 tokens).")
def report(trace, out, other, prices) -> int:
    """One self-contained HTML page of a run: timeline, tree, tokens, errors, source."""
    from .report import write_report
    from .sources import resolve

    trace = resolve(trace)
    other = resolve(other) if other else None
    done = write_report(trace, out or os.path.splitext(trace)[0] + ".html", other, prices)
    folded = f", {done['omitted']:,} more summed per operation" if done["omitted"] else ""
    click.echo(f"wrote {done['path']}: {done['spans']:,} spans drawn{folded}, "
               f"{done['bytes'] / 1e6:.1f} MB; open it in any browser (it loads nothing)", err=True)
    return 0


@cli.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path())
@click.option("--build", type=click.Path(file_okay=False), help="Run this instrumented build folder.")
@click.option("--source", type=click.Path(dir_okay=False), help="Rebuild from this .ai file (may be edited).")
@click.option("--trace-out", type=click.Path(dir_okay=False), help="The replay's own trace (default: next to TRACE).")
@click.option("--on-divergence", type=click.Choice(["stop", "fail", "live"]), help="At a divergence: stop (default), fail, or call the real component (live).")
@click.option("--mock", "mocks", multiple=True, metavar="NAME:JSON", help="What a tool, llm, prompt or agent answers instead (repeatable).")
@click.option("--check", is_flag=True, help="Replay each trace (files or folders) as a regression test: one line each.")
@click.option("--step", is_flag=True, help="Pause at every event.")
@click.option("--breakpoint", "breakpoints", multiple=True, metavar="SPEC", help="Pause at EVENT_TYPE[:N], component:NAME or EVENT:FIELD<op>VALUE (repeatable).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help=FORMAT_HELP)
def replay(traces, build, source, trace_out, on_divergence, mocks, check, step, breakpoints, fmt) -> int:
    """Re-run the program of TRACE with every llm, tool and clock answer taken from it."""
    from .replay.command import replay_command

    return replay_command(traces, build, source, trace_out, on_divergence, mocks, fmt, check,
                          step, breakpoints)


@cli.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help=FORMAT_HELP)
def diff(a, b, fmt) -> int:
    """Two traces of one program, aligned call by call: exit 0 same, 1 different."""
    from .replay.command import diff_command

    return diff_command(a, b, fmt)


def register(group: click.Group, names=("analyze", "inspect", "export", "report")) -> None:
    """Mount the analyzer's commands on another click group (e.g. `namel3ss debug`)."""
    for name in names:
        group.add_command(cli.commands[name], name)


def main(argv=None, *, console=None, err_console=None) -> int:
    """Run the CLI; returns the exit code instead of exiting, for tests and embedding."""
    obj = {"console": console, "err_console": err_console}
    args = list(sys.argv[1:] if argv is None else argv)
    with _CoreWarnings(obj):
        if _wants_json(args):
            return _json_errors(args, obj)
        return run_main(lambda: _main(args, obj))


def _wants_json(args) -> bool:
    return "--format=json" in args or any(
        a == "--format" and b == "json" for a, b in zip(args, args[1:]))


def _err_console(obj):
    if obj.get("err_console") is None:
        from .console import make_console

        obj["err_console"] = make_console(stderr=True)
    return obj["err_console"]


class _CoreWarnings:
    """A core fallback is said once on the error console, never as a raw warnings line."""

    def __init__(self, obj):
        self.obj, self.seen = obj, set()

    def __enter__(self):
        from n3core.corechoice import CoreFallbackWarning

        self.original = original = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, CoreFallbackWarning):
                return original(message, category, filename, lineno, file, line)
            if str(message) not in self.seen:
                self.seen.add(str(message))
                from .render import warnings as say

                say(_err_console(self.obj), [str(message)])
            return None

        warnings.showwarning = show
        return self

    def __exit__(self, *exc):
        warnings.showwarning = self.original


def _json_errors(args, obj) -> int:
    """--format json: an error is also {"error": {...}} on stdout, for the program reading it."""
    try:
        return _main(args, obj, reraise=True)
    except (ToolchainError, click.ClickException) as exc:
        if isinstance(exc, ToolchainError):
            code, message = exc.exit_code, str(exc)
        else:
            code, message = (2 if exc.exit_code == 2 else 1), exc.format_message()
        doc = {"error": {"type": type(exc).__name__, "message": message, "exit_code": code}}
        out = obj.get("console")
        stream = out.file if out is not None else sys.stdout
        stream.write(json.dumps(doc, indent=2) + "\n")
        stream.flush()
        print(f"error: {message}", file=sys.stderr)
        return code


def _main(argv, obj, reraise=False):
    try:
        return cli.main(args=argv, prog_name="n3analyze", standalone_mode=False, obj=obj)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        if reraise:
            raise
        exc.show()
        return 2 if exc.exit_code == 2 else 1
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
