"""`n3analyze report`: one self-contained HTML page of a trace, or of two traces' diff.

`data` turns a trace into the JSON document the page embeds (the part the tests pin down),
`page` wraps it with the inline script and styles, `compare` adds a second trace aligned
call by call. The page loads nothing: no CDN, no fonts, no requests.
"""
from .page import write_report

__all__ = ["write_report"]
