"""The trace file a tracer writes: created private, and failing soft.

Tracing must never change what the traced program does, so a write that fails (a full
disk, an I/O error, a file size limit) ends the writing, not the run: the file is cut back
to its last complete block, one warning says why, and the tracer's trailer, if it still
fits, counts what was not written. Opening is the only step that raises (OSError), so
the caller can go on untraced.
"""
from __future__ import annotations

import errno
import os
import stat
import sys

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dirs(folder: str) -> None:
    """Create `folder` and its missing parents, each 0700; existing folders are left as they are."""
    folder = os.path.abspath(folder)
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR)
        except FileExistsError:
            if not os.path.isdir(path):
                raise NotADirectoryError(errno.ENOTDIR, "a file is in the way of a folder",
                                         path) from None
            continue
        os.chmod(path, PRIVATE_DIR)  # the umask may have taken bits away, never added them


def open_private(path: str) -> int:
    """Open `path` for writing from its start, as a 0600 file if it is a regular one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0),
                 PRIVATE_FILE)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # never chmod a device such as /dev/full
            os.fchmod(fd, PRIVATE_FILE)
    except OSError:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    for _ in range(len(view) + 1):
        if not view:
            return
        view = view[os.write(fd, view):]


def describe(exc: OSError) -> str:
    """`No space left on device (ENOSPC)`: the reason, its errno name, and the path it names."""
    name = errno.errorcode.get(exc.errno or 0, "")
    reason = exc.strerror or str(exc) or type(exc).__name__
    text = f"{reason} ({name})" if name else reason
    return f"{text} at {exc.filename}" if exc.filename else text


def warn(message: str) -> None:
    """One line on stderr, which may itself be gone: then nothing."""
    try:
        sys.stderr.write(f"n3trace: {message}\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed or broken stderr must not break the program
        pass


class TraceFile:
    """An open trace file: complete blocks only, and no exception once it is open."""

    def __init__(self, path: str, header: bytes):
        self.path = path
        self.fd = open_private(path)
        self.offset = 0  # bytes of complete blocks written
        self.error: OSError | None = None
        if not self.write(header):
            error = self.error
            regular = stat.S_ISREG(os.fstat(self.fd).st_mode)
            self.close()
            if regular:  # an empty file would pass for a trace that lost its header
                try:
                    os.unlink(path)
                except OSError:
                    pass
            raise error

    @property
    def failed(self) -> bool:
        return self.error is not None

    def write(self, data) -> bool:
        """Write one whole block; False (and nothing more is written) once a write failed."""
        if self.fd < 0 or self.error is not None:
            return False
        try:
            _write_all(self.fd, data)
        except OSError as exc:
            self.error = exc
            self._cut()
            return False
        self.offset += len(data)
        return True

    def _cut(self) -> None:
        """Remove a block written in part, so the file ends on a complete one."""
        try:
            os.ftruncate(self.fd, self.offset)
            os.lseek(self.fd, self.offset, os.SEEK_SET)
        except OSError:
            pass

    def finish(self, trailer: bytes) -> bool:
        """Write the trailer (after a failure too, if it fits) and close; True if it was written."""
        if self.fd < 0:
            return False
        written = False
        try:
            _write_all(self.fd, trailer)
            written = True
        except OSError as exc:
            self.error = self.error or exc
            self._cut()
        self.close()
        return written

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
