"""Byte layouts of the `.n3t` trace file, shared by the writer, both cores and the reader.

Everything is little-endian. docs/trace-format.md is the normative description; this
module only keeps the constants and the few packers in one place so no two parts of the
toolchain can disagree about an offset.
"""
from __future__ import annotations

import enum
import json
import struct
import zlib
from dataclasses import MISSING, asdict, dataclass, field

from . import headerdoc
from .errors import TraceFormatError

MAGIC = b"N3TRACE\x00"
FORMAT_MAJOR = 1
# What the writer writes; every minor of FORMAT_MAJOR stays readable. 1.2: boundary requests
# carry request_hash. 1.3: llm requests record only what is new (history.py), the header
# records flush_interval and the trailer counts block waits.
FORMAT_MINOR = 3
FIXED_CRC_MINOR = 1  # from this minor on, the header's fixed fields carry their own CRC-32
HISTORY_MINOR = 3  # from this minor on, llm requests record only what is new (history.py)

# magic, major, minor, json length, json crc32, fixed-field crc32 (1.0: 0), wall, mono anchor
HEADER = struct.Struct("<8sHHIIIqq")
CHUNK_MAGIC = b"N3CK"
# magic, crc32, records, payload bytes, base monotonic ns, sequence, dropped before
CHUNK = struct.Struct("<4sIIIqII")
TRAILER_MAGIC = b"N3TE"
# magic, crc32, chunks, events, dropped, discarded, payload bytes, end monotonic ns
TRAILER_1_2 = struct.Struct("<4sIQQQQQq")
# 1.3 appends: times the recording thread waited for the writer (block), ns spent waiting
TRAILER = struct.Struct("<4sIQQQQQqQQ")
# delta ns from chunk base, site | kind << 24, span, parent, task, payload length
RECORD = struct.Struct("<IIIIII")
RECORD_SIZE = RECORD.size
MAX_DELTA = 0xFFFFFFFF
MAX_SITE = 0xFFFFFF

# Sites the core itself emits; the build's own site ids stay below RESERVED_BASE.
RESERVED_BASE = 0xFFFF00
SITE_USER_SPAN = 0xFFFFFF
SITE_USER_MARKER = 0xFFFFFE
SITE_MEMORY = 0xFFFFFD

# Sites every build's table reserves (docs/tracepoints.md, "The site table").
ERROR_SITE = 0
PERFORMANCE_SITE = 1

# Ring policies as the recorders take them; the header's config names them.
POLICY_BLOCK, POLICY_DROP, POLICY_FLIGHT = 0, 1, 2
POLICIES = {"block": POLICY_BLOCK, "drop": POLICY_DROP, "flight-recorder": POLICY_FLIGHT}

assert HEADER.size == 40 and CHUNK.size == 32 and TRAILER_1_2.size == 56 and TRAILER.size == 72 and RECORD_SIZE == 24


class Kind(enum.IntEnum):
    """Record kinds; lower-case names are what traces and reports print."""

    start = 0
    end = 1
    error_end = 2
    instant = 3


KIND_START, KIND_END, KIND_ERROR_END, KIND_INSTANT = (int(k) for k in Kind)

@dataclass(frozen=True)
class SiteFields:
    """What every site row has, whoever wrote the table: the build's `Site` and the
    analyzer's row for a trace of either format (which has no captures) share it."""

    id: int
    event_type: str
    component: str = ""
    name: str = ""
    file: str = ""
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Site(SiteFields):
    """One row of the site table: everything a runtime event does not have to carry.

    The build writes every field to sites.json; `kind` (span or instant) and `target`
    (the Python function traced) are the build's own, and the trace header leaves them
    out (HEADER_FIELDS).
    """

    captures: tuple = field(default_factory=tuple)
    kind: str = ""
    target: str = ""

    @classmethod
    def coerce(cls, value) -> "Site":
        """A row as a Site. A row holding only known fields, the id and event type among
        them (every header's and sites.json's), skips the frozen `__init__`: its
        `object.__setattr__` per field made opening a trace of a few hundred sites cost
        milliseconds. The instance is the same: its fields are its `__dict__`."""
        if isinstance(value, Site):
            return value
        if isinstance(value, dict):
            if cls is Site and "id" in value and "event_type" in value and value.keys() <= _SITE_FIELDS:
                site = object.__new__(Site)
                state = site.__dict__
                state.update(_SITE_DEFAULTS)
                state.update(value)
                state["captures"] = tuple(state.get("captures") or ())
                return site
            data = dict(value)
            data["captures"] = tuple(data.get("captures") or ())
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            return cls(**known)
        raise TypeError(f"a site must be a Site or a dict, not {type(value).__name__}")

    def to_json(self) -> dict:
        """The row as the trace header records it."""
        data = {name: getattr(self, name) for name in HEADER_FIELDS}
        data["captures"] = list(self.captures)
        return data

    def build_row(self) -> dict:
        """The row as the build's sites.json records it: every field."""
        data = asdict(self)
        data["captures"] = list(self.captures)
        return data


HEADER_FIELDS = ("id", "event_type", "component", "name", "file", "line", "column", "captures")
_SITE_FIELDS = frozenset(Site.__dataclass_fields__)
_SITE_DEFAULTS = {name: f.default for name, f in Site.__dataclass_fields__.items()
                  if f.default is not MISSING}


RESERVED_SITES = (
    Site(SITE_USER_SPAN, "user_span", "user", "span"),
    Site(SITE_USER_MARKER, "performance_marker", "user", "marker"),
    Site(SITE_MEMORY, "memory_sample", "tracer", "rss"),
)


@dataclass(frozen=True)
class Header:
    """The parsed file header (see docs/trace-format.md, "Header")."""

    format_version: tuple
    run_id: str
    metadata: dict
    wall_anchor_ns: int
    mono_anchor_ns: int
    sites: list
    config: dict
    size: int

    def site(self, site_id: int):
        return self._by_id.get(site_id) if hasattr(self, "_by_id") else None


def _fixed_crc(head: bytes) -> int:
    """CRC-32 of the fixed fields after the magic: versions, json length and CRC, anchors."""
    return zlib.crc32(head[24:40], zlib.crc32(head[8:20]))


def encode_header(run_id, metadata, wall_anchor_ns, mono_anchor_ns, sites, config) -> bytes:
    doc = {
        "run_id": run_id,
        "metadata": metadata,
        "sites": [s.to_json() for s in sites],
        "config": config,
    }
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()
    head = HEADER.pack(MAGIC, FORMAT_MAJOR, FORMAT_MINOR, len(body), zlib.crc32(body), 0,
                       wall_anchor_ns, mono_anchor_ns)
    head = head[:20] + struct.pack("<I", _fixed_crc(head)) + head[24:]
    return head + body


def readable(major: int, minor: int) -> bool:
    """Whether this reader reads format major.minor: any minor of the major it knows."""
    return major == FORMAT_MAJOR and minor >= 0


def _refuse_version(name: str, major: int, minor: int) -> TraceFormatError:
    if major > FORMAT_MAJOR:
        why = (f"newer than the {FORMAT_MAJOR}.{FORMAT_MINOR} this reader understands. A new "
               "major version changes byte layouts this reader cannot guess at, so it refuses "
               "rather than misread the events; upgrade n3trace to read it.")
    else:
        why = (f"a major version this reader does not know (it reads {FORMAT_MAJOR}.x); no "
               "released writer uses it, so the header is corrupt or the file is not a trace "
               "of the namel3ss tracer.")
    return TraceFormatError(f"{name} uses trace format {major}.{minor}, {why}")


def decode_header(raw: bytes, name: str) -> Header:
    """Parse the header at the start of `raw`; TraceFormatError if there is none to parse."""
    if raw[:8] == MAGIC and len(raw) < HEADER.size:
        raise TraceFormatError(
            f"{name} is cut short: it starts like an n3trace file but holds {len(raw)} "
            f"bytes, fewer than the {HEADER.size}-byte fixed header. The writer was stopped "
            "before the header was complete (or the file was truncated); nothing in it can "
            "be read. Trace the run again.")
    if len(raw) < HEADER.size or raw[:8] != MAGIC:
        found = raw[:8]
        raise TraceFormatError(
            f"{name} is not an n3trace file: it should start with the 8-byte magic "
            f"{MAGIC!r} but starts with {found!r} ({len(raw)} bytes read). Check that the "
            "path names a .n3t file written by the namel3ss tracer; JSON-lines traces of the "
            "earlier debugger are read through the analyzer's importer, not here."
        )
    _, major, minor, jlen, jcrc, fixed, wall, mono = HEADER.unpack_from(raw)
    if not readable(major, minor):
        raise _refuse_version(name, major, minor)
    if minor >= FIXED_CRC_MINOR and fixed != _fixed_crc(raw[:HEADER.size]):
        raise TraceFormatError(
            f"{name} has a damaged header: its fixed fields (version, description length, "
            "clock anchors; bytes 8 to 39) fail their CRC-32 check. Every timestamp and the "
            "site table depend on them, so nothing was read.")
    if wall < 0 or mono < 0:
        raise TraceFormatError(
            f"{name} has a damaged header: its clock anchors (wall {wall} ns, monotonic "
            f"{mono} ns) must both be non-negative nanosecond counts. Without them no "
            "timestamp can be placed, so nothing was read.")
    body = raw[HEADER.size:HEADER.size + jlen]
    if len(body) < jlen or zlib.crc32(body) != jcrc:
        raise TraceFormatError(
            f"{name} has a damaged header: its {jlen}-byte description (run metadata, site "
            f"table, configuration) at offset {HEADER.size} is "
            f"{'cut short' if len(body) < jlen else 'corrupt (checksum mismatch)'}. Without "
            "it no event can be interpreted, so nothing was read."
        )
    doc = headerdoc.parse(body, name)
    sites = [Site.coerce(s) for s in doc.get("sites", [])]
    header = Header((major, minor), doc.get("run_id", ""), doc.get("metadata") or {},
                    wall, mono, sites, doc.get("config") or {}, HEADER.size + jlen)
    object.__setattr__(header, "_by_id", {s.id: s for s in sites})
    return header


def chunk_crc(chunk_header_tail: bytes, body) -> int:
    """CRC-32 of a chunk: its header after the crc field, then records and payload bytes."""
    return zlib.crc32(body, zlib.crc32(chunk_header_tail))


def encode_trailer(chunks, events, dropped, discarded, payload_bytes, end_mono_ns,
                   block_waits=0, block_wait_ns=0) -> bytes:
    tail = TRAILER.pack(TRAILER_MAGIC, 0, chunks, events, dropped, discarded, payload_bytes,
                        end_mono_ns, block_waits, block_wait_ns)
    crc = zlib.crc32(tail[8:])
    return tail[:4] + struct.pack("<I", crc) + tail[8:]
