"""The request hash replay checks boundary calls by (REPLAY.md "The request hash").

BLAKE2b-128 of the canonical JSON of the request as it is recorded: the payload goes
through the encoder and back, so secret redaction, dataclass fields and size limits are
applied exactly as in the trace, and a replay on a machine with other keys still matches.
"""
from __future__ import annotations

import hashlib
import json

from . import core as _core
from .payload import T_STR

FIELD = "request_hash"
# A writer adds the hash as a request's last field, so a payload ends with these bytes (the
# key, then the tag and length of a 32-character string) and then the hash itself.
TAIL_PREFIX = bytes((T_STR, len(FIELD))) + FIELD.encode() + bytes((T_STR, 32))
TAIL_BYTES = len(TAIL_PREFIX) + 32  # the prefix, then the 32 hex digits
# Ids a provider makes up per call (a tool call's id, as the llm named it): two runs that
# ask the same thing differ in them, so the hash leaves them out.
MADE_UP = frozenset({FIELD, "call_id"})


def _plain(value):
    return repr(value)


# json.dumps with these arguments builds this encoder on every call; it holds no state.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              default=_plain).encode


def canonical(value) -> str:
    """The canonical JSON the hash is taken of."""
    return _CANONICAL(value)


def canonical_bytes(raw: bytes, omit=None) -> bytes:
    """The UTF-8 of `canonical` of the payload `raw` encodes, its top-level keys in `omit`
    left out: the reader core writes it from the bytes when it can, else it is made from
    the decoded value."""
    text = _core.reader.canonical_json(raw, 0, len(raw), omit)
    if text is None:
        value = _core.reader.decode_payload(raw, 0, len(raw))
        if omit and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in omit}
        text = canonical(value).encode("utf-8", "surrogatepass")
    return text


def recorded_digest(raw) -> str | None:
    """The hash a writer put last in a request's encoded payload `raw`, read from its last
    48 bytes without decoding the request; None when the payload does not end so."""
    tail = bytes(raw[-TAIL_BYTES:]) if raw else b""
    if len(tail) == TAIL_BYTES and tail[:len(TAIL_PREFIX)] == TAIL_PREFIX and tail.isascii():
        return tail[len(TAIL_PREFIX):].decode()
    return None


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def digest(recorded) -> str:
    """The hash of a request as decoded from a trace (its own hash field and made-up ids
    left out)."""
    if isinstance(recorded, dict) and not MADE_UP.isdisjoint(recorded):
        recorded = {k: v for k, v in recorded.items() if k not in MADE_UP}
    return _hash(canonical(recorded))


SLOT = "\x00n3trace:given\x00"  # a given text's place, in a string no caller writes


def digest_with(recorded: dict, texts: dict) -> str:
    """`digest(recorded)`, given the canonical JSON of some of its values (`texts`, by key):
    a long conversation's messages are serialised once each, not on every request."""
    text = canonical({**recorded, **{key: SLOT + key for key in texts}})
    for key, value in texts.items():
        slot = canonical(SLOT + key)
        if text.count(slot) != 1:
            return digest(recorded)
        text = text.replace(slot, value)
    return _hash(text)


def as_recorded(payload, redaction=None, limits=None):
    """`payload` as a trace would give it back (limits: max_depth, max_bytes, max_repr)."""
    if isinstance(payload, dict) and FIELD in payload:
        payload = {k: v for k, v in payload.items() if k != FIELD}
    data = _core.ring.encode(payload, *(limits or ()), redaction=redaction)
    return _core.reader.decode_payload(data, 0, len(data))


def live_digest(payload, redaction=None, limits=None) -> str:
    """The hash of a request about to be made, equal to `digest` of its recorded form."""
    if isinstance(payload, dict) and FIELD in payload:
        payload = {k: v for k, v in payload.items() if k != FIELD}
    data = _core.ring.encode(payload, *(limits or ()), redaction=redaction)
    return hashlib.blake2b(canonical_bytes(data, MADE_UP), digest_size=16).hexdigest()
