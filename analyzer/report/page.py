"""The HTML around the document: inline styles and script, and a policy that forbids
every request, so the page works offline and a hostile trace's text cannot load anything.

The document goes in a JSON script block with every `<` escaped, so no string in a trace
can close the block or open a tag; the script renders text with textContent only.
"""
from __future__ import annotations

import html
import json
import os
from importlib import resources

from ..errors import OutputError

POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")


def asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def embed(document: dict) -> str:
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(document: dict) -> str:
    run = document.get("run", {})
    title = f"namel3ss run {run.get('app') or ''} {run.get('run_id') or ''}".strip()
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{asset('report.css')}</style></head>"
            f'<body><main id="app"><noscript>This report draws itself with JavaScript.'
            f'</noscript></main>\n<script id="n3-data" type="application/json">'
            f"{embed(document)}</script>\n<script>{asset('report.js')}</script></body></html>\n")


def write_report(trace: str, out: str, diff: str | None = None, prices: str | None = None) -> dict:
    """Write the page for `trace` (and `diff`, a second trace) to `out`; returns facts
    for the command's summary line."""
    from .data import build

    document = build(trace, prices)
    if diff is not None:
        from .compare import attach

        attach(document, trace, diff, prices)
    page = render(document)
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write the report to {out}: the folder {folder} does not "
                            "exist. Create it, or pass -o with a path in an existing folder.")
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(page)
    except OSError as exc:
        raise OutputError(f"cannot write the report to {out} ({exc.strerror or exc}). Pass "
                            "-o with a path in a folder you can write to.") from exc
    return {"path": out, "bytes": len(page.encode("utf-8")), "spans": len(document["spans"]),
            "omitted": document["omitted"]["spans"]}
