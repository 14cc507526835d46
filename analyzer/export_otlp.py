"""The analyzer's OTLP spans: n3core's span builder with the exports' safe JSON for values,
and the OTLP/JSON form of a span."""
from __future__ import annotations

from n3core.tracing import otlp_spans as _spans
from n3core.tracing.otlp_spans import (Counts, span_attributes, span_id,  # noqa: F401
                                       to_json_dict, trace_id)

from .export_json import dumps
from .values import jsonable


def text(value) -> str:
    p = jsonable(value)
    return p if isinstance(p, str) else dumps(p, sort_keys=True)


class OtlpSpans(_spans.OtlpSpans):
    """OTLP spans whose awkward values (NaN, huge ints, cut payloads) read as the other
    exports write them."""

    def __init__(self, source):
        super().__init__(source, text)
