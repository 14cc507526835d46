"""vllm, local_ai, google/gemini and azure_openai against a loopback Chat Completions server."""
from __future__ import annotations

import asyncio

import pytest

from n3core import runtime as n3
from n3core.runtime import providers, schema
from n3core.runtime.errors import ConfigError, ProviderError
from n3core.runtime.llm import LLMRequest
from tests.support.openai_server import chat, error, openai_server  # noqa: F401

KEY = "compat-secret-0123456789"
COMPATIBLE = ["vllm", "local_ai", "google", "gemini", "azure_openai"]


def make_llm(provider, server=None, monkeypatch=None, **props):
    if monkeypatch is not None:
        monkeypatch.setenv("COMPAT_KEY", KEY)
        props.setdefault("api_key", n3.Env("COMPAT_KEY"))
    if server is not None:
        props.setdefault("base_url", server.url if provider != "azure_openai" else server.root)
    props.setdefault("model", "m-1")
    app = n3.App(None)
    app.llm("compat", {"provider": provider, "timeout": 5, **props}, loc=n3.Loc("app.ai", 3, 1))
    app.finalize()
    return app.get("llm", "compat")


def complete(llm, **kw):
    return asyncio.run(llm.complete(LLMRequest([{"role": "user", "content": "hi"}], **kw)))


def test_every_provider_is_known_to_the_checker_and_the_runtime():
    assert set(providers.names()) == set(schema.PROVIDERS)
    assert providers.genai_name("azure_openai") == "azure.ai.openai"
    assert providers.genai_name("gemini") == providers.genai_name("google") == "gcp.gemini"
    assert providers.genai_name("vllm") == "vllm"


@pytest.mark.parametrize("provider", COMPATIBLE)
def test_reply_tool_calls_and_usage(openai_server, monkeypatch, provider):
    openai_server.script(chat(None, tool_calls=[("c9", "search", {"q": "tides"})], usage=(7, 2)))
    llm = make_llm(provider, openai_server, monkeypatch, temperature=0.1)
    tools = [{"name": "search", "description": "", "parameters": {"type": "object"}}]
    response = complete(llm, tools=tools)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("c9", "search", {"q": "tides"})]
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (7, 2)
    [sent] = openai_server.chat_requests()
    assert sent["body"]["temperature"] == 0.1
    assert sent["body"]["tools"][0]["function"]["name"] == "search"


@pytest.mark.parametrize("provider", ["vllm", "local_ai", "google"])
def test_key_is_a_bearer_token(openai_server, monkeypatch, provider):
    complete(make_llm(provider, openai_server, monkeypatch))
    [sent] = openai_server.chat_requests()
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("provider", ["vllm", "local_ai"])
def test_local_servers_need_no_key(openai_server, monkeypatch, provider):
    for name in ("VLLM_API_KEY", "LOCALAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    openai_server.script(chat("local words"))
    assert complete(make_llm(provider, openai_server)).text == "local words"
    assert "authorization" not in openai_server.chat_requests()[0]["headers"]


@pytest.mark.parametrize("provider, url", [
    ("vllm", "http://localhost:8000/v1/chat/completions"),
    ("local_ai", "http://localhost:8080/v1/chat/completions"),
    ("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
])
def test_default_base_urls(monkeypatch, provider, url):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    llm = make_llm(provider)
    assert llm.provider.url(llm.provider.settings()) == url


def test_gemini_reads_its_key_from_the_environment(openai_server, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-42")
    complete(make_llm("gemini", openai_server))
    assert openai_server.chat_requests()[0]["headers"]["authorization"] == "Bearer google-key-42"
    monkeypatch.delenv("GOOGLE_API_KEY")
    with pytest.raises(ProviderError) as info:
        complete(make_llm("gemini", openai_server))
    assert "GEMINI_API_KEY" in info.value.hint


def test_azure_deployment_api_version_and_api_key_header(openai_server, monkeypatch):
    openai_server.script(chat("from azure"))
    llm = make_llm("azure_openai", openai_server, monkeypatch, model=None,
                   deployment="gpt4o-prod", api_version="2024-06-01")
    assert complete(llm).text == "from azure"
    [sent] = openai_server.chat_requests()
    assert sent["path"] == "/openai/deployments/gpt4o-prod/chat/completions"
    assert sent["query"] == {"api-version": "2024-06-01"}
    assert sent["headers"]["api-key"] == KEY and "authorization" not in sent["headers"]
    assert "model" not in sent["body"]


def test_azure_defaults_deployment_to_model_and_endpoint_to_the_environment(
        openai_server, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", openai_server.root + "/openai")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-env-key")
    app = n3.App(None)
    app.llm("az", {"provider": "azure_openai", "model": "gpt-4o-mini"})
    app.finalize()
    complete(app.get("llm", "az"))
    [sent] = openai_server.chat_requests()
    assert sent["path"] == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert sent["query"]["api-version"] == "2024-10-21"
    assert sent["headers"]["api-key"] == "azure-env-key"


def test_azure_needs_a_deployment_or_model():
    app = n3.App(None)
    app.llm("az", {"provider": "azure_openai"}, loc=n3.Loc("app.ai", 4, 1))
    with pytest.raises(ConfigError) as info:
        app.finalize()
    assert "deployment" in info.value.message and info.value.name == "az"


@pytest.mark.parametrize("provider", COMPATIBLE)
def test_error_bodies_are_provider_errors_without_the_key(openai_server, monkeypatch, provider):
    openai_server.script(error(429, f"slow down, {KEY}"))
    with pytest.raises(ProviderError) as info:
        complete(make_llm(provider, openai_server, monkeypatch))
    assert "HTTP 429" in info.value.message and "slow down" in info.value.message
    assert KEY not in str(info.value) and info.value.name == "compat"
    assert "rate limiting" in info.value.hint


@pytest.mark.parametrize("provider", COMPATIBLE)
def test_timeouts_are_provider_errors(openai_server, monkeypatch, provider):
    openai_server.script({"status": 200, "json": {}, "delay": 1.0})
    with pytest.raises(ProviderError) as info:
        complete(make_llm(provider, openai_server, monkeypatch, timeout=0.2))
    assert "within 0.2 s" in info.value.message and "timeout" in info.value.hint


def test_llm_headers_are_sent(openai_server, monkeypatch):
    monkeypatch.setenv("ROUTE", "blue")
    complete(make_llm("vllm", openai_server, headers={"X-Route": "{{env.ROUTE}}"}))
    assert openai_server.chat_requests()[0]["headers"]["x-route"] == "blue"


def test_unknown_provider_lists_every_known_one():
    app = n3.App(None)
    app.llm("x", {"provider": "nonesuch", "model": "m"})
    with pytest.raises(ConfigError) as info:
        app.finalize()
    for name in ("anthropic", "azure_openai", "vllm", "local_ai", "google", "gemini", "http"):
        assert name in str(info.value)


@pytest.mark.parametrize("provider, exported", [
    ("azure_openai", "azure.ai.openai"), ("gemini", "gcp.gemini"), ("google", "gcp.gemini"),
    ("anthropic", "anthropic"), ("openai", "openai"), ("local_ai", "local_ai"),
])
def test_otlp_export_names_each_provider_as_the_genai_conventions_do(provider, exported):
    from analyzer.export_otlp import span_attributes
    from n3core.tracing.format import Site

    site = Site(3, "llm_call", "llm", "compat", "app.ai", 3, 1)
    _, _, attributes = span_attributes(site, {"provider": provider, "model": "m"},
                                       {"time_to_first_chunk": 0.25})
    assert attributes["gen_ai.provider.name"] == exported
    assert attributes["gen_ai.response.time_to_first_chunk"] == 0.25
