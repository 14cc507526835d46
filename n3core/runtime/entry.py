"""The command line of a build: `python build/app --chain NAME --input JSON [--json]`.

Exit codes: 0 the program ran, 1 the program failed, 2 bad usage or bad input. Failures
print one paragraph (what, which component and where it is declared, how to fix it), never
a traceback; an exception that is not an `N3Error` is a bug in the runtime and keeps its
traceback.
"""
from __future__ import annotations

import json
import sys

from n3core.errors import FAILED, OK, USAGE, run_main

from .errors import N3Error, UsageError
from .chain import UNSET
from .printable import printable


def _parser(prog: str | None):
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog, description="Run a compiled namel3ss program.",
        epilog="With no --chain/--agent/--prompt the program's only chain runs "
               "(or, without chains, its only agent).")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--chain", metavar="NAME", help="run this chain (--input is JSON)")
    which.add_argument("--agent", metavar="NAME", help="run this agent (--input is text)")
    which.add_argument("--prompt", metavar="NAME", help="run this prompt (--input is JSON)")
    which.add_argument("--run-args", metavar="JSON",
                       help='\'{"input": ..., "entry": "chain:NAME"}\'')
    parser.add_argument("--input", metavar="VALUE", help="the input (JSON, or text for an agent)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _usage(message: str, hint: str | None = None) -> UsageError:
    return UsageError(message, hint=hint)


def _parse_json(text: str, what: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _usage(f"--input for {what} must be JSON ({exc})",
                     hint="""quote it, e.g. --input '{"topic": "tides"}' or --input '"text"'""") from None


def _input_fields(kind: str, component) -> list | None:
    """The input fields `component` reads, [] when it reads the input whole, None when it
    reads no input at all (then running it without --input is fine)."""
    import re

    if kind == "prompt":
        names = list(getattr(component, "variables", None) or ())
        template = str(getattr(component, "template", "") or "")
        return names or ([] if "{{" in template else None)
    steps = list(getattr(component, "steps", ()) or ())
    text = repr([(s.input, s.template, s.when, s.parallel) for s in steps])
    fields = list(dict.fromkeys(re.findall(r"\{\{\s*input\.([A-Za-z_]\w*)", text)))
    if fields:
        return fields
    first = steps[0] if steps else None
    reads_whole = re.search(r"\{\{\s*input\b", text) or (
        first is not None and first.input is UNSET and first.kind != "template")
    return [] if reads_whole else None


def _missing_input(kind: str, component, fields: list) -> UsageError:
    """Naming the fields the entry reads, so the fix can be typed at once."""
    example = json.dumps({f: "..." for f in fields} if fields else {"field": "..."})
    reads = f" (it reads {', '.join(fields)})" if fields else ""
    return _usage(f"{kind} '{component.name}' needs an input{reads}: give --input with a "
                  "JSON value", hint=f"e.g. --input '{example}'")


def _plan(app, args):
    """(entry, input) from the parsed arguments; raises UsageError on bad input."""
    if args.run_args is not None:
        if args.input is not None:
            raise _usage("--input cannot be combined with --run-args",
                         hint="put the input inside --run-args as \"input\"")
        try:
            run_args = json.loads(args.run_args)
        except ValueError as exc:
            raise _usage(f"--run-args must be JSON ({exc})") from None
        if not isinstance(run_args, dict):
            raise _usage("--run-args must be a JSON object",
                         hint='--run-args \'{"input": {...}, "entry": "chain:NAME"}\'')
        entry = run_args.get("entry")
        if entry is not None and not isinstance(entry, str):
            raise _usage("\"entry\" in --run-args must be a string like \"chain:NAME\"")
        return entry, run_args.get("input")
    for kind in ("chain", "agent", "prompt"):
        name = getattr(args, kind)
        if name is not None:
            entry = f"{kind}:{name}"
            break
    else:
        entry = None
    kind, component = app.resolve_entry(entry)
    if args.input is None:
        fields = _input_fields(kind, component) if kind in ("chain", "prompt") else None
        if fields is not None:
            raise _missing_input(kind, component, fields)
        return entry, None
    if kind == "agent":
        return entry, args.input
    return entry, _parse_json(args.input, f"a {kind}")


def _print_result(result, as_json: bool) -> None:
    if isinstance(result, str) and not as_json:
        print(result)
        return
    if result is None and not as_json:
        return
    value, replaced = printable(result)
    print(json.dumps(value, ensure_ascii=False, indent=None if as_json else 2))
    if replaced:
        print(f"note: the result held {', '.join(replaced)}; those parts are shown as "
              "markers. The run itself succeeded. Fix: return plain JSON values (str, int, "
              "float, bool, None, lists and dicts with string keys) to print them whole.",
              file=sys.stderr)


def main(app, argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run `app` as the command line asks; returns the process exit code."""
    return run_main(lambda: _main(app, argv, prog))


def _main(app, argv, prog) -> int:
    parser = _parser(prog)
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse has printed usage (or --help) already
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        if not app.finalized:
            app.finalize()
        entry, value = _plan(app, args)
        result = app.run_sync(entry, value)
    except N3Error as err:
        if args.json:
            print(json.dumps({"error": err.to_dict()}, ensure_ascii=False))
        raise
    except KeyboardInterrupt:
        print("error[INTERRUPTED]: the run was interrupted.", file=sys.stderr)
        return FAILED
    _print_result(result, args.json)
    return OK


def run_program(module: str = "program", argv: list[str] | None = None) -> int:
    """Import a build's program module and run it; what `python BUILD_DIR` does.

    Importing the program declares and finalizes the app, so a bad configuration is
    reported here as one paragraph rather than as a traceback from the import.
    """
    import importlib

    return run_main(lambda: _main(importlib.import_module(module).app, argv, None))
