"""Import a build folder into this process, and take it out again afterwards.

Replays run in-process (the frozen n3analyze has no other interpreter), several in one
process for `--check`; every build has its own `_n3_runtime` copy under the same name, so
each replay starts and ends with those modules removed from `sys.modules`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from .answers import RUNTIME


def _purge() -> None:
    for name in [n for n in sys.modules if n == RUNTIME or n.startswith(RUNTIME + ".")
                 or n.startswith("_n3_replay_program_")]:
        del sys.modules[name]


def load(path: Path):
    """The build's `app`, imported fresh (its program module runs now)."""
    _purge()
    path = Path(path).resolve()
    name = "_n3_replay_program_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    sys.path.insert(0, str(path))
    spec = importlib.util.spec_from_file_location(name, path / "program.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.app


def unload(path: Path) -> None:
    path = str(Path(path).resolve())
    while path in sys.path:
        sys.path.remove(path)
    _purge()
