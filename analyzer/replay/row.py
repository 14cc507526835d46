"""Site table rows of a build's sites.json as the reader's Site objects."""
from __future__ import annotations

from n3core.tracing.format import Site


def site_rows(rows) -> list:
    return [Site.coerce(r) for r in rows]
