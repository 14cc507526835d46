"""The `.ai` (or Python) lines around a site, when the file can still be read."""
from __future__ import annotations

import os

CONTEXT = 3


def lines_around(site, trace_path: str, context: int = CONTEXT):
    """[(lineno, text, is_site_line)] or None when the file cannot be found or read.

    Relative paths are tried against the working directory, then the trace's folder and
    its parents, since traces usually live in ./debug/traces under the app.
    """
    if not site.file or site.line <= 0:
        return None
    candidates = [site.file]
    if not os.path.isabs(site.file):
        folder = os.path.dirname(os.path.abspath(trace_path))
        for _ in range(4):
            candidates.append(os.path.join(folder, site.file))
            folder = os.path.dirname(folder)
    for path in candidates:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read().splitlines()
        except OSError:
            continue
        lo = max(1, site.line - context)
        hi = min(len(text), site.line + context)
        if site.line > len(text):
            return None
        return [(n, text[n - 1], n == site.line) for n in range(lo, hi + 1)]
    return None
