"""The request hash replay checks boundary calls by (REPLAY.md "The request hash").

BLAKE2b-128 of the canonical JSON of the request as it is recorded: the payload goes
through the encoder and back, so secret redaction, dataclass fields and size limits are
applied exactly as in the trace, and a replay on a machine with other keys still matches.
"""
from __future__ import annotations

import hashlib
import json

from .payload import decode
from .pyencode import encode

FIELD = "request_hash"


def _plain(value):
    return repr(value)


def digest(recorded) -> str:
    """The hash of a request as decoded from a trace (its own hash field left out)."""
    if isinstance(recorded, dict) and FIELD in recorded:
        recorded = {k: v for k, v in recorded.items() if k != FIELD}
    text = json.dumps(recorded, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_plain)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def as_recorded(payload, redaction=None, limits=None):
    """`payload` as a trace would give it back (limits: max_depth, max_bytes, max_repr)."""
    if isinstance(payload, dict) and FIELD in payload:
        payload = {k: v for k, v in payload.items() if k != FIELD}
    return decode(encode(payload, *(limits or ()), redaction=redaction))


def live_digest(payload, redaction=None, limits=None) -> str:
    """The hash of a request about to be made, equal to `digest` of its recorded form."""
    return digest(as_recorded(payload, redaction, limits))
