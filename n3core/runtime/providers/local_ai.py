"""LocalAI's OpenAI-compatible API, on its default port; a key only if the server wants one."""
from __future__ import annotations

from .openai import Provider as _OpenAI


class Provider(_OpenAI):
    label = "local_ai"
    default_base_url = "http://localhost:8080/v1"
    key_envs = ("LOCALAI_API_KEY",)
    key_required = False
