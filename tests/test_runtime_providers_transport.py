"""The shared HTTP transport: pooled connections per run, loopback past proxies, deadlines."""
from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

from n3core.runtime import transport
from tests.support.openai_server import openai_server  # noqa: F401


def test_calls_in_one_run_reuse_one_connection(openai_server):
    async def three_calls():
        for _ in range(3):
            reply = await transport.request("GET", openai_server.root + "/text", timeout=5)
            assert reply.status == 200 and reply.text() == "plain words"

    asyncio.run(three_calls())
    asyncio.run(three_calls())
    peers = [r["peer"] for r in openai_server.requests]
    assert len(peers) == 6
    assert len(set(peers[:3])) == 1 and len(set(peers[3:])) == 1
    assert peers[0] != peers[3]  # a new run opens its own connection


def test_the_pool_is_closed_when_the_run_ends(openai_server):
    async def one_call():
        await transport.request("GET", openai_server.root + "/text", timeout=5)
        return await transport._client()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = asyncio.run(one_call())
        gc.collect()
    assert client.is_closed
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_loopback_bypasses_proxies_from_the_environment(openai_server, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: nothing listens
    reply = asyncio.run(transport.request("GET", openai_server.root + "/text", timeout=5))
    assert reply.text() == "plain words"


def test_a_stream_is_read_as_it_arrives_within_the_deadline(openai_server):
    async def consume(stream):
        assert stream.status == 200
        return [line async for line in stream.lines()]

    lines = asyncio.run(transport.stream("GET", openai_server.root + "/text", consume, timeout=5))
    assert lines == ["plain words"]
    with pytest.raises(transport.TransportError) as info:
        asyncio.run(transport.stream("GET", openai_server.root + "/drip", consume, timeout=1))
    assert info.value.reason == "timeout" and "within 1 s" in info.value.detail


def test_refused_and_malformed_urls_are_connection_failures():
    from tests.support.loopback import free_port

    port = free_port()
    with pytest.raises(transport.TransportError) as info:
        asyncio.run(transport.request("GET", f"http://127.0.0.1:{port}/", timeout=2))
    assert info.value.reason == "connection" and "cannot connect" in info.value.detail
    with pytest.raises(transport.TransportError) as info:
        asyncio.run(transport.request("GET", "nonsense://where", timeout=2))
    assert info.value.reason == "connection"
