"""One error base: every error we raise on purpose derives from it and carries its exit code.

The three command lines (`namel3ss`, `n3analyze`, a build's `python DIR`) catch only that
base; a bug propagates with its traceback.
"""
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import analyzer
import n3core
import n3instrument
from analyzer import cli as analyzer_cli
from analyzer.errors import AnalyzerError, OutputError, TraceNotFoundError
from n3core import runtime as n3
from n3core.corechoice import CoreFallbackWarning, CoreUnavailableError
from n3core.errors import ToolchainError, run_main
from n3core.runtime import entry
from n3core.runtime.errors import ConfigError, N3Error, ToolError
from n3core.runtime.errors import UsageError as RunUsageError
from n3core.tracing.errors import TraceConfigError, TraceFormatError, TraceStateError
from n3instrument import cli as namel3ss_cli
from n3instrument.errors import BuildError, CompilerError
from n3instrument.errors import UsageError as BuildUsageError
from n3instrument.frontend.diagnostics import FrontendError, error
from n3instrument.frontend.nodes import Location
from n3instrument.frontend.parser import Problem

ROOT = Path(__file__).resolve().parent.parent
RETRY = ROOT / "examples" / "structured_retry" / "app.ai"

# Caught by its one caller and turned into a ProviderError or ToolError. Private classes
# (a leading underscore) are control flow inside one module and are not listed.
# Replay's QuitReplay and StopReplay unwind a replay to its driver, which catches them;
# TraceReplayFailed is a test failure the pytest plugin reports.
INTERNAL = ["n3core.runtime.transport.TransportError", "analyzer.replay.debugger.QuitReplay",
            "analyzer.replay.engine.StopReplay", "analyzer.replay.plugin.TraceReplayFailed",
            # raw text that never closes: the lexer turns it into a SYNTAX_ERROR at once
            "n3instrument.frontend.rawtext.Unclosed",
            # a payload asked for as plain is not: the replay book reads it whole instead
            "n3core.tracing.payload.NotPlain"]


def _our_modules():
    for package in (n3core, n3instrument, analyzer):
        yield package.__name__
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                yield info.name


def _defined_here(cls_filter):
    found = []
    for name in _our_modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == name and cls_filter(obj):
                found.append(obj)
    return found


def test_every_error_class_of_ours_derives_from_the_one_base():
    errors = _defined_here(lambda c: issubclass(c, BaseException) and not issubclass(c, Warning))
    outside = sorted(f"{c.__module__}.{c.__qualname__}" for c in errors
                     if not issubclass(c, ToolchainError) and not c.__name__.startswith("_"))
    assert outside == sorted(INTERNAL)
    assert len(errors) > 25  # the walk really reached every package


def test_one_warning_class_per_meaning():
    warnings = _defined_here(lambda c: issubclass(c, Warning))
    names = [c.__name__ for c in warnings]
    assert sorted(set(names)) == sorted(names)
    assert CoreFallbackWarning in warnings


def test_every_subclass_says_what_it_is_in_one_line():
    for cls in _defined_here(lambda c: issubclass(c, ToolchainError)):
        doc = cls.__doc__ or ""
        assert doc.strip() and "\n" not in doc.strip(), f"{cls.__qualname__}: {doc!r}"


def _frontend_error():
    return FrontendError([error("SYNTAX_ERROR", "expected `{`", Location("app.ai", 2, 5))])


# The contract of DESIGN.md: 1 the program or a check failed, 2 bad usage or bad input.
CASES = [
    (ConfigError("bad llm", kind="llm", name="m"), 1, "error[CONFIG_ERROR] in llm 'm'"),
    (ToolError("tool broke"), 1, "error[TOOL_ERROR]"),
    (RunUsageError("no chain 'x'"), 2, "error[USAGE_ERROR]"),
    (TraceFormatError("f.n3t is not a trace"), 2, "error: f.n3t is not a trace"),
    (TraceConfigError("policy='sometimes'"), 2, "policy='sometimes'"),
    (TraceStateError("already tracing"), 2, "already tracing"),
    (CoreUnavailableError("N3TRACE_CORE=c"), 2, "N3TRACE_CORE=c"),
    (TraceNotFoundError("no trace in d/"), 2, "error: no trace in d/"),
    (OutputError("cannot write out.json"), 1, "cannot write out.json"),
    (BuildUsageError("no such profile"), 2, "error: no such profile"),
    (BuildError([]), 1, "0 error(s) in the program"),
    (_frontend_error(), 1, "app.ai:2:5"),
    (Problem("expected a name", Location("app.ai", 1, 1)), 1, "expected a name"),
]


@pytest.mark.parametrize("exc, code, text", CASES, ids=lambda v: type(v).__name__)
def test_the_wrapper_reports_each_error_with_its_class_exit_code(exc, code, text, capsys):
    def body():
        raise exc

    assert run_main(body) == code
    out, err = capsys.readouterr()
    assert out == "" and text in err and "Traceback" not in err


def test_bases_keep_their_package_meaning():
    assert issubclass(RunUsageError, N3Error) and issubclass(BuildUsageError, CompilerError)
    assert issubclass(TraceNotFoundError, AnalyzerError)
    assert CoreUnavailableError.exit_code == 2 and N3Error.exit_code == 1


def test_the_wrapper_passes_return_values_through():
    assert run_main(lambda: 3) == 3
    assert run_main(lambda: None) == 0


def test_the_wrapper_lets_a_bug_propagate():
    with pytest.raises(ZeroDivisionError):
        run_main(lambda: 1 / 0)


def test_a_bug_propagates_from_each_main(monkeypatch, tmp_path):
    def bug(*args, **kwargs):
        raise RuntimeError("a bug, not a user error")

    app = n3.App(None)
    app.llm("m", {"provider": "mock"}, loc=n3.Loc("app.ai", 1, 1))
    app.prompt("p", {"model": n3.Ref("m"), "template": "hi"}, loc=n3.Loc("app.ai", 2, 1))
    monkeypatch.setattr(type(app), "run_sync", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        entry.main(app, ["--prompt", "p", "--input", "{}"])

    monkeypatch.setattr("analyzer.sources.open_source", bug)
    (tmp_path / "t.n3t").write_bytes(b"")
    with pytest.raises(RuntimeError, match="a bug"):
        analyzer_cli.main(["analyze", str(tmp_path / "t.n3t")])

    monkeypatch.setattr("n3instrument.frontend.check_file", bug)
    source = tmp_path / "ok.ai"
    source.write_text('llm m { provider: "mock" }\n')
    with pytest.raises(RuntimeError, match="a bug"):
        namel3ss_cli.main(["check", str(source)])


def test_the_mains_turn_our_errors_into_exit_codes(tmp_path, capsys):
    assert analyzer_cli.main(["analyze", str(tmp_path / "nope.n3t")]) == 2
    assert "nope.n3t" in capsys.readouterr().err
    assert namel3ss_cli.main(["build", str(RETRY), "-o", str(tmp_path / "b"), "--instrument",
                              "--profile", str(tmp_path / "none.toml")]) == 2
    app = n3.App(None)
    app.agent("a", {"llm": n3.Ref("missing")}, loc=n3.Loc("app.ai", 3, 1))
    assert entry.main(app, ["--agent", "a", "--input", "hi", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["code"] == "CONFIG_ERROR" and "app.ai:3:1" in err


def _namel3ss(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "n3instrument.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **(env or {})})


def test_the_runtime_copy_raises_instances_of_the_same_base(tmp_path):
    out = tmp_path / "build"
    done = _namel3ss("build", RETRY, "-o", out, "--instrument")
    assert done.returncode == 0, done.stderr
    probe = ("import sys; import _n3_runtime.errors as copy, n3core.runtime.errors as installed\n"
             "from n3core.errors import ToolchainError, run_main\n"
             "assert copy.N3Error is not installed.N3Error\n"
             "assert issubclass(copy.UsageError, ToolchainError)\n"
             "def body():\n"
             "    raise copy.UsageError('no chain nope', kind='chain')\n"
             "sys.exit(run_main(body))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(out)})
    assert proc.returncode == 2, proc.stderr
    assert "error[USAGE_ERROR] in chain: no chain nope." in proc.stderr


def test_an_instrumented_run_reports_copy_errors_like_plain_ones(tmp_path):
    env = {"NAMEL3SS_CACHE_DIR": str(tmp_path / "cache"), "NAMEL3SS_DEBUG_ENABLED": "true",
           "NAMEL3SS_DEBUG_OUTPUT_DIR": str(tmp_path / "traces")}
    plain = _namel3ss("run", RETRY, "--chain", "nope", "--input", "{}",
                      env={"NAMEL3SS_CACHE_DIR": str(tmp_path / "cache")}, cwd=tmp_path)
    traced = _namel3ss("run", RETRY, "--chain", "nope", "--input", "{}", env=env, cwd=tmp_path)
    assert plain.returncode == traced.returncode == 2
    assert "Traceback" not in traced.stderr
    assert plain.stderr.strip().splitlines()[-1] == traced.stderr.strip().splitlines()[-1]
