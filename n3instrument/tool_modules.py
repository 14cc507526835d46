"""The program's own python tool modules, found so a build can carry copies of them.

A build runs wherever it is moved, so the modules its python tools name (and the local
modules those import) travel inside it rather than being imported from the source folder.
Only files under the program's folder are taken; a name that is not found there is an
installed package, imported from the environment as before.
"""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from .frontend import nodes

_LIMIT = 500  # files; a tool folder larger than this is a mistake worth stopping at


def tool_modules(program: nodes.Program, folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every local module the program's python tools need."""
    names = []
    for tool in program.of_kind("tool"):
        function = tool.get("function")
        if isinstance(function, nodes.String):
            target = function.value.strip()
            names.append(target.partition(":")[0] if ":" in target else target.rpartition(".")[0])
    found: dict[str, bytes] = {}
    pending = [name for name in names if name]
    while pending and len(found) < _LIMIT:
        for path in _files_of(pending.pop(), folder):
            relative = path.relative_to(folder).as_posix()
            if relative in found:
                continue
            found[relative] = path.read_bytes()
            pending.extend(_local_imports(found[relative], relative))
    return dict(sorted(found.items()))


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def _files_of(module: str, folder: Path) -> list[Path]:
    """The file of `module` under `folder`, its packages' `__init__.py`, and a package's files."""
    parts = [part for part in module.split(".") if part]
    if not parts or not all(part.isidentifier() for part in parts):
        return []
    base = folder.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        files = [base.with_suffix(".py")]
    elif (base / "__init__.py").is_file():
        files = sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
    else:
        return []
    for depth in range(1, len(parts)):
        init = folder.joinpath(*parts[:depth], "__init__.py")
        if init.is_file():
            files.append(init)
    return files


def _local_imports(source: bytes, relative: str) -> list[str]:
    """Module names a file imports, absolute or resolved from its relative imports."""
    try:
        tree = ast.parse(source, relative)
    except (SyntaxError, ValueError):
        return []
    package = relative.rpartition("/")[0].split("/") if "/" in relative else []
    if relative.endswith("/__init__.py"):
        package = relative[: -len("/__init__.py")].split("/")
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package):
                    continue
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.append(base)
            names += [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
    return [name for name in names if name]
