"""Load a build folder's `program.py` into this process, as `python DIR` would."""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from .errors import UsageError


def load_build(path: str | Path):
    """Import the build at `path` under a name unique to it and return its `app`."""
    path = Path(path).resolve()
    program = path / "program.py"
    if not program.is_file():
        raise UsageError(f"{path} has no program.py; is it a namel3ss build folder?")
    name = "_n3_program_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name].app
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    spec = importlib.util.spec_from_file_location(name, program)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module.app
