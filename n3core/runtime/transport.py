"""Async HTTP on httpx, shared by the llm providers and http tools.

httpx is the client the Python LLM SDKs themselves use: native asyncio (no worker thread
per call), pooled keep-alive connections, and streamed bodies, which `stream: true` needs.
Every call of one run goes through one pooled client per event loop, so an agent's turns
reuse their connection instead of paying a new TCP and TLS handshake each. The pool is
closed when `asyncio.run` shuts its loop down: the loop closes every suspended async
generator then, and the pool's keeper is one.

`timeout` is a deadline for the whole call, body and stream included, not for each socket
read: a server that drips one byte at a time would otherwise hold a call for as long as it
likes. The call is cancelled when the deadline passes, which closes its connection.
Failures are one exception type, so callers turn them into their own component's error.
"""
from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_tls: list = []  # one TLS context for every pool: loading the CA bundle is the slow part


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


class Stream:
    """A reply whose body is read as it arrives: status and headers first, then lines."""

    def __init__(self, reply):
        self._reply = reply
        self.status = reply.status_code
        self.headers = dict(reply.headers)

    def lines(self):
        return self._reply.aiter_lines()

    async def read(self) -> Response:
        return Response(self.status, self.headers, await self._reply.aread())


async def _keep(client):
    try:
        yield
    finally:
        await client.aclose()


async def _client():
    """The running loop's pooled client; proxies from the environment skip loopback hosts."""
    import httpx

    loop = asyncio.get_running_loop()
    held = _pools.get(loop)
    if held is None:
        if not _tls:
            _tls.append(httpx.create_ssl_context())
        direct = {f"all://{host}": httpx.AsyncHTTPTransport(verify=_tls[0]) for host in _LOOPBACK}
        client = httpx.AsyncClient(mounts=direct, verify=_tls[0], follow_redirects=True,
                                   timeout=None)
        keeper = _keep(client)
        await keeper.__anext__()
        held = _pools[loop] = (client, keeper)
    return held[0]


async def _within(timeout: float, call):
    import httpx

    late = f"no complete answer within {timeout:g} s"
    client = await _client()
    try:
        return await asyncio.wait_for(call(client, httpx.Timeout(timeout)), timeout)
    except (asyncio.TimeoutError, httpx.TimeoutException) as exc:
        raise TransportError("timeout", late) from exc
    except httpx.ConnectError as exc:
        raise TransportError("connection", f"cannot connect: {exc}") from exc
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        raise TransportError("connection", f"request failed: {exc}") from exc


async def request(method: str, url: str, *, headers: dict | None = None,
                  body: bytes | None = None, timeout: float = 30.0) -> Response:
    """One call, its whole body read."""
    async def call(client, limits):
        reply = await client.request(method, url, headers=headers, content=body,
                                     timeout=limits)
        return Response(reply.status_code, dict(reply.headers), reply.content)

    return await _within(timeout, call)


async def stream(method: str, url: str, consume, *, headers: dict | None = None,
                 body: bytes | None = None, timeout: float = 30.0):
    """One call whose reply `consume(Stream)` reads as it arrives; returns what it returns."""
    async def call(client, limits):
        async with client.stream(method, url, headers=headers, content=body,
                                 timeout=limits) as reply:
            return await consume(Stream(reply))

    return await _within(timeout, call)
