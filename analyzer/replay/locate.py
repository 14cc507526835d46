"""Find the build a trace came from, or make one, trusting nothing the header names.

A path from the trace header is used only if it exists, has the expected shape (a regular
`.ai` file; a folder with manifest.json, program.py and sites.json) and the hash of its
site table matches the one recorded: a trace is data, and its header must not choose
which code runs. The header's source is run as it is now: a cached build is one of its
current text, so a program edited since the run (traces kept as regression tests) is
checked against the record rather than hidden behind a stale build. `--build` and `--source` are the user's own choice and are only checked
for shape.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import NoBuildError, ReplayInputError

BUILD_FILES = ("manifest.json", "program.py", "sites.json")


@dataclass(frozen=True)
class Located:
    path: Path
    how: str  # "build", "source", "cache" or "header source"
    sites_match: bool


def locate(header, *, build: str | None = None, source: str | None = None) -> Located:
    """The build to replay; NoBuildError (exit 2) when there is none to be had."""
    expected = (header.metadata or {}).get("sites_sha256")
    if build is not None:
        path = Path(build)
        problem = build_problem(path)
        if problem:
            raise ReplayInputError(f"--build {build}: {problem}. Fix: pass the folder "
                                   "`namel3ss build --instrument` wrote, or --source APP.ai.")
        return Located(path.resolve(), "build", sites_hash(path) == expected)
    if source is not None:
        if not os.path.isfile(source):
            raise ReplayInputError(f"--source {source}: no such file. Fix: pass the .ai "
                                   "file of the program the trace came from.")
        path = compile_source(source)
        return Located(path, "source", sites_hash(path) == expected)
    return _from_header(header, expected)


def _from_header(header, expected) -> Located:
    meta = header.metadata or {}
    named = meta.get("source_path")
    if not isinstance(named, str) or not isinstance(expected, str):
        raise NoBuildError("the trace header names no source file and no site-table hash, "
                           "so there is no build to replay. Fix: pass --build DIR or --source APP.ai.")
    source = Path(named)
    if not (source.suffix == ".ai" and source.is_file() and not source.is_symlink()):
        raise NoBuildError(f"the trace was recorded from {named}, which is not a regular .ai "
                           "file here. Fix: pass --source APP.ai (the program, possibly edited) "
                           "or --build DIR (its instrumented build).")
    current = hashlib.sha256(source.read_bytes()).hexdigest()
    for folder in _cache_dirs(source):
        for candidate in sorted(folder.iterdir()) if folder.is_dir() else ():
            if not build_problem(candidate) and sites_hash(candidate) == expected \
                    and _manifest(candidate).get("source_sha256") == current:
                return Located(candidate.resolve(), "cache", True)
    path = compile_source(str(source))
    if sites_hash(path) != expected:
        raise NoBuildError(f"{named} has changed since the trace was recorded (its site table "
                           "no longer matches the trace's). Fix: pass --source to replay the "
                           "edited program against this trace, or --build DIR for the original.")
    return Located(path, "header source", True)


def _cache_dirs(source: Path) -> list:
    dirs = [source.parent / ".namel3ss" / "builds"]
    env = os.environ.get("NAMEL3SS_CACHE_DIR")
    if env:
        dirs.insert(0, Path(env))
    return dirs


def build_problem(path: Path) -> str | None:
    """Why `path` is not an instrumented build folder, or None."""
    if not path.is_dir():
        return "not a folder"
    for name in BUILD_FILES:
        if not (path / name).is_file():
            return f"no {name} (not a namel3ss build)"
    try:
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return f"manifest.json is unreadable ({exc})"
    if not isinstance(manifest, dict) or not (manifest.get("flags") or {}).get("instrument"):
        return "not an instrumented build (replay needs the tracepoints `--instrument` compiles in)"
    return None


def _manifest(path: Path) -> dict:
    try:
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def sites_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256((path / "sites.json").read_bytes()).hexdigest()
    except OSError:
        return None


def compile_source(source: str) -> Path:
    """An instrumented build of `source`, from the build cache or compiled now."""
    try:
        from n3instrument.build import cached_build
        from n3instrument.errors import BuildError, CompilerError
    except ImportError:
        raise NoBuildError("this n3analyze has no compiler, so it cannot build a .ai file. "
                           "Fix: build it with `namel3ss build --instrument APP.ai -o DIR` and "
                           "pass --build DIR.") from None
    try:
        return cached_build(source, instrument=True).path
    except BuildError as exc:
        first = next((d for d in exc.diagnostics if d.severity == "error"), None)
        where = f" at {first.loc.file}:{first.loc.line}:{first.loc.column}: {first.message}" if first else ""
        raise ReplayInputError(f"{source} does not compile{where}. Fix: `namel3ss check {source}` "
                               "shows every error.") from None
    except CompilerError as exc:
        raise ReplayInputError(str(exc)) from None
