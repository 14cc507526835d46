"""Tools: Python callables, HTTP endpoints and canned mocks behind one `Tool.call`.

`Tool.call` is the single boundary replay answers and tracing wraps, so argument
validation and error wrapping live there and the subclasses only say how to invoke.
"""
from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys

from .errors import ConfigError, N3Error, ToolError
from .schema import HTTP_METHODS, TOOL_TYPES
from .template import render, render_value
from .values import resolve_env

_TYPE_ALIASES = {"text": "string", "str": "string", "list": "array", "int": "integer",
                 "float": "number", "bool": "boolean", "dict": "object"}
_TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def normalize_parameters(parameters) -> dict:
    """A JSON schema from `parameters`, accepting the full form or `{arg: type}` shorthand."""
    if not parameters:
        return {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise ValueError("parameters must be an object")
    full = "properties" in parameters or parameters.get("type") == "object"
    source = parameters.get("properties") or {} if full else parameters
    required = list(parameters.get("required") or []) if full else []
    properties = {}
    for arg, spec in source.items():
        spec = {"type": spec} if isinstance(spec, str) else dict(spec or {})
        if spec.get("required") is True:
            required.append(arg)
        if isinstance(spec.get("required"), bool):
            del spec["required"]
        if isinstance(spec.get("type"), str):
            spec["type"] = _TYPE_ALIASES.get(spec["type"], spec["type"])
        properties[arg] = spec
    schema = {k: v for k, v in parameters.items() if full and k not in ("properties", "required")}
    schema.update(type="object", properties=properties)
    if required:
        schema["required"] = list(dict.fromkeys(required))
    return schema


class Tool:
    """A declared tool; subclasses implement `_invoke` for their `type`."""

    kind = "tool"
    type = "tool"

    def __init__(self, name: str, config: dict, loc=None, base_dir: str | None = None):
        self.name, self.config, self.loc = name, config, loc
        self.base_dir = base_dir or os.getcwd()
        self.description = config.get("description") or ""
        try:
            self.parameters = normalize_parameters(config.get("parameters"))
        except (ValueError, TypeError, AttributeError) as exc:
            raise self.error(f"invalid parameters: {exc}", ConfigError) from None

    def error(self, message: str, cls=ToolError, hint: str | None = None) -> N3Error:
        return cls(message, hint=hint, kind="tool", name=self.name, loc=self.loc)

    def spec(self) -> dict:
        """How the tool is described to a model."""
        return {"name": self.name, "description": self.description,
                "parameters": self.parameters}

    def validate_arguments(self, arguments) -> dict:
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise self.error(f"arguments must be an object, got {type(arguments).__name__}",
                             hint="pass named arguments, like {\"query\": \"...\"}")
        properties = self.parameters.get("properties") or {}
        for arg in self.parameters.get("required") or ():
            if arg not in arguments:
                raise self.error(f"missing required argument '{arg}'",
                                 hint=f"call {self.name} with {arg}")
        if self.parameters.get("additionalProperties") is False:
            for arg in arguments:
                if arg not in properties:
                    raise self.error(f"unknown argument '{arg}'",
                                     hint=f"accepted: {', '.join(properties) or 'none'}")
        for arg, value in arguments.items():
            spec = properties.get(arg)
            if not isinstance(spec, dict):
                continue
            expected = spec.get("type")
            kinds = expected if isinstance(expected, list) else [expected] if expected else []
            checks = [_TYPE_CHECKS[k] for k in kinds if k in _TYPE_CHECKS]
            if checks and not any(check(value) for check in checks):
                raise self.error(f"argument '{arg}' must be {' or '.join(kinds)}, got "
                                 f"{type(value).__name__} {_short(value)}")
            if "enum" in spec and value not in spec["enum"]:
                raise self.error(f"argument '{arg}' must be one of "
                                 f"{', '.join(map(json.dumps, spec['enum']))}, got {_short(value)}")
        return arguments

    async def call(self, arguments=None, call_id=None):
        """Validate the arguments and run the tool; the boundary replay answers. `call_id`
        is the model's id for this call, for the trace only."""
        arguments = self.validate_arguments(arguments)
        try:
            return await self._invoke(arguments)
        except N3Error as err:
            raise err.attach("tool", self.name, self.loc)
        except Exception as exc:
            raise self.error(f"{self.type} tool raised {exc.__class__.__name__}: {exc}",
                             hint="fix the tool or the arguments it was given") from None

    async def _invoke(self, arguments: dict):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<tool {self.name} type={self.type}>"


class PythonTool(Tool):
    """`function: "module:callable"`, imported from the program's folder on first call."""

    type = "python"

    def __init__(self, name, config, loc=None, base_dir=None):
        super().__init__(name, config, loc, base_dir)
        target = config.get("function")
        if not isinstance(target, str) or not target.strip():
            raise self.error('a python tool needs function: "module:callable"', ConfigError)
        target = target.strip()
        if ":" in target:
            self.module_name, _, self.attr = target.partition(":")
        else:
            self.module_name, _, self.attr = target.rpartition(".")
        if not self.module_name or not self.attr:
            raise self.error(f'function {target!r} is not "module:callable"', ConfigError)
        self._function = None

    def resolve(self):
        if self._function is not None:
            return self._function
        if self.base_dir not in sys.path:
            sys.path.insert(0, self.base_dir)
        if self.module_name not in sys.modules:
            importlib.invalidate_caches()
        try:
            module = importlib.import_module(self.module_name)
        except ImportError as exc:
            raise self.error(f"cannot import module '{self.module_name}': {exc}",
                             hint=f"put {self.module_name.replace('.', '/')}.py next to the "
                                  f".ai file and build again; the build carries copies of "
                                  f"the program's own modules (looked in {self.base_dir})") from None
        function = module
        for part in self.attr.split("."):
            function = getattr(function, part, None)
        if not callable(function):
            raise self.error(f"module '{self.module_name}' has no callable '{self.attr}'",
                             hint=f"define {self.attr} in {self.module_name}")
        self._function = function
        return function

    async def _invoke(self, arguments):
        function = self.resolve()
        if inspect.iscoroutinefunction(function):
            result = await function(**arguments)
        else:
            result = await asyncio.to_thread(function, **arguments)
        if inspect.isawaitable(result):
            result = await result
        return result


class HttpTool(Tool):
    """Calls `endpoint`: arguments as a JSON body, or as the query string for GET."""

    type = "http"

    def __init__(self, name, config, loc=None, base_dir=None):
        super().__init__(name, config, loc, base_dir)
        if config.get("endpoint") in (None, ""):
            raise self.error("an http tool needs an endpoint", ConfigError,
                             hint='add endpoint: "https://..."')
        self.method = str(config.get("method") or "POST").upper()
        if self.method not in HTTP_METHODS:
            raise self.error(f"unknown method {self.method}", ConfigError,
                             hint=f"use one of {', '.join(HTTP_METHODS)}")

    async def _invoke(self, arguments):
        from urllib.parse import urlencode
        from . import transport

        config = resolve_env(self.config, kind="tool", component=self.name, loc=self.loc)
        context = {"args": arguments}
        url = render(str(config["endpoint"]), context)
        headers = {str(k): str(render_value(v, context))
                   for k, v in (config.get("headers") or {}).items()}
        body = None
        if self.method in ("GET", "DELETE"):
            if arguments:
                query = urlencode({k: v if isinstance(v, str) else json.dumps(v)
                                   for k, v in arguments.items()})
                url += ("&" if "?" in url else "?") + query
        else:
            body = json.dumps(arguments).encode()
            headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Accept", "application/json")
        timeout = float(config.get("timeout") or 30)
        try:
            reply = await transport.request(self.method, url, headers=headers, body=body,
                                            timeout=timeout)
        except transport.TransportError as exc:
            raise self.error(f"{self.method} {url} failed: {exc.detail}",
                             hint="check the endpoint and timeout") from None
        if not 200 <= reply.status < 300:
            raise self.error(f"{self.method} {url} answered HTTP {reply.status}: "
                             f"{' '.join(reply.text().split())[:200] or '(empty body)'}",
                             hint="check the endpoint, headers and arguments")
        text = reply.text()
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            return text


class MockTool(Tool):
    """Answers `returns`, with `{{args.x}}` rendered; without `returns`, echoes the call."""

    type = "mock"

    async def _invoke(self, arguments):
        if "returns" not in self.config:
            return {"tool": self.name, "arguments": arguments}
        return render_value(self.config["returns"], {"args": arguments})


class UnrunTool(Tool):
    """A tool of a type this runtime does not run (`"database"`, `"analytics"`...): declared,
    shown to models, and a ConfigError when called, so the rest of the program runs."""

    async def _invoke(self, arguments):
        kind = self.config.get("type")
        raise self.error(f"tool type {kind!r} is not one this runtime runs",
                         ConfigError, hint=f"use one of {', '.join(TOOL_TYPES)}")


_TYPES = {"python": PythonTool, "http": HttpTool, "mock": MockTool}


def make_tool(name: str, config: dict, loc=None, base_dir: str | None = None) -> Tool:
    kind = config.get("type") or ("python" if config.get("function") else
                                  "http" if config.get("endpoint") else "mock")
    if kind not in _TYPES:
        return UnrunTool(name, config, loc, base_dir)
    return _TYPES[kind](name, config, loc, base_dir)


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
