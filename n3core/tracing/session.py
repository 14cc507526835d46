"""A tracing session: the recorder, the file it drains to, and the hooks that finish it.

`start` makes the one Tracer of the process and binds `hooks` (the calls generated code
makes) to its core; `stop` writes the rest and the trailer and unbinds them. The
session's state is `hooks.tracer`; `active()` reads it.
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
from . import hooks
from .history import Writer
from .config import TraceConfig, build_masks, coerce_sites
from .errors import TraceStateError
from .format import (CHUNK, POLICY_FLIGHT, RESERVED_SITES,
                     SITE_MEMORY, encode_header, encode_trailer)
from .payload import scrub_argv, type_name
from .redaction import key_rules
from .sink import TraceFile, describe, make_private_dirs, warn

__all__ = ["start", "stop", "fail", "flush", "dump", "active", "tracing", "Tracer"]

WRITER_THREAD = "n3trace-writer"
_formatting = threading.local()  # set while error_payload runs the user's __str__
_start_lock = threading.Lock()


def fail(token, exc: BaseException) -> None:
    """End the span `token` as failed, recording the exception's type, message and stack."""
    if token is not None:
        hooks.fail_end(token, error_payload(exc))


def error_payload(exc: BaseException) -> dict:
    """What a failed span records: type, message and stack; never raises, whatever `exc` is.

    A user's exception may have a __str__, __repr__ or attributes that raise; the program
    must then still see its own exception, not one from the tracer.
    """
    if getattr(_formatting, "active", False):
        return {"type": type_name(exc), "message": _NESTED, "stack": ""}
    _formatting.active = True
    try:
        message = _str(exc)
        try:
            stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        except Exception:  # noqa: BLE001 - a broken exception must not break the program
            stack = "<traceback unavailable>"
    finally:
        _formatting.active = False
    return {"type": type_name(exc), "message": message, "stack": stack}


# str() or the traceback of one error raised another (a traced __str__, say): formatting
# that one would run the same code again, so it is recorded by its type alone
_NESTED = "<raised while an error was recorded>"


def safe_str(exc: BaseException) -> str:
    """str(exc), or a marker when its __str__ raises or runs while an error is recorded."""
    if getattr(_formatting, "active", False):
        return _NESTED
    _formatting.active = True
    try:
        return _str(exc)
    finally:
        _formatting.active = False


def _str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return "<str() failed>"


def active() -> "Tracer | None":
    return hooks.tracer


def tracing() -> bool:
    return hooks.tracer is not None


def _chunk_counts(data) -> tuple:
    """(events, payload bytes) of one sealed chunk's file bytes."""
    _, _, events, payload, _, _, _ = CHUNK.unpack_from(data)
    return events, payload


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
        rules = redaction if redaction is not None else key_rules()
        self.redaction = rules
        self.history = Writer()  # the llm requests this trace records, for the next to refer to
        meta = {"pid": os.getpid(), "argv": list(sys.argv), "python": sys.version.split()[0]}
        meta.update(metadata or {})
        if isinstance(meta.get("argv"), (list, tuple)):
            meta["argv"] = scrub_argv(meta["argv"], rules)
        self.path = os.fspath(path) if path is not None else self._default_path(wall)
        self.header = encode_header(self.run_id, meta, wall, mono, self.sites,
                                    self.config.to_json())
        per_chunk, chunk_payload, slots = self.config.geometry()
        mask, reserved = build_masks(self.sites, self.config)
        policy = self.config.policy_code
        self.recorder = self.ring.Recorder(
            per_chunk, chunk_payload, slots, policy, mask=mask, reserved_mask=reserved,
            max_depth=self.config.max_depth, max_bytes=self.config.max_payload,
            max_repr=self.config.max_repr, clock=clock, redaction=rules)
        self._wlock = threading.RLock()
        self._busy = 0  # file writes in progress on the main thread (see _writing)
        self._pending_signal = None
        self._pid = os.getpid()
        self._file: TraceFile | None = None
        self.write_error: OSError | None = None
        self._stopped = False
        self._quit = threading.Event()
        self._threads: list = []
        self._hooks: dict = {}
        self._live = None
        if policy != POLICY_FLIGHT:
            make_private_dirs(os.path.dirname(os.path.abspath(self.path)))
            self._file = TraceFile(self.path, self.header)
            self.recorder.attach_writer(self._file.fd, self._file.offset,
                                        self.config.flush_interval)
            if self.config.otlp_endpoint:
                from .live_otlp import LiveExporter, traces_url

                self._live = LiveExporter(traces_url(self.config.otlp_endpoint),
                                          path=self.path, run_id=self.run_id, metadata=meta,
                                          sites=self.sites, ts_shift=wall - mono,
                                          offset=self._file.offset)

    def redact(self, rules) -> None:
        """Follow new redaction rules from now on (the encoder and the request hash)."""
        self.redaction = rules
        self.recorder.redact(rules)

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

    def _write_failed(self, exc: OSError) -> None:
        """The writer thread's report of a failed write: the file ends on its last whole
        chunk, later chunks are freed unwritten, and the trailer counts them as lost."""
        exc.filename = self.path
        if self._file is not None:
            self._file.error = exc
        self._stop_recording(exc)

    def _stop_recording(self, exc: OSError) -> None:
        """Stop recording after a failed write, and say so once; the program goes on."""
        self.write_error = exc
        if self.ring.active() is self.recorder:
            self.ring.uninstall()
        warn(f"cannot write the trace {self.path}: {describe(exc)}. Tracing stopped there "
             f"and the program goes on untraced; the {self.recorder.written_events} events written "
             "before stay readable, and the trailer, if it still fits, counts the rest as "
             "dropped. Free some space, or point NAMEL3SS_DEBUG_OUTPUT_DIR at a writable "
             "folder.")

    @property
    def events_lost(self) -> int:
        """Events recorded but not in the file because writing it failed (block and drop)."""
        if self.config.policy == "flight-recorder":
            return 0
        return max(0, self.recorder.events - self.recorder.written_events)

    def _sampler_loop(self) -> None:
        import psutil
        proc = psutil.Process()
        while not self._quit.wait(self.config.memory_interval):
            hooks.instant(SITE_MEMORY, {"rss": proc.memory_info().rss})

    # -- lifecycle ---------------------------------------------------------------------
    def _begin(self) -> None:
        if self._file is not None:
            self._spawn(self.recorder.run_writer, WRITER_THREAD, (self._write_failed,))
        if self.config.install_hooks:
            self._install_hooks()
        if self.config.capture_memory:
            import psutil
            hooks.instant(SITE_MEMORY, {"rss": psutil.Process().memory_info().rss})
            self._spawn(self._sampler_loop, "n3trace-memory")

    def _spawn(self, target, name, args=()) -> None:
        thread = threading.Thread(target=target, name=name, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def flush(self) -> None:
        """Make everything recorded so far durable: drain to the file, or dump the ring."""
        if self.config.policy == "flight-recorder":
            self.dump()
            return
        with self._writing():
            self.recorder.seal()
            self.recorder.sync()

    def dump(self, path=None) -> "str | None":
        """Write the flight recorder's ring (header, chunks, trailer) atomically to `path`.

        Returns the path written, or None when it could not be written (one warning says
        why; the ring stays in memory, so a later dump may still succeed).
        """
        if os.getpid() != self._pid:
            return None
        target = os.fspath(path) if path is not None else self.path
        tmp = f"{target}.{os.getpid()}.tmp"
        with self._writing():
            self.recorder.seal()
            chunks = self.recorder.peek()
            try:
                make_private_dirs(os.path.dirname(os.path.abspath(target)))
                file = TraceFile(tmp, self.header)
                events = payload = 0
                for data in chunks:
                    file.write(data)
                    n, pay = _chunk_counts(data)
                    events += n
                    payload += pay
                trailer = encode_trailer(len(chunks), events, self.recorder.dropped,
                                         self.recorder.discarded, payload, self._clock())
                if not file.finish(trailer) or file.failed:
                    raise file.error
                os.replace(tmp, target)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                if self.write_error is None:
                    self.write_error = exc
                    warn(f"cannot write the flight recorder's trace {target}: "
                         f"{describe(exc)}. The program goes on; its last events stay in "
                         "memory. Free some space, or point NAMEL3SS_DEBUG_OUTPUT_DIR at a "
                         "writable folder.")
                return None
        return target

    def stop(self) -> None:
        """Stop recording, write what is left and the trailer, and remove the hooks."""
        if self._stopped:
            return
        self._stopped = True
        self.ring.uninstall()
        self._quit.set()
        rec = self.recorder
        if self._file is not None:
            with self._writing():
                rec.seal()
                if rec.pending_drops():  # a full ring: once a slot is free they get a chunk
                    rec.sync()
                    rec.seal()
            rec.stop_writer()
        for thread in self._threads:
            if thread is not threading.current_thread():
                # the writer is waited for however long the disk takes: the trailer must
                # come after its last chunk, as when the caller wrote them itself
                thread.join(None if thread.name == WRITER_THREAD else 5)
        self._remove_hooks()
        if self.config.policy == "flight-recorder":
            self.dump()
        else:
            with self._writing():
                file, self._file = self._file, None
                if file is not None:
                    file.offset = rec.write_offset
                    file.finish(encode_trailer(
                        rec.written_chunks, rec.written_events,
                        rec.dropped + self.events_lost, rec.discarded, rec.written_payload,
                        self._clock(), rec.block_waits, rec.block_wait_ns))
        if self._live is not None:
            self._live.close()
        self._release()

    def _release(self) -> None:
        with _start_lock:
            if hooks.tracer is self:
                hooks.bind(_core.ring, None)

    def _forget_in_child(self) -> None:
        """In a forked child: drop this tracer without writing a byte of the parent's file."""
        global _start_lock
        self._stopped = True
        self.ring.uninstall()
        self.recorder.forget_writer()
        file, self._file = self._file, None
        if file is not None:
            file.close()  # the child's copy of the descriptor; the parent's stays open
        self._threads = []
        self._live = None
        try:
            self._remove_hooks()
        except Exception:  # noqa: BLE001 - the child runs on untraced whatever happens
            pass
        _start_lock = threading.Lock()  # another thread may have held it at the fork
        hooks.bind(_core.ring, None)

    @property
    def stats(self) -> dict:
        rec = self.recorder
        return {"events": rec.events, "dropped": rec.dropped, "discarded": rec.discarded,
                "chunks": rec.chunks, "block_waits": rec.block_waits, "core": self.core_name}

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

    def _safely(self, action) -> None:
        """Run a flush or stop from a hook, where an exception would replace the program's
        own exit: a failure is one warning instead."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001
            warn(f"tracing could not finish the trace {self.path}: {type(exc).__name__}: "
                 f"{safe_str(exc)}. The program's own exit is unchanged.")

    def _atexit(self) -> None:
        self._safely(self.stop)

    def _excepthook(self, exc_type, exc, tb) -> None:
        previous = self._hooks.get("excepthook", sys.__excepthook__)
        self._safely(self.stop)
        previous(exc_type, exc, tb)

    def _thread_excepthook(self, args) -> None:
        self._safely(self.flush)
        self._hooks.get("threading", threading.__excepthook__)(args)

    def _on_sigterm(self, signum, frame) -> None:
        if self._busy:
            self._pending_signal = (signum, frame)
            return
        previous = self._hooks.get("sigterm")
        if callable(previous):
            self._safely(self.flush)
            previous(signum, frame)
            return
        self._safely(self.stop)
        if previous == signal.SIG_IGN:
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    tracer = hooks.tracer
    if tracer is not None:
        tracer._forget_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def start(path=None, sites=(), config=None, **options) -> Tracer:
    """Start the one tracing session of this process and return its Tracer.

    path: the trace file (None: `<output_dir>/trace-<utc>-<run>.n3t`); sites: Site rows or
    dicts; config: TraceConfig or dict. Keyword options: metadata, run_id, clock (a
    monotonic-ns callable, for tests), wall_clock, core ("c" or "python"), redaction (a
    payload.Redaction, such as `probes.configure_redaction()` returns; by default
    `redaction.key_rules()`: secret-named keys only).
    """
    with _start_lock:
        running = hooks.tracer
        if running is not None:
            raise TraceStateError(f"a tracer is already writing {running.path}; stop() it first")
        tracer = Tracer(path, sites, config, **options)
        hooks.bind(tracer.ring, tracer)
        tracer.ring.install(tracer.recorder)
    tracer._begin()
    return tracer


def stop() -> None:
    """Stop the active tracer, if any (also runs at exit)."""
    tracer = hooks.tracer
    if tracer is not None:
        tracer.stop()


def flush() -> None:
    tracer = hooks.tracer
    if tracer is not None:
        tracer.flush()


def dump(path=None):
    """Write the flight recorder now; returns the path written, or None without a tracer."""
    tracer = hooks.tracer
    return tracer.dump(path) if tracer is not None else None
