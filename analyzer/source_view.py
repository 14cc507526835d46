"""The `.ai` lines around a site, shown only from the very file the trace was built from.

A trace names its source files, and a trace can come from anyone: a site naming
/dev/zero, /etc/shadow, a FIFO or a symlink to a huge file must not make the analyzer
read, block on or print it. So a file is shown only when it is a regular file (not
followed through a final symlink), at most MAX_BYTES long, and its SHA-256 equals the
`source_sha256` the build recorded in the trace header; otherwise the view says why not.
"""
from __future__ import annotations

import hashlib
import os
import stat
from typing import NamedTuple

CONTEXT = 3
MAX_BYTES = 4 << 20
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | \
    getattr(os, "O_NOCTTY", 0)


class SourceLines(NamedTuple):
    """[(lineno, text, is_site_line)] or None, and why they are not shown (or "")."""

    lines: list | None
    reason: str


def _candidates(name: str, trace_path: str) -> list:
    found = [name]
    if not os.path.isabs(name):
        folder = os.path.dirname(os.path.abspath(trace_path))
        for _ in range(4):
            found.append(os.path.join(folder, name))
            folder = os.path.dirname(folder)
    return found


def _read_checked(path: str, sha256: str):
    """The file's bytes, or (None, why not) when it is not the file the trace names."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):  # never open a device or a FIFO
            kind = "a symbolic link, which is not followed" if os.path.islink(path) \
                else "not a regular file"
            return None, f"{path} is {kind}"
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno in (getattr(os, "ELOOP", -1), getattr(os, "EMLINK", -1)):
            return None, f"{path} is a symbolic link, which is not followed"
        return None, ""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, f"{path} is not a regular file"
        if st.st_size > MAX_BYTES:
            return None, f"{path} is larger than {MAX_BYTES} bytes"
        chunks, left = [], MAX_BYTES + 1
        while left > 0:
            part = os.read(fd, min(left, 1 << 16))
            if not part:
                break
            chunks.append(part)
            left -= len(part)
        data = b"".join(chunks)
    except OSError as exc:
        return None, f"{path} cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        return None, f"{path} is larger than {MAX_BYTES} bytes"
    if hashlib.sha256(data).hexdigest() != sha256:
        return None, (f"{path} is not the file this trace was built from (its SHA-256 "
                      "differs from the source_sha256 in the trace header)")
    return data, ""


def source_lines(site, trace_path: str, sha256, context: int = CONTEXT) -> SourceLines:
    """The lines around `site`, looked up next to the trace and in the working directory.

    Relative paths are tried against the working directory, then the trace's folder and
    its parents, since traces usually live in ./debug/traces under the app.
    """
    if not site.file or site.line <= 0:
        return SourceLines(None, "")
    if not isinstance(sha256, str) or not sha256:
        return SourceLines(None, "the trace header records no source_sha256 to check the "
                                 "file against, so it is not read")
    if "\x00" in site.file:
        return SourceLines(None, "the site's file name is not a valid path")
    reasons = []
    for path in _candidates(site.file, trace_path):
        data, why = _read_checked(path, sha256)
        if data is None:
            if why:
                reasons.append(why)
            continue
        text = data.decode("utf-8", "replace").splitlines()
        if site.line > len(text):
            return SourceLines(None, f"{path} has {len(text)} lines, the site names line "
                                     f"{site.line}")
        lo, hi = max(1, site.line - context), min(len(text), site.line + context)
        return SourceLines([(n, text[n - 1], n == site.line) for n in range(lo, hi + 1)], "")
    return SourceLines(None, "; ".join(reasons) if reasons else
                       f"{site.file} was not found next to the trace or in the working folder")


def lines_around(site, trace_path: str, context: int = CONTEXT, sha256=None):
    """[(lineno, text, is_site_line)] or None; see source_lines for when a file is shown."""
    return source_lines(site, trace_path, sha256, context).lines
