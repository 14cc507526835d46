"""Async HTTP on the standard library, shared by the llm providers and http tools.

Calls run in worker threads of the transport's own pool (32 threads, so parallel steps
and tool calls overlap beyond the default executor's cpu + 4) and reuse keep-alive
connections per scheme, host, port and proxy, so an agent's turns skip the TCP and TLS
handshakes. A pooled connection the server closed while it sat idle is replaced and the
request sent again, only when nothing of a reply had arrived. `stream` hands the reply's
lines to the event loop as they arrive. httpx was measured against this and lost on
every loopback figure (benchmarks/bench_transport.py, docs/runtime.md); the standard
library also keeps the runtime free of dependencies and of their import time.

`timeout` is a deadline for the whole call, body and stream included, not for each socket
read: a server that drips one byte at a time would otherwise hold a call for as long as it
likes. When the deadline passes, a timer shuts the connection's socket down, which ends
whatever read is blocked. Failures are one exception type, so callers turn them into
their own component's error.
"""
from __future__ import annotations

import asyncio
import atexit
import base64
import http.client
import os
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_REDIRECTS = (301, 302, 303, 307, 308)
_CREDENTIALS = ("authorization", "api-key", "x-api-key", "cookie", "proxy-authorization")
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
_IDLE_PER_HOST = 8
_WORKERS = 32


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class TransportError(Exception):
    """The request never got an HTTP answer: `reason` is "timeout" or "connection"."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class _Deadline:
    """Shuts down the socket of one call when its time is up."""

    def __init__(self, seconds: float):
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._sock = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.expires - time.monotonic())

    def watch(self, sock) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _shutdown(self._sock)


def _shutdown(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Pool:
    """Idle keep-alive connections by (scheme, host, port, proxy), and the worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.idle: dict = {}
        self.tls = None
        self.executor = None

    def workers(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.executor is None:
                self.executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="n3-http")
            return self.executor

    def take(self, key):
        with self.lock:
            stack = self.idle.get(key)
            return stack.pop() if stack else None

    def give(self, key, conn) -> None:
        with self.lock:
            stack = self.idle.setdefault(key, [])
            if len(stack) < _IDLE_PER_HOST:
                stack.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self.lock:
            conns = [c for stack in self.idle.values() for c in stack]
            self.idle.clear()
        for conn in conns:
            conn.close()

    def context(self) -> ssl.SSLContext:
        if self.tls is None:
            self.tls = ssl.create_default_context()
        return self.tls


_pool = _Pool()
atexit.register(_pool.close)


def _after_fork() -> None:
    global _pool
    _pool = _Pool()  # the parent's threads and sockets are not the child's


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork)


class _Target:
    """Where one URL is sent: the connection key, and how to open and address it."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported url {url!r}: expected http:// or https://")
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.proxy = None
        if self.host not in _LOOPBACK and not urllib.request.proxy_bypass(self.host):
            proxy = urllib.request.getproxies().get(self.scheme)
            self.proxy = urllib.parse.urlsplit(proxy) if proxy else None
        self.key = (self.scheme, self.host, self.port,
                    self.proxy.geturl() if self.proxy else None)

    def address(self) -> str:
        plain = self.proxy is not None and self.scheme == "http"
        return f"http://{self.host}:{self.port}{self.path}" if plain else self.path

    def proxy_headers(self) -> dict:
        if self.proxy is None or not self.proxy.username:
            return {}
        pair = f"{urllib.parse.unquote(self.proxy.username)}:" \
               f"{urllib.parse.unquote(self.proxy.password or '')}"
        return {"Proxy-Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def connect(self, timeout: float):
        if self.proxy is None:
            if self.scheme == "https":
                return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                   context=_pool.context())
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        host, port = self.proxy.hostname, self.proxy.port or 80
        if self.scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=timeout)
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_pool.context())
        conn.set_tunnel(self.host, self.port, headers=self.proxy_headers())
        return conn


def _open(target: _Target, method, headers, body, deadline: _Deadline):
    """(connection, reply) once the status line and headers are in."""
    headers = {**headers, **(target.proxy_headers() if target.scheme == "http" else {})}
    for attempt in range(2):
        conn = _pool.take(target.key)
        reused = conn is not None
        if conn is None:
            conn = target.connect(deadline.remaining())
            try:
                conn.connect()
            except BaseException:
                conn.close()
                raise
        conn.sock.settimeout(deadline.remaining())
        deadline.watch(conn.sock)
        try:
            conn.request(method, target.address(), body=body, headers=headers)
            return conn, conn.getresponse()
        except _STALE:
            conn.close()
            if not reused or attempt or deadline.expired:
                raise
        except BaseException:
            conn.close()
            raise
    raise AssertionError("unreachable")


def _exchange(method, url, headers, body, timeout, read):
    """One call in a worker thread, redirects followed; `read(reply)` takes the reply."""
    deadline = _Deadline(timeout)
    late = f"no complete answer within {timeout:g} s"
    try:
        for _ in range(5):
            target = _Target(url)
            conn, reply = _open(target, method, headers, body, deadline)
            location = reply.getheader("Location")
            if reply.status in _REDIRECTS and location:
                reply.read()
                _release(target, conn, reply)
                url = urllib.parse.urljoin(url, location)
                if urllib.parse.urlsplit(url).hostname != target.host:  # keys stay home
                    headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
                if reply.status == 303 or reply.status in (301, 302) and method == "POST":
                    method, body = "GET", None
                    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                continue
            try:
                result = read(reply, conn)
            finally:
                _release(target, conn, reply)
            if deadline.expired:  # a shut-down socket reads as the end of the body
                raise TransportError("timeout", late)
            return result
        raise TransportError("connection", f"too many redirects, last to {url}")
    except TransportError:
        raise
    except (socket.timeout, TimeoutError) as exc:
        raise TransportError("timeout", late) from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        if deadline.expired:
            raise TransportError("timeout", late) from exc
        if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
            raise TransportError("connection", f"cannot connect: {exc}") from exc
        raise TransportError("connection", f"request failed: {exc}") from exc
    finally:
        deadline.cancel()


def _release(target: _Target, conn, reply) -> None:
    if reply.isclosed() and not reply.will_close:
        _pool.give(target.key, conn)
    else:
        conn.close()


def _whole(reply, conn=None) -> Response:
    return Response(reply.status, dict(reply.getheaders()), reply.read())


async def request(method: str, url: str, *, headers: dict | None = None,
                  body: bytes | None = None, timeout: float = 30.0) -> Response:
    """One call, its whole body read."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool.workers(), _exchange, method, url,
                                      dict(headers or {}), body, timeout, _whole)


class Stream:
    """A reply read as it arrives: status and headers first, then its lines."""

    def __init__(self, status: int, headers: dict, queue: asyncio.Queue, whole=None):
        self.status, self.headers = status, headers
        self._queue, self._whole = queue, whole

    async def lines(self):
        while True:
            kind, value = await self._queue.get()
            if kind == "line":
                yield value
            elif kind == "error":
                raise value
            else:
                return

    async def read(self) -> Response:
        if self._whole is None:
            body = "\n".join([line async for line in self.lines()]).encode()
            return Response(self.status, self.headers, body)
        return self._whole


async def stream(method: str, url: str, consume, *, headers: dict | None = None,
                 body: bytes | None = None, timeout: float = 30.0):
    """One call whose reply `consume(Stream)` reads as it arrives; returns what it returns.

    An error status is read whole (its body is the error message); a 2xx body goes to the
    loop one line at a time. When `consume` stops early, the worker stops reading and the
    connection is closed rather than pooled.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    sockets: list = []

    def put(kind, value=None):
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is gone: nobody is reading any more
            stop.set()

    def read(reply, conn):
        if not 200 <= reply.status < 300:
            put("whole", _whole(reply))
            return
        sockets.append(conn.sock)
        put("head", (reply.status, dict(reply.getheaders())))
        while not stop.is_set():
            line = reply.readline()
            if not line:
                break
            put("line", line.decode("utf-8", errors="replace").rstrip("\r\n"))
        if stop.is_set():
            reply.will_close = True  # read only in part: never pooled
            reply.close()

    def work():
        try:
            _exchange(method, url, dict(headers or {}), body, timeout, read)
        except TransportError as exc:
            put("error", exc)
        finally:
            put("end")

    worker = loop.run_in_executor(_pool.workers(), work)
    try:
        kind, value = await queue.get()
        if kind == "error":
            raise value
        if kind == "end":
            raise TransportError("connection", "the server sent no reply")
        if kind == "whole":
            return await consume(Stream(value.status, value.headers, queue, value))
        return await consume(Stream(*value, queue))
    finally:
        if not worker.done():
            stop.set()
            for sock in sockets:
                _shutdown(sock)
        await worker
