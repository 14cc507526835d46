"""vLLM's OpenAI-compatible server (`vllm serve`), on its default port.

vLLM checks a key only when started with `--api-key`; then `VLLM_API_KEY` (or `api_key`)
is sent as a bearer token.
"""
from __future__ import annotations

from .openai import Provider as _OpenAI


class Provider(_OpenAI):
    label = "vllm"
    default_base_url = "http://localhost:8000/v1"
    key_envs = ("VLLM_API_KEY",)
    key_required = False
