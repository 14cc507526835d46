"""The pure-Python twin of the compiled recorder (the recorder section of `_ring.pyx`; the
encoder's twin is `pyencode.py`): same interface, same bytes.

It is the fallback on machines where the extension could not be built, and the reference
the compiled core is tested against. Every decision that shows in the file (when a chunk
is sealed, what a dropped event counts as, when the clock is read) is taken in the same
order as in `_ring.pyx`; keep the two in step.
"""
from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time

from .format import (CHUNK, CHUNK_MAGIC, KIND_END, KIND_ERROR_END, KIND_INSTANT, KIND_START,
                     MAX_DELTA, MAX_SITE, POLICY_BLOCK, POLICY_DROP, POLICY_FLIGHT, RECORD,
                     RESERVED_BASE, chunk_crc)
from .payload import dataclass_fields
from .pyencode import encode, snapshot, unchanged, unchanged_prefix  # noqa: F401 - the contract
FREE, FILLING, SEALED = 0, 1, 2
MAX_ATTEMPTS = 64
IS_COMPILED = False


class Recorder:
    """A ring of chunk slots; events are written into the filling slot, chunks leave by take()."""

    def __init__(self, chunk_events, chunk_payload, slots, policy, *, mask=b"",
                 reserved_mask=b"\x01" * 256, max_depth=32, max_bytes=256 * 1024,
                 max_repr=200, clock=None, on_seal=None, on_full=None, redaction=None):
        if chunk_events < 1 or slots < 2 or chunk_payload < max_bytes + 300:
            raise ValueError("need chunk_events >= 1, slots >= 2, chunk_payload >= max_bytes + 300")
        self.chunk_events, self.chunk_payload, self.slots = chunk_events, chunk_payload, slots
        self.policy = policy
        self.mask, self.reserved_mask = bytes(mask), bytes(reserved_mask).ljust(256, b"\x01")
        self.max_depth, self.max_bytes, self.max_repr = max_depth, max_bytes, max_repr
        self.clock = clock if clock is not None else time.monotonic_ns
        self.clock_source = "injected" if clock is not None else "monotonic"
        self.on_seal, self.on_full = on_seal, on_full
        self.redaction = redaction
        self._records = bytearray(slots * chunk_events * RECORD.size)
        self._payload = bytearray(slots * chunk_payload)
        self._state = [FREE] * slots
        self._n = [0] * slots
        self._pay = [0] * slots
        self._base = [0] * slots
        self._seq = [0] * slots
        self._dropped = [0] * slots
        self._cur = -1
        self._head = 0
        self._tail = 0
        self._next_seq = 0
        self._pending_drops = 0
        self.events = self.dropped = self.discarded = self.payload_bytes = self.chunks = 0
        self._injected = clock is not None
        self._init_sync()
        self._w_running = self._w_quit = self._w_failed = False
        self._w_fd, self._w_interval, self._w_freed = -1, 0, 0
        self.write_offset = self.written_chunks = self.written_events = self.written_payload = 0
        self.block_waits = self.block_wait_ns = 0

    def _init_sync(self):
        self._lock = threading.RLock()
        self._work = threading.Condition(self._lock)
        self._space = threading.Condition(self._lock)

    def redact(self, redaction) -> None:
        """Apply a payload.Redaction (or None: no redaction) to the payloads encoded from now on."""
        self.redaction = redaction

    def enabled(self, site: int) -> bool:
        if site > MAX_SITE or site < 0:
            return False
        if site < len(self.mask):
            return self.mask[site] != 0
        if site >= RESERVED_BASE:
            return self.reserved_mask[site - RESERVED_BASE] != 0
        return True

    def emit(self, site, kind, span, parent, task, payload=None) -> bool:
        """Record one event; False when the policy dropped it.

        Where the compiled core is atomic under the GIL, this twin holds `_lock`; the
        callbacks (on_seal, on_full) run outside it, as a drain takes the lock itself.
        """
        if not self.enabled(site):
            return False
        data = b"" if payload is None else encode(payload, self.max_depth, self.max_bytes,
                                                  self.max_repr, self.redaction)
        ts = None
        attempts = 0
        while attempts < MAX_ATTEMPTS:
            with self._lock:
                if ts is None:
                    ts = self.clock()
                attempts, outcome = self._commit(site, kind, span, parent, task, data, ts,
                                                 attempts)
                if outcome is None:
                    self.dropped += 1
                    self._pending_drops += 1
                    return False
            if outcome is True:
                return True
            outcome()
        with self._lock:
            self.dropped += 1
            self._pending_drops += 1
        return False

    def _commit(self, site, kind, span, parent, task, data, ts, attempts):
        """(attempts used, outcome): True when written, a callback to run before trying
        again, None when the policy drops the event."""
        plen = len(data)
        while attempts < MAX_ATTEMPTS:
            attempts += 1
            cur = self._cur
            if cur >= 0:
                n = self._n[cur]
                if n < self.chunk_events and self._pay[cur] + plen <= self.chunk_payload and (
                        n == 0 or 0 <= ts - self._base[cur] <= MAX_DELTA):
                    if n == 0:
                        self._base[cur] = ts
                    delta = ts - self._base[cur]
                    RECORD.pack_into(self._records, (cur * self.chunk_events + n) * RECORD.size,
                                     delta if delta > 0 else 0, site | (kind << 24), span,
                                     parent, task, plen)
                    if plen:
                        at = cur * self.chunk_payload + self._pay[cur]
                        self._payload[at:at + plen] = data
                        self._pay[cur] += plen
                    self._n[cur] = n + 1
                    self.events += 1
                    self.payload_bytes += plen
                    return attempts, True
                self._seal_slot(cur)
                if self.on_seal is not None:
                    return attempts, self.on_seal
                continue
            tail = self._tail
            if self._state[tail] == FREE:
                self._open(tail)
                continue
            if self.policy == POLICY_FLIGHT:
                self._discard_oldest()
                continue
            if self.policy == POLICY_BLOCK and self._w_running:
                return attempts - 1, self._wait_space  # waiting for the disk is no failed attempt
            if self.policy == POLICY_BLOCK and self.on_full is not None:
                return attempts, self.on_full
            return attempts, None
        return attempts, None

    def _open(self, slot):
        self._state[slot] = FILLING
        self._n[slot] = self._pay[slot] = 0
        self._seq[slot] = self._next_seq
        self._next_seq += 1
        self._cur = slot
        self._tail = (slot + 1) % self.slots

    def _seal_slot(self, slot):
        self._state[slot] = SEALED
        self._dropped[slot] = self._pending_drops
        self._pending_drops = 0
        self._cur = -1
        self.chunks += 1
        if self._w_running:
            self._work.notify()

    def _wait_space(self):
        """block: wait until the writer frees the next slot."""
        t0 = time.monotonic_ns()
        with self._lock:
            tail = self._tail
            while self._state[tail] != FREE and self._w_running:
                self._space.wait(0.05)
            self.block_waits += 1
            self.block_wait_ns += time.monotonic_ns() - t0

    # ---- the writer thread ----

    def attach_writer(self, fd, offset, flush_interval=0.0):
        """Hand sealed chunks to run_writer() from now on, appending to `fd` at `offset`.

        flush_interval (seconds, 0: off) seals the filling chunk once its first event is
        that old; it needs the recorder's own clock, so an injected clock turns it off.
        """
        with self._lock:
            self._w_fd, self.write_offset = fd, offset
            self._w_interval = 0 if self._injected else int(flush_interval * 1e9)
            self._w_quit = self._w_failed = False
            self._w_running = True

    def run_writer(self, on_error=None):
        """The writer thread's body: write each sealed chunk, in order, until
        stop_writer() and every sealed chunk is written (see _ring.pyx)."""
        tick = self._w_interval / 4e9 if self._w_interval else 0.05
        try:
            for _ in iter(int, 1):
                with self._lock:
                    while self._state[self._head] != SEALED:
                        if self._w_quit:
                            return
                        if self._w_interval and self._aged():
                            self._seal_slot(self._cur)
                            continue
                        self._work.wait(tick)
                    slot = self._head
                    data, n, pay = self._chunk_bytes(slot), self._n[slot], self._pay[slot]
                error = None if self._w_failed else self._write(data, n, pay)
                with self._lock:
                    self._state[slot] = FREE
                    self._head = (slot + 1) % self.slots
                    self._w_freed += 1
                    self._space.notify_all()
                if error is not None and on_error is not None:
                    on_error(error)
        finally:
            with self._lock:
                self._w_running = False
                self._space.notify_all()

    def _aged(self):
        cur = self._cur
        return (cur >= 0 and self._n[cur] > 0 and
                time.monotonic_ns() - self._base[cur] >= self._w_interval)

    def _write(self, data, n, pay):
        """One chunk to the file; the OSError when the write failed (the file is then cut
        back to its last whole chunk and later chunks are freed unwritten)."""
        view = memoryview(data)
        try:
            for _ in range(len(view) + 1):
                if not view:
                    break
                view = view[os.write(self._w_fd, view):]
        except OSError as exc:
            self._w_failed = True
            try:
                os.ftruncate(self._w_fd, self.write_offset)
                os.lseek(self._w_fd, self.write_offset, os.SEEK_SET)
            except OSError:
                pass
            return OSError(exc.errno, exc.strerror)
        self.write_offset += len(data)
        self.written_chunks += 1
        self.written_events += n
        self.written_payload += pay
        return None

    def stop_writer(self):
        """Let run_writer() return once every chunk sealed so far is written."""
        with self._lock:
            self._w_quit = True
            self._work.notify()

    def sync(self, timeout=30.0):
        """Wait until every chunk sealed so far has left the ring; True when it has."""
        end = time.monotonic() + timeout
        with self._lock:
            target = self.chunks
            while self._w_freed < target and self._w_running and time.monotonic() < end:
                self._space.wait(0.02)
            return self._w_freed >= target

    def forget_writer(self):
        """In a forked child: the writer thread is gone, and its lock may have been held."""
        self._init_sync()
        self._w_running = False

    def _discard_oldest(self):
        head = self._head
        self.discarded += self._n[head]
        self._state[head] = FREE
        self._head = (head + 1) % self.slots

    def seal(self) -> bool:
        """Seal the filling chunk if it holds events, so flush and dump can take it; drops
        not yet counted in a chunk get one of their own (no events, base_ns 0)."""
        with self._lock:
            if self._cur < 0 and self._pending_drops and self._state[self._tail] == FREE:
                self._open(self._tail)
            cur = self._cur
            if cur < 0 or (self._n[cur] == 0 and not self._pending_drops):
                return False
            if self._n[cur] == 0:
                self._base[cur] = 0
            self._seal_slot(cur)
        if self.on_seal is not None:
            self.on_seal()
        return True

    def _chunk_bytes(self, slot) -> bytes:
        n, pay = self._n[slot], self._pay[slot]
        start = slot * self.chunk_events * RECORD.size
        body = bytes(self._records[start:start + n * RECORD.size]) + bytes(
            self._payload[slot * self.chunk_payload:slot * self.chunk_payload + pay])
        tail = CHUNK.pack(CHUNK_MAGIC, 0, n, pay, self._base[slot], self._seq[slot],
                          self._dropped[slot])[8:]
        return CHUNK_MAGIC + chunk_crc(tail, body).to_bytes(4, "little") + tail + body

    def take(self):
        """The oldest sealed chunk as file bytes, freeing its slot; None if there is none."""
        with self._lock:
            head = self._head
            if self._state[head] != SEALED:
                return None
            data = self._chunk_bytes(head)
            self._state[head] = FREE
            self._head = (head + 1) % self.slots
            return data

    def peek(self) -> list:
        """Every sealed chunk, oldest first, without freeing them (the flight recorder's dump)."""
        out = []
        with self._lock:
            slot = self._head
            for _ in range(self.slots):
                if self._state[slot] != SEALED:
                    break
                out.append(self._chunk_bytes(slot))
                slot = (slot + 1) % self.slots
        return out

    def pending_drops(self) -> int:
        return self._pending_drops


# ---- the fast layer session.py binds to: module state, as in the compiled core ----

_recorder = None
_generation = 0
_next_span = 0
_next_task = 0
_lock = threading.Lock()
_current = contextvars.ContextVar("n3trace_span", default=None)


class Frame:
    """An open span; enter()/enter_sync() return it as the token exit() takes back.

    The context variable holds the context's frame: its root, or the innermost span
    opened by enter(). Spans opened by enter_sync() (plain functions, which cannot switch
    tasks while they run) are not set in the variable: they are pushed on that frame's
    `sync_top`, remembering the frame that holds them (`holder`) and the previous top.
    """

    __slots__ = ("site", "span", "parent", "task", "owner", "gen", "cvtok", "done", "root",
                 "sync_top", "holder", "prev")

    def __init__(self):
        self.root = False
        self.sync_top = self.holder = self.prev = None


def install(recorder) -> None:
    global _recorder, _generation, _next_span, _next_task
    with _lock:
        _generation += 1
        _next_span = 0
        _next_task = 0
        _recorder = recorder


def uninstall() -> None:
    global _recorder
    _recorder = None


def active():
    return _recorder


def _owner():
    loop = asyncio._get_running_loop()
    return (threading.get_ident(), asyncio.current_task(loop) if loop is not None else None)


def _innermost(frame):
    return frame.sync_top if frame.sync_top is not None else frame


def _top():
    """This context's frame (root or innermost enter() span), creating its root if needed.

    The innermost open span is `frame.sync_top` when a sync span is open, else the frame.
    """
    global _next_task
    frame = _current.get()
    owner = _owner()
    if frame is not None and frame.gen == _generation and frame.owner == owner:
        return frame
    root = Frame()
    root.site = 0
    root.span = _innermost(frame).span if frame is not None and frame.gen == _generation else 0
    root.parent = 0
    with _lock:
        _next_task += 1
        root.task = _next_task
    root.owner, root.gen, root.cvtok, root.done, root.root = owner, _generation, None, True, True
    _current.set(root)
    return root


def _open(site):
    global _next_span
    top = _top()
    frame = Frame()
    with _lock:
        _next_span += 1
        frame.span = _next_span
    frame.site, frame.parent, frame.task = site, _innermost(top).span, top.task
    frame.owner, frame.gen, frame.done, frame.cvtok = top.owner, top.gen, False, None
    return top, frame


def enter(site, payload=None):
    """Open a span that may outlive a task switch (coroutines, generators): the span is
    set in the context variable, so tasks created inside it see it as their parent."""
    rec = _recorder
    if rec is None or not rec.enabled(site):
        return None
    _, frame = _open(site)
    rec.emit(site, KIND_START, frame.span, frame.parent, frame.task, payload)
    frame.cvtok = _current.set(frame)
    return frame


def enter_sync(site, payload=None):
    """Open a span around a plain synchronous call, which opens and closes within one
    synchronous stretch of one context: pushed on the context frame's `sync_top` instead
    of setting the context variable."""
    rec = _recorder
    if rec is None or not rec.enabled(site):
        return None
    top, frame = _open(site)
    rec.emit(site, KIND_START, frame.span, frame.parent, frame.task, payload)
    frame.holder, frame.prev = top, top.sync_top
    top.sync_top = frame
    return frame


def _pop(frame):
    """Take a closing sync span off its holder's stack, with whatever was left open above
    it (nothing when an enclosing sync span already closed and took it off), and leave the
    context variable as the span found it, as a reset would: a generator started inside
    the span and still suspended no longer encloses what follows."""
    holder = frame.holder
    walk = holder.sync_top
    while walk is not None:
        if walk is frame:
            holder.sync_top = frame.prev
            break
        walk = walk.prev
    frame.holder = frame.prev = None
    if (holder.gen == _generation and (holder.root or not holder.done) and
            holder.owner == _owner() and _current.get() is not holder):
        _current.set(holder)


def _finish(frame, kind, payload):
    if frame is None or frame.done:
        return
    frame.done = True
    rec = _recorder
    try:
        if rec is not None and frame.gen == _generation:
            rec.emit(frame.site, kind, frame.span, frame.parent, frame.task, payload)
    finally:
        if frame.holder is not None:
            _pop(frame)
        elif frame.cvtok is not None:
            try:
                _current.reset(frame.cvtok)
            except (ValueError, RuntimeError):
                pass
            frame.cvtok = None
def exit(token, payload=None):  # noqa: A001 - the name the instrumentation pass calls
    _finish(token, KIND_END, payload)


def fail_end(token, payload):
    _finish(token, KIND_ERROR_END, payload)


def exit_value(token, value):
    """exit() recording a dataclass return as its fields, anything else as {"output": value};
    returns `value`, so generated code can close a span inside its `return`."""
    if token is None or token.done:
        return value
    if _recorder is None or token.gen != _generation:
        _finish(token, KIND_END, None)
        return value
    _finish(token, KIND_END, value if dataclass_fields(type(value)) is not None else {"output": value})
    return value


def exit_returning(token, value):
    """exit() without a payload that returns `value` (a `return` whose value is not captured)."""
    _finish(token, KIND_END, None)
    return value


def instant(site, payload=None):
    rec = _recorder
    if rec is None or not rec.enabled(site):
        return
    top = _top()
    rec.emit(site, KIND_INSTANT, 0, _innermost(top).span, top.task, payload)
