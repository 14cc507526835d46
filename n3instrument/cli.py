"""The `namel3ss` command: check, build and run `.ai` programs.

Heavy modules (lark, the runtime, rich) are imported inside the commands that need
them, so `namel3ss --help` stays fast. `main()` turns the project's own errors into
exit codes (1: the program or check failed, 2: bad usage or input), whichever package or
runtime copy raised them; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import json
import sys

import click

from n3core.errors import run_main

from . import __version__
from .errors import BuildError


ENVIRONMENT = """\b
Environment:
  NAMEL3SS_DEBUG_ENABLED=true    run through an instrumented build and trace the run
  NAMEL3SS_DEBUG_OUTPUT_DIR      where traces go (default debug/traces)
  NAMEL3SS_DEBUG_COMPONENTS, NAMEL3SS_DEBUG_EVENT_TYPES
                                 comma-separated lists of what to record
  NAMEL3SS_DEBUG_BUFFER_SIZE, NAMEL3SS_DEBUG_POLICY, NAMEL3SS_DEBUG_CAPTURE_MEMORY,
  NAMEL3SS_DEBUG_CAPTURE_PERFORMANCE, NAMEL3SS_DEBUG_RETENTION_DAYS
                                 the tracer's settings (docs/tracepoints.md)
  NAMEL3SS_DEBUG_OTLP_ENDPOINT   stream spans to this OTLP/HTTP receiver while running
  NAMEL3SS_CACHE_DIR             where `run` and `debug trace` keep their builds
  N3TRACE_CORE=c|python          force the tracing core
  N3ANALYZE_CORE=c|python        force the analysis core
  NO_COLOR=1                     plain output
The same settings can sit in .namel3ss/debug.json (lower case, without the prefix).
"""
FILTER_COMPONENTS = "app, llm, prompt, tool, memory, agent, chain, runtime, python"
POLICY_HELP = ("block: never lose an event (default); drop: never stall the program, count "
               "what is lost; flight-recorder: keep the last events in memory, write them "
               "when the program fails or is signalled.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=ENVIRONMENT)
@click.version_option(__version__, prog_name="namel3ss")
def cli() -> None:
    """Compile, check and run namel3ss `.ai` programs."""


@cli.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: diagnostics with a caret on stderr; json: one document on stdout.")
def check(source: str, fmt: str) -> None:
    """Check SOURCE for syntax and semantic errors (exit 1 if there are any)."""
    from .frontend import check_file

    _require_file(source)
    program, diagnostics = check_file(source)
    errors = sum(d.severity == "error" for d in diagnostics)
    if fmt == "json":
        click.echo(json.dumps({
            "file": source,
            "ok": errors == 0,
            "errors": errors,
            "diagnostics": [d.to_dict() for d in diagnostics],
        }, indent=2))
    else:
        _print_diagnostics(diagnostics)
        if errors == 0:
            decls = len(program.declarations) if program else 0
            click.echo(f"{source}: ok ({decls} declarations)", err=True)
    if errors:
        raise SystemExit(1)


@cli.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="The build folder to write (replaced if it holds an earlier build).")
@click.option("--instrument", is_flag=True, help="Compile tracepoints in.")
@click.option("--profile", type=click.Path(dir_okay=False, exists=True),
              help="A tracepoint profile (TOML) instead of the built-in one.")
@click.option("--filter", "filters", multiple=True, metavar="COMPONENT",
              help=f"Instrument only these components (repeatable): {FILTER_COMPONENTS}.")
@click.option("--instrument-module", "user_modules", multiple=True, type=click.Path(dir_okay=False),
              help="Also trace this Python module of the program (repeatable), e.g. tools/search.py.")
def build(source: str, out_dir: str, instrument: bool, profile, filters, user_modules) -> None:
    """Compile SOURCE into a build folder that `python DIR` runs."""
    from .build import build as do_build

    _require_file(source)
    if (profile or filters or user_modules) and not instrument:
        raise click.UsageError("--profile, --filter and --instrument-module need --instrument")
    result = do_build(source, out_dir, instrument=instrument, profile=profile, filters=filters,
                      user_modules=user_modules)
    click.echo(f"built {source} -> {result.path}", err=True)


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("target", type=click.Path())
@click.option("--chain", help="Run this chain.")
@click.option("--agent", help="Run this agent.")
@click.option("--prompt", help="Run this prompt.")
@click.option("--input", "input_", help="The input: JSON for chains and prompts, text for agents.")
@click.option("--run-args", help='JSON such as {"input": ..., "entry": "chain:NAME"}.')
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run(target, chain, agent, prompt, input_, run_args, as_json) -> None:
    """Run TARGET, a `.ai` file (built into a cache on first use) or a build folder.

    With NAMEL3SS_DEBUG_ENABLED=true a `.ai` file runs through a cached instrumented build.
    """
    raise SystemExit(_run(_build_for(target, _debug_enabled()), chain, agent, prompt, input_, run_args, as_json))


def _run(build_dir, chain, agent, prompt, input_, run_args, as_json) -> int:
    from .loader import load_build

    app = load_build(build_dir)
    import importlib

    run_main = importlib.import_module(type(app).__module__.rsplit(".", 1)[0] + ".entry").main
    argv = []
    for flag, value in (("--chain", chain), ("--agent", agent), ("--prompt", prompt),
                        ("--input", input_), ("--run-args", run_args)):
        if value is not None:
            argv += [flag, value]
    if as_json:
        argv.append("--json")
    return run_main(app, argv)


class _DebugGroup(click.Group):
    """`namel3ss debug`: `trace` lives here; the rest are the analyzer's own commands,
    loaded only when asked for so that `namel3ss --help` stays fast."""

    ANALYZER = ("analyze", "inspect", "export", "replay", "diff", "report")

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.ANALYZER))

    def get_command(self, ctx, name):
        if name in self.ANALYZER:
            from analyzer.cli import cli as analyzer_cli

            return analyzer_cli.commands[name]
        return super().get_command(ctx, name)


@cli.group(cls=_DebugGroup)
def debug() -> None:
    """Trace a run, then analyze, inspect, export, report, replay or diff traces."""


@debug.command("trace")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--filter", "filters", multiple=True, metavar="COMPONENT",
              help=f"Trace only these components (repeatable): {FILTER_COMPONENTS}.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the trace here.")
@click.option("--chain", help="Run this chain.")
@click.option("--agent", help="Run this agent.")
@click.option("--prompt", help="Run this prompt.")
@click.option("--input", "input_", help="The input: JSON for chains and prompts, text for agents.")
@click.option("--run-args", help='JSON such as {"input": ..., "entry": "chain:NAME"}.')
@click.option("--memory/--no-memory", default=None, help="Sample RSS while tracing.")
@click.option("--performance/--no-performance", default=None, help="Record performance markers.")
@click.option("--buffer-size", type=click.IntRange(min=16), help="Ring buffer size in events.")
@click.option("--policy", type=click.Choice(["block", "drop", "flight-recorder"]), help=POLICY_HELP)
@click.option("--report", "with_report", is_flag=True,
              help="Also write the HTML report next to the trace and print its path.")
def debug_trace(source, filters, output, chain, agent, prompt, input_, run_args, memory,
                performance, buffer_size, policy, with_report) -> None:
    """Trace one run of SOURCE and summarise it."""
    from n3core.tracing import bootstrap, session

    from .instrument.sites import check_filters

    _require_file(source)
    build_dir = _build_for(source, instrument=True, filters=check_filters(filters))
    overrides = {"enabled": True, "output": output, "capture_memory": memory,
                 "capture_performance": performance, "buffer_size": buffer_size, "policy": policy}
    try:
        with bootstrap.overriding(overrides):
            code = _run(build_dir, chain, agent, prompt, input_, run_args, False)
    finally:
        tracer = session.active()
        path = tracer.path if tracer else None
        bootstrap.finish()
        session.stop()
    if path:
        from analyzer.cli import main as analyzer_main

        click.echo(f"trace written to {path}", err=True)
        analyzer_main(["analyze", str(path), "--summary"])
        if with_report:
            analyzer_main(["report", str(path)])
    raise SystemExit(code)


def _debug_enabled() -> bool:
    from n3core.tracing.settings import load_settings

    return load_settings().enabled


def _build_for(target: str, instrument: bool = False, filters=()):
    from pathlib import Path

    path = Path(target)
    if path.is_dir():
        if not (path / "manifest.json").is_file():
            raise click.BadParameter(f"{target} is a folder but not a namel3ss build", param_hint="TARGET")
        return path
    _require_file(target)
    from .build import cached_build

    return cached_build(path, instrument=instrument, filters=filters).path


def _require_file(path: str) -> None:
    import os

    if not os.path.isfile(path):
        raise click.BadParameter(f"no such file: {path}", param_hint="SOURCE")


def _print_diagnostics(diagnostics) -> None:
    from .frontend.diagnostics import render

    sources: dict[str, str | None] = {}
    for diagnostic in diagnostics:
        file = diagnostic.loc.file
        if file not in sources:
            try:
                with open(file, encoding="utf-8", errors="replace") as handle:
                    sources[file] = handle.read()
            except OSError:
                sources[file] = None
        click.echo(render(diagnostic, sources[file]) + "\n", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `namel3ss` script; returns the exit code."""
    return run_main(lambda: _main(argv))


def _main(argv):
    try:
        return cli.main(args=argv, prog_name="namel3ss", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BuildError as exc:
        _print_diagnostics(exc.diagnostics)
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


if __name__ == "__main__":
    sys.exit(main())
