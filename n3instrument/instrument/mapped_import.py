"""Import a build's rewritten modules with the line numbers of the code they were made from.

The pass writes readable rewritten source, and readable code needs lines of its own (a
`try:`, an import), so the rewritten text cannot keep every line where it was. As pytest's
assertion rewriting does, the positions are put back on the tree before compiling: each
module is compiled from its rewritten text with the line table the build recorded in
`positions.json`, under the name of the file it was made from (the installed runtime, or
the build's copy of a user module), so a traceback names the same file:line as a plain
build. This file is copied into instrumented builds as `_n3_positions.py` and needs only
the standard library.
"""
from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import json
import os
import sys

TABLE = "positions.json"
_installed: set = set()


def expand(runs) -> dict:
    """Line of the rewritten text -> (line, column shift or None, indent, length) of the origin."""
    table = {}
    for start, origin, count, shift, *whole in runs:
        for offset in range(count):
            table[start + offset] = (origin + (0 if whole else offset), None if whole else shift,
                                     *(whole or (0, 0)))
    return table


def compile_mapped(text: str, runs, filename: str):
    """Compile rewritten `text` with each node moved to the line it came from."""
    tree = ast.parse(text, filename)
    table = expand(runs)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) is None:
            continue
        node.lineno, node.col_offset = _place(table, node.lineno, node.col_offset, end=False)
        if getattr(node, "end_lineno", None) is not None:
            node.end_lineno, node.end_col_offset = _place(table, node.end_lineno, node.end_col_offset, end=True)
            if (node.end_lineno, node.end_col_offset) < (node.lineno, node.col_offset):
                node.end_lineno, node.end_col_offset = node.lineno, node.col_offset
    return compile(tree, filename, "exec", dont_inherit=True)


def _place(table, line, column, end):
    origin, shift, indent, length = table.get(line, (line, 0, 0, 0))
    if shift is None:  # a line the pass changed: point at the whole original line
        return origin, length if end else indent
    return origin, max(0, (column or 0) - shift)


class _Loader(importlib.machinery.SourceFileLoader):
    def __init__(self, name, path, runs, origin):
        super().__init__(name, path)
        self.runs, self.origin = runs, origin

    def get_code(self, fullname):
        text = self.get_data(self.path).decode("utf-8")
        return compile_mapped(text, self.runs, self.origin)


class _Finder:
    """Finds the modules named in one build's `positions.json`, and only those."""

    def __init__(self, build: str, modules: dict):
        self.build, self.modules = build, modules

    def find_spec(self, name, path=None, target=None):
        entry = self.modules.get(name)
        if entry is None:
            return None
        location = os.path.join(self.build, *entry["path"].split("/"))
        loader = _Loader(name, location, entry["lines"], _origin(self.build, entry))
        package = [os.path.dirname(location)] if entry["path"].endswith("/__init__.py") else None
        return importlib.util.spec_from_file_location(name, location, loader=loader,
                                                      submodule_search_locations=package)

    def invalidate_caches(self):
        pass


def _origin(build: str, entry: dict) -> str:
    origin = entry["origin"]
    if "package" in origin:  # the installed package the copy was made from, wherever it is now
        spec = importlib.util.find_spec(origin["package"])
        if spec is not None and spec.submodule_search_locations:
            return os.path.join(list(spec.submodule_search_locations)[0], *origin["file"].split("/"))
    if "build" in origin:
        return os.path.join(build, *origin["build"].split("/"))
    return os.path.join(build, *entry["path"].split("/"))


def install(main_file: str) -> None:
    """Put the build holding `main_file` first on the import path for its rewritten modules."""
    build = os.path.dirname(os.path.abspath(main_file))
    if build in _installed:
        return
    try:
        with open(os.path.join(build, TABLE), encoding="utf-8") as handle:
            modules = json.load(handle)["modules"]
    except (OSError, ValueError, KeyError):
        return  # without the table the modules import as plain files: shifted lines, same code
    _installed.add(build)
    sys.meta_path.insert(0, _Finder(build, modules))
