"""Azure OpenAI: Chat Completions on a deployment, versioned by `api-version`, keyed by `api-key`.

The URL is `{base_url}/openai/deployments/{deployment}/chat/completions?api-version=...`,
where `base_url` is the resource endpoint (`https://NAME.openai.azure.com`, or
`AZURE_OPENAI_ENDPOINT`) and `deployment` defaults to `model`. The key travels in the
`api-key` header, not as a bearer token.
"""
from __future__ import annotations

from urllib.parse import quote

from ..template import render
from .openai import Provider as _OpenAI

DEFAULT_API_VERSION = "2024-10-21"


class Provider(_OpenAI):
    label = "azure_openai"
    default_base_url = None
    base_url_env = "AZURE_OPENAI_ENDPOINT"
    key_envs = ("AZURE_OPENAI_API_KEY",)
    key_required = True
    wire_hint = ("check that base_url is the resource endpoint (https://NAME.openai.azure.com) "
                 "and deployment names a deployment of it")

    def url(self, s) -> str:
        deployment = render(str(s.config.get("deployment") or s.model), {})
        version = render(str(s.config.get("api_version") or DEFAULT_API_VERSION), {})
        base = s.base_url[: -len("/openai")] if s.base_url.endswith("/openai") else s.base_url
        return (f"{base}/openai/deployments/{quote(deployment, safe='')}/chat/completions"
                f"?api-version={quote(version, safe='')}")

    def headers(self, s) -> dict:
        return {"api-key": s.key}
