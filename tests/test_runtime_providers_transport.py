"""The shared HTTP transport: pooled connections per run, loopback past proxies, deadlines."""
from __future__ import annotations

import asyncio
import json

import pytest

from n3core.runtime import transport
from tests.support.openai_server import openai_server  # noqa: F401


def test_calls_reuse_one_keep_alive_connection(openai_server):
    async def three_calls():
        for _ in range(3):
            reply = await transport.request("GET", openai_server.root + "/text", timeout=5)
            assert reply.status == 200 and reply.text() == "plain words"

    asyncio.run(three_calls())
    asyncio.run(three_calls())
    peers = [r["peer"] for r in openai_server.requests]
    assert len(peers) == 6 and len(set(peers)) == 1


def test_a_connection_the_server_closed_is_replaced_and_the_call_sent_again(openai_server):
    asyncio.run(transport.request("GET", openai_server.root + "/text", timeout=5))
    openai_server.drop_idle()  # as a server's keep-alive timeout does, without a word
    reply = asyncio.run(transport.request("POST", openai_server.root + "/echo", timeout=5,
                                          body=b'{"n": 1}'))
    assert reply.status == 200
    first, second = [r["peer"] for r in openai_server.requests]
    assert first != second and openai_server.requests[1]["body"] == {"n": 1}


def test_many_calls_really_overlap(openai_server):
    async def at_once():
        return await asyncio.gather(*(transport.request(
            "GET", openai_server.root + "/hold", timeout=10) for _ in range(12)))

    assert all(r.status == 200 for r in asyncio.run(at_once()))
    assert openai_server.most_held_at_once == 12  # more than the default executor's cpu + 4


def test_redirects_are_followed(openai_server):
    reply = asyncio.run(transport.request("POST", openai_server.root + "/moved", timeout=5,
                                          body=b"{}"))
    assert reply.status == 200 and reply.text() == "plain words"
    assert [r["method"] for r in openai_server.requests] == ["POST", "GET"]


def test_credentials_are_not_sent_on_to_another_host(openai_server):
    reply = asyncio.run(transport.request(
        "POST", openai_server.root + "/away", timeout=5, body=b'{"q": 1}',
        headers={"Authorization": "Bearer k", "X-Api-Key": "k", "X-Trace": "t"}))
    echoed = json.loads(reply.body)
    assert echoed["method"] == "POST" and echoed["body"] == {"q": 1}  # 307 keeps both
    assert "authorization" not in echoed["headers"] and "x-api-key" not in echoed["headers"]
    assert echoed["headers"]["x-trace"] == "t"
    assert openai_server.requests[0]["headers"]["authorization"] == "Bearer k"


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
