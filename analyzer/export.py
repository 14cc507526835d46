"""Pick the exporter and write its output atomically (a temporary name, then a rename)."""
from __future__ import annotations

import os
import sys
import tempfile

from .errors import OutputError


def export(source, target: str, out: str):
    if target == "perfetto":
        from .export_perfetto import write
    elif target == "otlp":
        from .export_otlp import write
    else:
        from .export_jsonl import write
    if out == "-":
        count = write(source, sys.stdout)
        return count, source.health
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise OutputError(f"-o {out}: the folder {folder} does not exist; create it first.")
    fd, tmp = tempfile.mkstemp(prefix=".n3export-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            count = write(source, f)
        os.replace(tmp, out)
    except OSError as exc:
        raise OutputError(f"-o {out}: cannot write ({exc.strerror or exc}).") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return count, source.health
