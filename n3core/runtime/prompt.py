"""Prompts: a template rendered with the caller's variables and sent to an llm.

With an `output` schema the reply must be a JSON object of that shape; an invalid reply is
sent back to the model with the validation error, `retries` times, before the prompt fails.
"""
from __future__ import annotations

import json
import re

from .errors import ConfigError, N3Error, OutputValidationError, TemplateError
from .llm import LLMRequest
from .schema import OUTPUT_FIELD_TYPES
from .template import placeholders, render

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_CHECKS = {
    "text": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


class Prompt:
    """A declared prompt."""

    kind = "prompt"

    def __init__(self, name: str, config: dict, llm, loc=None):
        self.name, self.config, self.llm, self.loc = name, config, llm, loc
        self.template = config.get("template")
        if not isinstance(self.template, str):
            raise ConfigError("a prompt needs a template string",
                              hint='add template: "... {{variable}} ..."',
                              kind="prompt", name=name, loc=loc)
        variables = config.get("variables") or []
        if not isinstance(variables, list):
            variables = [variables]
        self.variables = [str(v) for v in variables]
        self.output = config.get("output") or None
        if self.output is not None:
            if not isinstance(self.output, dict):
                raise ConfigError("output must be an object like { summary: \"text\" }",
                                  kind="prompt", name=name, loc=loc)
            for field, kind in self.output.items():
                if kind not in OUTPUT_FIELD_TYPES:
                    raise ConfigError(f"output field '{field}' has unknown type {kind!r}",
                                      hint=f"use one of {', '.join(OUTPUT_FIELD_TYPES)}",
                                      kind="prompt", name=name, loc=loc)
        retries = config.get("retries", 2)
        self.retries = max(0, int(retries if retries is not None else 2))

    def bind(self, value) -> dict:
        """The variables a call provides, from a dict, or a single value for one variable."""
        if isinstance(value, dict):
            return dict(value)
        names = self.variables or list(dict.fromkeys(
            p.split(".")[0] for p in placeholders(self.template) if not p.startswith("env.")))
        if len(names) == 1:
            return {names[0]: value}
        return {"input": value}

    async def run(self, value=None):
        """Render, ask the llm, validate; returns text, or a dict when `output` is declared."""
        variables = self.bind(value if value is not None else {})
        missing = [n for n in self.variables if n not in variables]
        if missing:
            raise TemplateError(f"missing variable '{missing[0]}'",
                                hint=f"pass {', '.join(missing)} in the input "
                                     f"(the prompt declares {', '.join(self.variables)})",
                                kind="prompt", name=self.name, loc=self.loc)
        context = dict(variables)
        context.setdefault("input", value)
        try:
            text = render(self.template, context)
        except N3Error as err:
            raise err.attach("prompt", self.name, self.loc)
        messages = []
        if self.output:
            messages.append({"role": "system", "content": _schema_instruction(self.output)})
        messages.append({"role": "user", "content": text})
        attempts = 1 + (self.retries if self.output else 0)
        last_error = None
        for attempt in range(attempts):
            response = await self.llm.complete(LLMRequest(messages, output_schema=self.output))
            if not self.output:
                return response.text
            try:
                return self.validate(response.text)
            except OutputValidationError as err:
                last_error = err
                if attempt + 1 < attempts:
                    messages = messages + [
                        {"role": "assistant", "content": response.text},
                        {"role": "user", "content": f"Your reply was invalid: {err.message}. "
                                                    + _schema_instruction(self.output)},
                    ]
        raise OutputValidationError(
            f"the reply did not match the output schema after {attempts} attempt"
            f"{'s' if attempts != 1 else ''}: {last_error.message}",
            hint="make the template ask for exactly these JSON fields, or raise retries",
            kind="prompt", name=self.name, loc=self.loc)

    def validate(self, text: str) -> dict:
        """The reply parsed as the declared output, or OutputValidationError saying why not."""
        def fail(message):
            return OutputValidationError(message, kind="prompt", name=self.name, loc=self.loc)

        data = parse_json_reply(text)
        if data is None:
            raise fail("the reply is not JSON")
        if not isinstance(data, dict):
            raise fail(f"the reply is JSON but not an object (got {type(data).__name__})")
        for field, kind in self.output.items():
            if field not in data:
                raise fail(f"field '{field}' is missing")
            if not _CHECKS[kind](data[field]):
                raise fail(f"field '{field}' must be {kind}, got {_json_type(data[field])}")
        return data

    def __repr__(self) -> str:
        return f"<prompt {self.name}>"


def parse_json_reply(text: str):
    """JSON from a model's reply, bare or in a ```json fence; None when there is none."""
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


def _schema_instruction(output: dict) -> str:
    fields = ", ".join(f'"{field}" ({kind})' for field, kind in output.items())
    return f"Reply with only a JSON object with these fields: {fields}."


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"
