"""The layer injected tracepoints call: start a tracer, open and close spans, flush.

Generated code is expected to `import n3core.tracing.session as _n3t` once and call
`_n3t.enter(SITE, payload)` (or `_n3t.enter_sync(SITE, payload)` around a plain
synchronous function: no context-variable update) / `_n3t.exit(token, payload)` /
`_n3t.fail(token, exc)` / `_n3t.instant(SITE, payload)`. Those names are bound straight to the core's compiled
functions, so a call is one C call; with no tracer started each returns at once.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
import traceback
import uuid

from . import core as _core
from .config import TraceConfig, build_masks, coerce_sites
from .errors import TraceStateError
from .format import (CHUNK, RESERVED_SITES, SITE_MEMORY, encode_header, encode_trailer)
from .payload import type_name

__all__ = ["start", "stop", "enter", "enter_sync", "exit", "fail", "instant", "flush", "dump", "active",
           "tracing", "Tracer"]

_tracer: "Tracer | None" = None
_start_lock = threading.Lock()
# The payload.Redaction a new tracer's encoder applies (None: none). `probes` sets it when
# an instrumented build loads, and `probes.configure_redaction` updates it.
default_redaction = None


def _bind(ring) -> None:
    """Point the module-level fast functions at one core's implementation."""
    global enter, enter_sync, exit, instant, _fail_end, exit_value, exit_returning, _ring  # noqa: A001
    _ring = ring
    enter, enter_sync, exit, instant = ring.enter, ring.enter_sync, ring.exit, ring.instant
    _fail_end = ring.fail_end
    exit_value, exit_returning = ring.exit_value, ring.exit_returning
    if _observer is not None:
        _observed(ring, _observer)


_observer = None


def observe(callback) -> None:
    """Call `callback(kind, token, site, payload)` after each event the module functions
    record (kind: "start", "end", "error_end" or "instant"; token None for instants), so
    a replay sees every event as it happens. Costs a Python call per event while set;
    `observe(None)` restores the direct core calls."""
    global _observer
    _observer = callback
    _bind(_ring)


def _observed(ring, cb) -> None:
    global enter, enter_sync, exit, instant, _fail_end, exit_value, exit_returning  # noqa: A001

    def opener(real):
        def open_(site, payload=None):
            token = real(site, payload)
            if token is not None:
                cb("start", token, site, payload)
            return token
        return open_

    def closer(real, kind, value_is_payload=True):
        def close(token, value=None):
            done = token is None or getattr(token, "done", False)
            out = real(token, value)
            if not done:
                cb(kind, token, token.site, value if value_is_payload else None)
            return out
        return close

    def instant_(site, payload=None):
        ring.instant(site, payload)
        cb("instant", None, site, payload)

    enter, enter_sync = opener(ring.enter), opener(ring.enter_sync)
    exit, _fail_end = closer(ring.exit, "end"), closer(ring.fail_end, "error_end")
    exit_value = closer(ring.exit_value, "end")
    exit_returning = closer(ring.exit_returning, "end", False)
    instant = instant_


_bind(_core.ring)


def fail(token, exc: BaseException) -> None:
    """End the span `token` as failed, recording the exception's type, message and stack."""
    if token is None:
        return
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break the traced program
        message = "<str() failed>"
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    _fail_end(token, {"type": type_name(exc), "message": message, "stack": stack})


def error_payload(exc: BaseException) -> dict:
    """The payload fail() records, for passes that also emit an error_occurred instant."""
    return {"type": type_name(exc), "message": str(exc),
            "stack": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}


def active() -> "Tracer | None":
    return _tracer


def tracing() -> bool:
    return _tracer is not None


def _open_private(path: str) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    for _ in range(len(view) + 1):
        if not view:
            return
        view = view[os.write(fd, view):]


class Tracer:
    """One tracing session: the recorder, the file it drains to, and the exit hooks."""

    def __init__(self, path, sites, config, *, metadata=None, run_id=None, clock=None,
                 wall_clock=None, core=None, redaction=None):
        self.config = TraceConfig.from_mapping(config)
        self.sites = coerce_sites(sites) + list(RESERVED_SITES)
        self.run_id = run_id or uuid.uuid4().hex
        self.core_name = core or _core.CORE_NAME
        self.ring = _core.ring_module(core)
        self._clock = clock or time.monotonic_ns
        mono = self._clock()
        wall = (wall_clock or time.time_ns)()
        meta = {"pid": os.getpid(), "argv": list(sys.argv), "python": sys.version.split()[0]}
        meta.update(metadata or {})
        self.path = os.fspath(path) if path is not None else self._default_path(wall)
        self.header = encode_header(self.run_id, meta, wall, mono, self.sites,
                                    self.config.to_json())
        per_chunk, chunk_payload, slots = self.config.geometry()
        mask, reserved = build_masks(self.sites, self.config)
        policy = self.config.policy_code
        self.recorder = self.ring.Recorder(
            per_chunk, chunk_payload, slots, policy, mask=mask, reserved_mask=reserved,
            max_depth=self.config.max_depth, max_bytes=self.config.max_payload,
            max_repr=self.config.max_repr, clock=clock,
            on_seal=(self.drain if policy == 0 else self._wake_writer if policy == 1 else None),
            on_full=self.drain if policy == 0 else None,
            redaction=redaction if redaction is not None else default_redaction)
        self._wlock = threading.RLock()
        self._busy = 0  # file writes in progress on the main thread (see _writing)
        self._pending_signal = None
        self._fd = -1
        self.chunks_written = self.events_written = self.payload_written = 0
        self._stopped = False
        self._wake = threading.Event()
        self._quit = threading.Event()
        self._threads: list = []
        self._hooks: dict = {}
        if policy != 2:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._fd = _open_private(self.path)
            _write_all(self._fd, self.header)

    def _default_path(self, wall_ns: int) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(wall_ns / 1e9))
        return os.path.join(self.config.output_dir, f"trace-{stamp}-{self.run_id[:8]}.n3t")

    # -- draining --------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self):
        """Hold the write lock, and hold back SIGTERM until the file is consistent again.

        A Python signal handler runs between two bytecodes of the main thread, possibly in
        the middle of writing a chunk; flushing from there would put later chunks after a
        half-written one. So a SIGTERM that arrives while a write is under way is handled
        when the outermost write finishes.
        """
        if threading.current_thread() is not threading.main_thread():
            with self._wlock:  # handlers run on the main thread, which just waits for the lock
                yield
            return
        with self._wlock:
            self._busy += 1
            try:
                yield
            finally:
                self._busy -= 1
        if self._busy == 0 and self._pending_signal is not None:
            signum, frame = self._pending_signal
            self._pending_signal = None
            self._on_sigterm(signum, frame)

    def drain(self) -> None:
        """Write every sealed chunk to the file, oldest first (block: in the caller)."""
        with self._writing():
            if self._fd < 0:
                return
            for _ in range(1 << 20):
                data = self.recorder.take()
                if data is None:
                    return
                self._count(data)  # first: a signal handler may run right after the write
                _write_all(self._fd, data)

    def _count(self, data) -> None:
        self.chunks_written += 1
        _, _, n, pay, _, _, _ = CHUNK.unpack_from(data)
        self.events_written += n
        self.payload_written += pay

    def _wake_writer(self) -> None:
        self._wake.set()

    def _writer_loop(self) -> None:
        while not self._quit.is_set():
            self._wake.wait(0.05)
            self._wake.clear()
            self.drain()

    def _sampler_loop(self) -> None:
        import psutil
        proc = psutil.Process()
        while not self._quit.wait(self.config.memory_interval):
            instant(SITE_MEMORY, {"rss": proc.memory_info().rss})

    # -- lifecycle ---------------------------------------------------------------------
    def _begin(self) -> None:
        if self.config.policy == "drop":
            self._spawn(self._writer_loop, "n3trace-writer")
        if self.config.install_hooks:
            self._install_hooks()
        if self.config.capture_memory:
            import psutil
            instant(SITE_MEMORY, {"rss": psutil.Process().memory_info().rss})
            self._spawn(self._sampler_loop, "n3trace-memory")

    def _spawn(self, target, name) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def flush(self) -> None:
        """Make everything recorded so far durable: drain to the file, or dump the ring."""
        if self.config.policy == "flight-recorder":
            self.dump()
            return
        with self._writing():
            self.recorder.seal()
            self.drain()

    def dump(self, path=None) -> str:
        """Write the flight recorder's ring (header, chunks, trailer) atomically to `path`."""
        target = os.fspath(path) if path is not None else self.path
        with self._writing():
            self.recorder.seal()
            chunks = self.recorder.peek()
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            tmp = f"{target}.{os.getpid()}.tmp"
            fd = _open_private(tmp)
            try:
                _write_all(fd, self.header)
                events = payload = 0
                for data in chunks:
                    _write_all(fd, data)
                    _, _, n, pay, _, _, _ = CHUNK.unpack_from(data)
                    events += n
                    payload += pay
                _write_all(fd, encode_trailer(len(chunks), events, self.recorder.dropped,
                                              self.recorder.discarded, payload, self._clock()))
            finally:
                os.close(fd)
            os.replace(tmp, target)
        return target

    def stop(self) -> None:
        """Stop recording, write what is left and the trailer, and remove the hooks."""
        global _tracer
        if self._stopped:
            return
        self._stopped = True
        self.ring.uninstall()
        self._quit.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(5)
        self._remove_hooks()
        if self.config.policy == "flight-recorder":
            self.dump()
        else:
            with self._writing():
                self.recorder.seal()
                self.drain()
                _write_all(self._fd, encode_trailer(
                    self.chunks_written, self.events_written, self.recorder.dropped,
                    self.recorder.discarded, self.payload_written, self._clock()))
                os.close(self._fd)
                self._fd = -1
        with _start_lock:
            if _tracer is self:
                _tracer = None
                _bind(_core.ring)

    @property
    def stats(self) -> dict:
        rec = self.recorder
        return {"events": rec.events, "dropped": rec.dropped, "discarded": rec.discarded,
                "chunks": rec.chunks, "core": self.core_name}

    # -- exit hooks --------------------------------------------------------------------
    def _install_hooks(self) -> None:
        atexit.register(self._atexit)
        self._hooks["excepthook"] = sys.excepthook
        sys.excepthook = self._excepthook
        self._hooks["threading"] = threading.excepthook
        threading.excepthook = self._thread_excepthook
        if threading.current_thread() is threading.main_thread():
            self._hooks["sigterm"] = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _remove_hooks(self) -> None:
        atexit.unregister(self._atexit)
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._hooks.get("excepthook", sys.__excepthook__)
        if threading.excepthook == self._thread_excepthook:
            threading.excepthook = self._hooks.get("threading", threading.__excepthook__)
        if "sigterm" in self._hooks and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._hooks["sigterm"])

    def _atexit(self) -> None:
        self.stop()

    def _excepthook(self, exc_type, exc, tb) -> None:
        previous = self._hooks.get("excepthook", sys.__excepthook__)
        self.stop()
        previous(exc_type, exc, tb)

    def _thread_excepthook(self, args) -> None:
        self.flush()
        self._hooks.get("threading", threading.__excepthook__)(args)

    def _on_sigterm(self, signum, frame) -> None:
        if self._busy:
            self._pending_signal = (signum, frame)
            return
        previous = self._hooks.get("sigterm")
        if callable(previous):
            self.flush()
            previous(signum, frame)
            return
        self.stop()
        if previous == signal.SIG_IGN:
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def start(path=None, sites=(), config=None, **options) -> Tracer:
    """Start the one tracing session of this process and return its Tracer.

    path: the trace file (None: `<output_dir>/trace-<utc>-<run>.n3t`); sites: Site rows or
    dicts; config: TraceConfig or dict. Keyword options: metadata, run_id, clock (a
    monotonic-ns callable, for tests), wall_clock, core ("c" or "python"), redaction (a
    payload.Redaction; by default `default_redaction`, which `probes` configures).
    """
    global _tracer
    with _start_lock:
        if _tracer is not None:
            raise TraceStateError(f"a tracer is already writing {_tracer.path}; stop() it first")
        tracer = Tracer(path, sites, config, **options)
        _tracer = tracer
        _bind(tracer.ring)
        tracer.ring.install(tracer.recorder)
    tracer._begin()
    return tracer


def stop() -> None:
    """Stop the active tracer, if any (also runs at exit)."""
    tracer = _tracer
    if tracer is not None:
        tracer.stop()


def flush() -> None:
    tracer = _tracer
    if tracer is not None:
        tracer.flush()


def dump(path=None):
    """Write the flight recorder now; returns the path written, or None without a tracer."""
    tracer = _tracer
    return tracer.dump(path) if tracer is not None else None
