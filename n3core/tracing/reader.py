"""Stream a `.n3t` trace: the header, then validated chunks as columnar batches.

This is the contract the analyzer is built on::

    from n3core.tracing.reader import open_trace, TraceFormatError
    with open_trace(path) as trace:
        trace.header                 # Header: format_version, run_id, metadata, wall_anchor_ns,
                                     # mono_anchor_ns, sites (list of Site), config (dict)
        for batch in trace.batches():
            batch.ts, batch.site, batch.kind, batch.span, batch.parent, batch.task
            batch.lengths            # payload bytes per event (0 = none)
            batch.payload(i)         # decoded lazily; None when the event has none
            batch.payload_get(i, ("usage", "model"))  # {key: value} for those top-level
                                     # keys of a dict payload, the rest is skipped, not built
            batch.recorded(i)        # the payload as stored: an llm request without the
                                     # history payload() puts back (history.py)
            batch.recorded(i, plain=True)  # or NotPlain when it holds a cut
        for ev in trace.events(): ...   # Event(ts, site, kind, span, parent, task, payload)
        trace.report                 # Report, complete once iteration has finished

Columns are `array.array` objects (ts int64 wall-clock ns; the rest unsigned). A chunk is
only ever yielded after its length and CRC-32 were checked, so a torn or corrupt file
yields every complete chunk before the damage and then stops; the damage is described in
`trace.report`, never raised. Only a file that is not a trace at all, or one written by a
newer major format version, raises TraceFormatError, from open_trace itself.

A payload can still fail to decode inside a chunk whose CRC-32 is valid (a crafted file,
or a faulty writer). `payload` and `payload_get` then raise TraceFormatError, unless the
trace was opened with `count_bad_payloads=True`: then they give
`{"undecodable_payload": why}` and `{}`, and `trace.report` counts each such event once.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

from . import core as _core
from . import history as _history
from .errors import TraceError, TraceFormatError
from .format import (CHUNK, CHUNK_MAGIC, HEADER, HISTORY_MINOR, MAGIC, RECORD_SIZE, TRAILER,
                     TRAILER_1_2, TRAILER_MAGIC, Header,
                     Kind, Site, decode_header)
from .payload import Cut, NotPlain, Opaque

__all__ = ["open_trace", "Trace", "Batch", "Event", "Report", "Header", "Site", "Kind",
           "TraceError", "TraceFormatError", "Opaque", "Cut", "NotPlain"]

_MAX_CHUNK_RECORDS = 1 << 24
_MAX_CHUNK_PAYLOAD = 1 << 31
# wall-clock ns of a chunk's base: a record adds up to 2**32 - 1 ns and must stay in int64
_TS_MIN, _TS_MAX = -(1 << 63), (1 << 63) - (1 << 32)


class Event(NamedTuple):
    """One event with its payload decoded; `kind` is a Kind (start, end, error_end, instant)."""

    ts: int
    site: int
    kind: Kind
    span: int
    parent: int
    task: int
    payload: object


@dataclass
class Report:
    """How much of the file was read and what, if anything, was wrong with it."""

    file_size: int = 0
    bytes_read: int = 0
    chunks_read: int = 0
    events: int = 0
    complete: bool = False
    damaged: bool = False
    damage: str = ""
    dropped: int | None = None
    dropped_seen: int = 0
    discarded: int | None = None
    finished: bool = False
    block_waits: int = 0  # 1.3 trailers: times `block` made the program wait for the disk
    block_wait_ns: int = 0
    bad_payloads: int = 0  # events whose payload did not decode (count_bad_payloads=True)
    bad_payload: str = ""  # where the first one is, and why
    _bad_seen: set = field(default_factory=set, repr=False)

    @property
    def lossy(self) -> bool:
        """True when events or payloads are known to be missing: drops, discards, damage,
        undecodable payloads or no trailer."""
        return bool(self.dropped or self.dropped_seen or self.discarded or self.damaged
                    or self.bad_payloads or not self.complete)

    def undecodable(self, chunk_offset: int, seq: int, i: int, why: str) -> None:
        """Count event i of the chunk at `chunk_offset` as having an undecodable payload."""
        if (chunk_offset, i) in self._bad_seen:
            return
        self._bad_seen.add((chunk_offset, i))
        self.bad_payloads += 1
        if not self.bad_payload:
            self.bad_payload = f"chunk {seq} at offset {chunk_offset}, its event {i}: {why}"


class Batch:
    """The events of one chunk, as columns; payloads stay encoded until asked for."""

    __slots__ = ("ts", "site", "kind", "span", "parent", "task", "_offsets", "_lengths",
                 "_body", "_base", "_decode", "_plain", "_get", "seq", "offset", "_report",
                 "_rebuilt")

    def __init__(self, columns, body, base, seq, offset, module=None, report=None):
        (self.ts, self.site, self.kind, self.span, self.parent, self.task, self._offsets,
         self._lengths, _) = columns
        self._body = body  # the chunk body (bytes); payloads start at body[base:]
        self._base = base
        module = module or _core.reader_module()
        self._decode = module.decode_payload
        self._plain = module.decode_plain
        self._get = module.payload_get
        self.seq = seq
        self.offset = offset
        self._report = report  # counts undecodable payloads instead of raising; None raises
        self._rebuilt: dict = {}  # event index -> llm request with its history put back

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def lengths(self):
        """The payload length of each event, in bytes (0: no payload)."""
        return self._lengths

    def payload(self, i: int):
        rebuilt = self._rebuilt.get(i) if self._rebuilt else None
        if rebuilt is not None:
            return _history.fresh(rebuilt)
        return self.recorded(i)

    def payload_get(self, i: int, keys) -> dict:
        """{key: value} for the `keys` found in event i's payload when it is a dict, else {}.

        Equals filtering `payload(i)`, but only the wanted values are decoded (text in the
        parts skipped is not checked for valid UTF-8).
        """
        rebuilt = self._rebuilt.get(i) if self._rebuilt else None
        if rebuilt is not None:
            return {k: v for k, v in _history.fresh(rebuilt).items() if k in keys}
        return self.recorded_get(i, keys)

    def recorded(self, i: int, plain: bool = False):
        """Event i's payload as the file holds it: an llm request without its history.

        `plain`: the payload must hold no Cut or Opaque value and nest at most PLAIN_DEPTH
        levels (`payload.special`), else NotPlain; checked while it is decoded."""
        n = self._lengths[i]
        if not n:
            return None
        try:
            return (self._plain if plain else self._decode)(
                self._body, self._base + self._offsets[i], n)
        except TraceFormatError as exc:
            return {"undecodable_payload": self.undecodable(i, exc)}

    def recorded_get(self, i: int, keys) -> dict:
        """`payload_get` on the payload as the file holds it."""
        n = self._lengths[i]
        if not n:
            return {}
        try:
            return self._get(self._body, self._base + self._offsets[i], n, keys)
        except TraceFormatError as exc:
            self.undecodable(i, exc)
            return {}

    def direct_get(self):
        """(decode, body, base, offsets) such that `decode(body, base + offsets[i],
        lengths[i], keys)` is `payload_get(i, keys)` for an event with a payload, or None
        when the batch holds rebuilt requests. A compiled caller decoding every payload of
        a batch skips two Python calls an event; it hands a TraceFormatError to
        `undecodable(i, exc)`."""
        if self._rebuilt:
            return None
        return self._get, self._body, self._base, self._offsets

    def direct_plain(self) -> tuple:
        """(decode_plain, body, base, offsets, lengths) such that `decode_plain(body, base +
        offsets[i], lengths[i])` is `recorded(i, plain=True)` for an event with a payload,
        raising rather than counting a TraceFormatError. For a compiled caller that reads
        payloads as recorded (the llm history is not put back) without two Python calls each."""
        return self._plain, self._body, self._base, self._offsets, self._lengths

    def undecodable(self, i: int, exc: TraceFormatError) -> str:
        """Count event i's payload as undecodable and give the reason (or raise `exc` when
        the batch was opened without counting)."""
        if self._report is None:
            raise exc
        self._report.undecodable(self.offset, self.seq, i, str(exc))
        return str(exc)

    def raw_payload(self, i: int) -> bytes | None:
        n = self._lengths[i]
        if not n:
            return None
        start = self._base + self._offsets[i]
        return self._body[start:start + n]

    def mentions(self, raw: bytes) -> bool:
        """Whether these bytes occur anywhere in the batch's payloads (one scan, in C)."""
        return self._body.find(raw, self._base) >= 0

    def event(self, i: int) -> Event:
        k = self.kind[i]
        return Event(self.ts[i], self.site[i], Kind(k) if k <= 3 else k, self.span[i],
                     self.parent[i], self.task[i], self.payload(i))


class Trace:
    """An open trace file; iterate once with batches() or events(), then read report."""

    def __init__(self, path, decoder=None, module=None, count_bad_payloads=False,
                 history=True):
        self.path = os.fspath(path)
        self._count_bad = count_bad_payloads
        self._module = module or _core.reader_module()
        self._decode_records = decoder or self._module.decode_records
        self._file = open(self.path, "rb")
        try:
            size = os.fstat(self._file.fileno()).st_size
            head = self._file.read(HEADER.size)
            if len(head) == HEADER.size and head[:8] == MAGIC:
                # a damaged length must not make read() preallocate it: bound it by the file
                want = int.from_bytes(head[12:16], "little")
                head += self._file.read(min(want, max(0, size - HEADER.size)))
            self.header: Header = decode_header(head, self.path)
        except BaseException:
            self._file.close()
            raise
        self.report = Report(file_size=size, bytes_read=self.header.size)
        self._shift = self.header.wall_anchor_ns - self.header.mono_anchor_ns
        self._rebuilder = (_history.Rebuilder(self.header.sites)
                           if history and self.header.format_version >= (1, HISTORY_MINOR)
                           else None)
        self._started = False

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def site(self, site_id: int) -> Site | None:
        return self.header.site(site_id)

    def _damaged(self, offset: int, what: str) -> None:
        self.report.damaged = True
        self.report.damage = f"at offset {offset}: {what}"

    def batches(self) -> Iterator[Batch]:
        """Every valid chunk in file order; stops at the first torn or corrupt one."""
        if self._started:
            raise TraceError("a Trace can be iterated once; open the file again to re-read it")
        self._started = True
        report, f = self.report, self._file
        offset = self.header.size
        f.seek(offset)
        for _ in range(report.file_size // CHUNK.size + 2):
            head = f.read(CHUNK.size)
            if not head:
                report.damage = report.damage or (
                    f"at offset {offset}: no trailer; the writer did not finish "
                    "(the process was killed or is still running)")
                break
            if head[:4] == TRAILER_MAGIC:
                self._read_trailer(head, offset)
                break
            if head[:4] != CHUNK_MAGIC or len(head) < CHUNK.size:
                what = (f"torn chunk header ({len(head)} of {CHUNK.size} bytes)"
                        if head[:4] == CHUNK_MAGIC or len(head) < 4
                        else f"unknown block magic {head[:4]!r} (corrupt or not a chunk)")
                self._damaged(offset, what)
                break
            _, crc, n, pay, base, seq, dropped = CHUNK.unpack(head)
            if n > _MAX_CHUNK_RECORDS or pay > _MAX_CHUNK_PAYLOAD:
                self._damaged(offset, f"implausible chunk size ({n} records, {pay} payload "
                                      "bytes): corrupt header")
                break
            body_len = n * RECORD_SIZE + pay
            present = report.file_size - offset - CHUNK.size
            if body_len > present:
                self._damaged(offset, f"torn chunk {seq}: {max(0, present)} of {body_len} "
                                      "body bytes present")
                break
            body = f.read(body_len)
            if len(body) < body_len:
                self._damaged(offset, f"torn chunk {seq}: {len(body)} of {body_len} body "
                                      "bytes present")
                break
            if zlib.crc32(body, zlib.crc32(head[8:])) != crc:
                self._damaged(offset, f"chunk {seq} fails its CRC-32 check (corrupt bytes)")
                break
            first = base + self._shift
            if not _TS_MIN <= first <= _TS_MAX:
                self._damaged(offset, f"chunk {seq}: base timestamp {base} ns lies outside "
                                      "any clock the header's anchors allow (corrupt header)")
                break
            columns = self._decode_records(body, n, first)
            if columns[-1] != pay:
                self._damaged(offset, f"chunk {seq}: record payload lengths sum to "
                                      f"{columns[-1]}, header says {pay}")
                break
            batch = Batch(columns, body, n * RECORD_SIZE, seq, offset, self._module,
                          report if self._count_bad else None)
            if self._rebuilder is not None:
                batch._rebuilt = self._rebuilder.scan(batch)
            offset += CHUNK.size + body_len
            report.bytes_read = offset
            report.chunks_read += 1
            report.events += n
            report.dropped_seen += dropped
            yield batch
        report.finished = True

    def _read_trailer(self, head: bytes, offset: int) -> None:
        report = self.report
        raw = head + self._file.read(TRAILER.size - len(head))
        layout = TRAILER  # 1.3; a 1.2 trailer is its first 56 bytes with their own CRC
        if len(raw) < TRAILER.size or zlib.crc32(raw[8:]) != TRAILER.unpack(raw)[1]:
            layout, raw = TRAILER_1_2, raw[:TRAILER_1_2.size]
        if len(raw) < layout.size:
            self._damaged(offset, f"torn trailer ({len(raw)} of {layout.size} bytes)")
            return
        _, crc, chunks, events, dropped, discarded, _pay, _end, *waits = layout.unpack(raw)
        if zlib.crc32(raw[8:]) != crc:
            self._damaged(offset, "trailer fails its CRC-32 check (corrupt bytes)")
            return
        report.block_waits, report.block_wait_ns = waits or (0, 0)
        report.bytes_read = offset + layout.size
        report.complete = True
        report.dropped, report.discarded = dropped, discarded
        if chunks != report.chunks_read or events != report.events:
            self._damaged(offset, f"trailer counts {chunks} chunks / {events} events but "
                                  f"{report.chunks_read} / {report.events} were read")
        elif report.bytes_read != report.file_size:
            self._damaged(report.bytes_read, f"{report.file_size - report.bytes_read} stray "
                                             "bytes after the trailer")

    def events(self) -> Iterator[Event]:
        for batch in self.batches():
            for i in range(len(batch)):
                yield batch.event(i)


def open_trace(path, *, core: str | None = None, count_bad_payloads: bool = False,
               history: bool = True) -> Trace:
    """Open a trace for streaming; raises TraceFormatError when it is not a readable trace.

    `core` ("c" or "python") picks the record and payload decoders, for tests and
    benchmarks; the default follows n3core.tracing.core. With `count_bad_payloads`, an
    undecodable payload is counted in the report instead of raised (see above). With
    `history=False`, llm requests are given as recorded (`recorded`), their history not put
    back: a reader that needs only their request hashes skips the rebuilding.
    """
    module = _core.reader_module(core) if core else None
    return Trace(path, module=module, count_bad_payloads=count_bad_payloads, history=history)
