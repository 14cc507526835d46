"""Ollama through its OpenAI-compatible API: a local server, so no api key is needed."""
from __future__ import annotations

from .openai import Provider as _OpenAI


class Provider(_OpenAI):
    label = "ollama"
    default_base_url = "http://localhost:11434/v1"
    key_envs = ()
    key_required = False
