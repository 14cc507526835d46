"""`--mock NAME:JSON`: what a tool, llm, prompt or agent answers instead of the record.

Parsed and checked against the build's components before anything runs. Tools and llms
are boundaries, answered by the replayer; a prompt or agent is replaced whole on the
loaded app (its inner calls are skipped, and reported as skipped by the mock).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import MockError

KINDS = ("tool", "llm", "prompt", "agent")


@dataclass(frozen=True)
class Mock:
    name: str
    kind: str
    value: object
    text: str

    @property
    def target(self) -> tuple:
        return (self.kind, self.name)

    def answer(self, runtime):
        if self.kind != "llm":
            return self.value
        value = self.value if isinstance(self.value, dict) else {"text": self.value}
        calls = [{"id": c.get("id") or f"call_mock_{i}", "name": c["name"],
                  "arguments": c.get("arguments") or {}}
                 for i, c in enumerate(value.get("tool_calls") or (), 1)]
        return runtime.response({"text": value.get("text") or "", "tool_calls": calls,
                                 "usage": {"prompt_tokens": 0, "completion_tokens": 0,
                                           "total_tokens": 0, "estimated": True},
                                 "finish_reason": "tool_calls" if calls else "stop",
                                 "raw": {"mock": "--mock"}, "model": None})

    def install(self, app) -> None:
        if self.kind not in ("prompt", "agent"):
            return
        component = app.get(self.kind, self.name)
        value = self.value

        async def run(_input=None):
            return value

        component.run = run


def parse_mock(spec: str, components: dict) -> Mock:
    """`NAME:JSON` checked against `components` ({kind: set of names})."""
    name, sep, text = spec.partition(":")
    name = name.strip()
    if not sep or not name:
        raise MockError(f"--mock {spec!r} is not NAME:JSON. Fix: write it like "
                        "--mock 'search:{\"results\": []}' (NAME a tool, llm, prompt or agent).")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MockError(f"--mock {name}: the value is not JSON ({exc}). Fix: quote it for the "
                        "shell and use JSON, e.g. --mock '" + name + ":\"a reply\"'.") from None
    kinds = [k for k in KINDS if name in components.get(k, ())]
    if not kinds:
        others = sorted(n for k, names in components.items() if k not in KINDS for n in names)
        if name in others:
            raise MockError(f"--mock {name}: {name} is a component that answers nothing itself "
                            "(mock a tool, llm, prompt or agent instead).")
        known = ", ".join(f"{k} {n}" for k in KINDS for n in sorted(components.get(k, ()))) or "none"
        raise MockError(f"--mock {name}: the program has no tool, llm, prompt or agent named "
                        f"{name!r}. Fix: use one of: {known}.")
    kind = kinds[0]
    if kind == "llm" and not _llm_value(value):
        raise MockError(f"--mock {name}: an llm answers a reply text or "
                        '{"text": ..., "tool_calls": [{"name": ..., "arguments": {...}}]}, '
                        f"not {text.strip()}. Fix: pass one of those.")
    return Mock(name, kind, value, text.strip())


def _llm_value(value) -> bool:
    if isinstance(value, str):
        return True
    if not isinstance(value, dict) or not set(value) <= {"text", "tool_calls"}:
        return False
    if not isinstance(value.get("text", ""), str):
        return False
    calls = value.get("tool_calls", [])
    return isinstance(calls, list) and all(
        isinstance(c, dict) and isinstance(c.get("name"), str)
        and isinstance(c.get("arguments", {}), dict) for c in calls)


def components_of_sites(sites) -> dict:
    """{kind: names} from a build's site table, which names every declared component."""
    out: dict = {}
    kinds = {"llm_call": "llm", "tool_call": "tool", "prompt_execution": "prompt",
             "agent_execution": "agent", "chain_execution": "chain", "memory_operation": "memory"}
    for site in sites:
        kind = kinds.get(site.event_type)
        if kind and site.name and site.name != "*":
            out.setdefault(kind, set()).add(site.name)
    return out
