"""Gemini through Google's OpenAI-compatible endpoint (`google` and `gemini` are one provider).

The endpoint takes the Gemini API key as a bearer token and the Chat Completions wire
format, streaming included, so the openai provider's code serves it unchanged.
"""
from __future__ import annotations

from .openai import Provider as _OpenAI


class Provider(_OpenAI):
    label = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta/openai"
    key_envs = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    key_required = True
