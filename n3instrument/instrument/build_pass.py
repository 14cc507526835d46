"""The instrumented half of a build: a traced copy of the runtime and a program that uses it.

The installed `n3core.runtime` is never modified. The build gets its own copy under the
private package name `_n3_runtime`, rewritten so each tracepoint is a direct call into
`n3core.tracing.hooks` with a static site id, and `program.py` is pointed at that copy.
A plain build never reaches this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import libcst as cst

from ..errors import UsageError
from .positions import line_runs
from .profile import Profile, Tracepoint
from .sites import SitePlan, plan_sites
from .transform import PREFIX, Point, instrument_source

RUNTIME = "n3core.runtime"
RUNTIME_COPY = "_n3_runtime"
HOOKS_MODULE = "n3core.tracing.hooks"
BOOTSTRAP = f"from n3core.tracing.bootstrap import start_from_build as {PREFIX}start"
POSITIONS = "_n3_positions"  # the build's copy of mapped_import
# One line, so every later line of program.py and __main__.py keeps its number.
USE_POSITIONS = f"from {POSITIONS} import install as {PREFIX}positions; {PREFIX}positions(__file__); "


@dataclass
class InstrumentedBuild:
    files: dict[str, str]
    plan: SitePlan
    warnings: list[str] = field(default_factory=list)
    positions: dict = field(default_factory=dict)  # module -> where it is and its line table

    def add_module(self, module: str, path: str, original: str, rewritten: str, origin: dict) -> None:
        """Add a rewritten module whose tracebacks name `origin`'s lines."""
        self.files[path] = rewritten
        self.positions[module] = {"path": path, "origin": origin, "lines": line_runs(original, rewritten)}

    def positions_json(self) -> str:
        """One module per line: small, and a rebuild's diff names the modules that changed."""
        import json

        rows = [f"  {json.dumps(name)}: {json.dumps(entry, sort_keys=True, separators=(',', ':'))}"
                for name, entry in sorted(self.positions.items())]
        return '{"format": 1, "modules": {\n' + ",\n".join(rows) + "\n}}\n"


def instrument_build(program, program_py: str, main_py: str, profile: Profile, filters=()) -> InstrumentedBuild:
    """Return the extra and replaced files of an instrumented build of `program`."""
    plan = plan_sites(program, profile, filters)
    by_module: dict[str, list[tuple[Tracepoint, Point, str | None]]] = {}
    for tp in plan.tracepoints:
        by_module.setdefault(tp.module, []).append(_point(tp, plan))
    foreign = sorted(m for m in by_module if m != RUNTIME and not m.startswith(RUNTIME + "."))
    if foreign:
        raise UsageError(
            f"the profile {profile.name} targets {', '.join(foreign)}, outside the namel3ss "
            "runtime; trace user modules with --instrument-module instead."
        )
    files = {
        "program.py": rewrite_program(program_py),
        "__main__.py": main_py.replace(f"from {RUNTIME}.entry ", f"{USE_POSITIONS}from {RUNTIME_COPY}.entry "),
        "sites.json": plan.to_json(),
        f"{POSITIONS}.py": resources.files(__package__).joinpath("mapped_import.py").read_text("utf-8"),
    }
    built = InstrumentedBuild(files, plan)
    root = resources.files(RUNTIME)
    for relpath, source in _package_sources(root):
        module = RUNTIME + "." + relpath[:-3].replace("/", ".").removesuffix(".__init__")
        if relpath == "__init__.py":
            module = RUNTIME
        entries = by_module.pop(module, [])
        rewritten = source
        if entries:
            points = [point for _, point, _ in entries]
            prelude = tuple(table for _, _, table in entries if table)
            result = instrument_source(source, points, HOOKS_MODULE, prelude)
            rewritten = result.code
            built.warnings += [f"{module}:{name} was not found; its tracepoint is skipped" for name in result.missing]
        built.add_module(RUNTIME_COPY + module[len(RUNTIME):], f"{RUNTIME_COPY}/{relpath}", source, rewritten,
                         {"package": RUNTIME, "file": relpath})
    for module, entries in by_module.items():
        built.warnings += [f"{tp.target}: no such runtime module; its tracepoint is skipped" for tp, _, _ in entries]
    return built


def _point(tp: Tracepoint, plan: SitePlan) -> tuple[Tracepoint, Point, str | None]:
    fallback, table = plan.lookups[tp.target]
    if tp.per and table:
        var = f"{PREFIX}sites_{tp.qualname.replace('.', '_')}"
        site, prelude = f"{var}.get({tp.per}, {fallback})", f"{var} = {table!r}"
    else:
        site, prelude = str(fallback), None
    point = Point(tp.qualname, site, tp.kind, tp.capture, tp.capture_return, tp.boundary is not None)
    return tp, point, prelude


def _package_sources(root, prefix: str = ""):
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir() and entry.name != "__pycache__":
            yield from _package_sources(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".py"):
            yield prefix + entry.name, entry.read_text("utf-8")


class _UseRuntimeCopy(cst.CSTTransformer):
    """`from n3core import runtime as n3` becomes, on the same line, the tracer's start and the
    copy's import."""

    def __init__(self):
        super().__init__()
        self.found = False

    def leave_SimpleStatementLine(self, original, updated):
        statement = updated.body[0]
        if (
            isinstance(statement, cst.ImportFrom)
            and isinstance(statement.module, cst.Name)
            and statement.module.value == "n3core"
            and not isinstance(statement.names, cst.ImportStar)
            and [a.name.value for a in statement.names] == ["runtime"]
        ):
            self.found = True
            return cst.parse_statement(
                f"{USE_POSITIONS}{BOOTSTRAP}; {PREFIX}start(__file__); import {RUNTIME_COPY} as n3\n")
        return updated


def rewrite_program(source: str) -> str:
    transformer = _UseRuntimeCopy()
    code = cst.parse_module(source).visit(transformer).code
    if not transformer.found:
        raise ValueError("program.py does not import n3core.runtime; was it made by the lowering?")
    return code
