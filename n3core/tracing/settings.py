"""Debug settings of a run: defaults < `.namel3ss/debug.json` < `NAMEL3SS_DEBUG_*` < CLI flags.

Every value is checked where it is read, and a bad one is refused with the setting's
name and where it came from, so a typo in an environment variable cannot silently turn
tracing off.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .config import POLICIES
from .errors import TraceConfigError

ENV_PREFIX = "NAMEL3SS_DEBUG_"
WORKSPACE_FILE = Path(".namel3ss") / "debug.json"
EVENT_TYPES = (
    "app_load", "agent_execution", "agent_turn", "llm_call", "tool_call", "prompt_execution",
    "chain_execution", "chain_step", "validation", "memory_operation", "memory_summarization",
    "error_occurred", "performance_marker", "clock_read", "python_call", "user_span",
    "memory_sample",
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class DebugSettings:
    enabled: bool = False
    output_dir: str = "debug/traces"
    output: str | None = None  # one exact trace path (CLI only)
    components: tuple | None = None
    event_types: tuple | None = None
    buffer_size: int = 16384
    capture_memory: bool = False
    capture_performance: bool = True
    retention_days: int = 7
    policy: str = "block"
    flush_interval: float = 0.1  # seconds
    otlp_endpoint: str | None = None  # stream spans there while the run goes on

    def trace_config(self) -> dict:
        """The tracer's own settings (see `config.TraceConfig`)."""
        components = self.components
        if components is not None:
            components = tuple(components) + ("runtime",)  # errors are always kept
        return {
            "policy": self.policy, "buffer_size": self.buffer_size,
            "components": components, "event_types": self.event_types,
            "capture_memory": self.capture_memory, "output_dir": self.output_dir,
            "flush_interval": self.flush_interval,
            "otlp_endpoint": self.otlp_endpoint,
        }


_FIELDS = {f.name: f for f in fields(DebugSettings)}


def load_settings(workspace: str | os.PathLike | None = None, environ=None, overrides=None) -> DebugSettings:
    """Merge every layer; raise TraceConfigError naming the setting and its source."""
    environ = os.environ if environ is None else environ
    settings = DebugSettings()
    path = Path(workspace or os.getcwd()) / WORKSPACE_FILE
    if path.is_file():
        settings = _apply(settings, _read_json(path), str(path))
    env = {key[len(ENV_PREFIX):].lower(): value for key, value in environ.items()
           if key.startswith(ENV_PREFIX)}
    settings = _apply(settings, env, "the environment", env_names=True)
    return _apply(settings, overrides or {}, "the command line")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise TraceConfigError(
            f"{path} is not valid JSON ({exc}); fix it or remove it to use the defaults."
        ) from None
    if not isinstance(data, dict):
        raise TraceConfigError(f"{path} must hold a JSON object of settings, like {{\"enabled\": true}}.")
    return data


def _apply(settings: DebugSettings, values: dict, source: str, env_names: bool = False) -> DebugSettings:
    changes = {}
    for key, raw in values.items():
        name = ENV_PREFIX + key.upper() if env_names else key
        if key not in _FIELDS or (env_names and key == "output"):
            known = ", ".join((ENV_PREFIX + k.upper()) if env_names else k for k in _FIELDS if k != "output")
            raise TraceConfigError(f"unknown debug setting {name} in {source}; the settings are {known}.")
        changes[key] = _coerce(key, raw, name, source)
    return replace(settings, **changes) if changes else settings


def _coerce(key: str, raw, name: str, source: str):
    def fail(expected: str):
        raise TraceConfigError(f"{name}={raw!r} in {source} is invalid: expected {expected}.")

    if key in ("enabled", "capture_memory", "capture_performance"):
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
        fail("true or false")
    if key in ("buffer_size", "retention_days"):
        try:
            value = int(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            value = None
        low = 16 if key == "buffer_size" else 0
        if value is None or value < low:
            fail(f"an integer >= {low}")
        return value
    if key == "flush_interval":
        try:
            value = float(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            value = None
        if value is None or not 0 < value <= 3600:
            fail("a number of seconds above 0 and at most 3600, like 0.1")
        return value
    if key == "policy":
        if raw not in POLICIES:
            fail("one of " + ", ".join(POLICIES))
        return raw
    if key in ("components", "event_types"):
        if raw is None:
            return None
        if isinstance(raw, str):
            names = tuple(part.strip() for part in raw.split(",") if part.strip())
        elif isinstance(raw, (list, tuple)) and all(isinstance(p, str) for p in raw):
            names = tuple(raw)
        else:
            fail("a comma-separated list of names")
        if key == "event_types":
            unknown = [n for n in names if n.removesuffix("_start").removesuffix("_end") not in EVENT_TYPES]
            if unknown:
                fail(f"event types among {', '.join(EVENT_TYPES)} (unknown: {', '.join(unknown)})")
        return names or None
    if key == "otlp_endpoint":
        from .live_otlp import traces_url

        if raw in (None, ""):
            return None
        if traces_url(raw) is None:
            fail("an http(s) URL of an OTLP/HTTP receiver, such as http://127.0.0.1:4318")
        return raw
    if not isinstance(raw, str) or not raw:
        fail("a path")
    return raw
