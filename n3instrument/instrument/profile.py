"""Tracepoint profiles: TOML files naming what to trace and what to capture.

A profile is data, not code, so users can trace their own modules without touching the
pass. Every problem in a profile is reported with the file, the tracepoint's index and
the key, because a profile that silently traces less than it says is worse than none.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROFILE_VERSION = 1
KINDS = ("span", "instant")
BOUNDARIES = ("llm", "tool", "clock")
COMPONENTS = ("app", "llm", "prompt", "tool", "memory", "agent", "chain", "runtime", "python")


@dataclass(frozen=True)
class Tracepoint:
    module: str
    qualname: str
    event: str
    component: str
    kind: str = "span"
    per: str | None = None
    capture: tuple[str, ...] = ()
    capture_return: bool = False
    boundary: str | None = None

    @property
    def target(self) -> str:
        return f"{self.module}:{self.qualname}"


@dataclass(frozen=True)
class Profile:
    name: str
    tracepoints: tuple[Tracepoint, ...]


def builtin_profile() -> Profile:
    text = resources.files(__package__).joinpath("profiles/runtime.toml").read_text("utf-8")
    return parse_profile(text, "builtin:runtime.toml")


def load_profile(path: str | Path) -> Profile:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the profile {path}: {exc.strerror or exc}") from None
    return parse_profile(text, str(path))


def parse_profile(text: str, origin: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"the profile {origin} is not valid TOML: {exc}. Fix the file and build again.") from None
    version = data.get("version", PROFILE_VERSION)
    if version != PROFILE_VERSION:
        raise UsageError(
            f"the profile {origin} has version {version!r}; this namel3ss reads version "
            f"{PROFILE_VERSION}. Set `version = {PROFILE_VERSION}` or upgrade namel3ss."
        )
    raw = data.get("tracepoint", [])
    if not isinstance(raw, list) or not raw:
        raise UsageError(f"the profile {origin} has no [[tracepoint]] tables; add at least one.")
    return Profile(origin, tuple(_tracepoint(item, origin, index) for index, item in enumerate(raw, 1)))


def _tracepoint(item: dict, origin: str, index: int) -> Tracepoint:
    def fail(key: str, why: str):
        raise UsageError(f"the profile {origin}, tracepoint #{index}, key `{key}`: {why}.")

    known = {"target", "event", "component", "kind", "per", "capture", "return", "boundary"}
    for key in item:
        if key not in known:
            fail(key, f"unknown key; the keys are {', '.join(sorted(known))}")
    target = item.get("target")
    if not isinstance(target, str) or target.count(":") != 1 or not all(target.split(":")):
        fail("target", "expected \"module:Qualname\", e.g. \"tools.search:search\"")
    module, qualname = target.split(":")
    event = item.get("event")
    if not isinstance(event, str) or not event.isidentifier():
        fail("event", "expected an event name such as \"agent_turn\"")
    component = item.get("component", "python")
    if component not in COMPONENTS:
        fail("component", f"expected one of {', '.join(COMPONENTS)}, not {component!r}")
    kind = item.get("kind", "span")
    if kind not in KINDS:
        fail("kind", f"expected one of {', '.join(KINDS)}, not {kind!r}")
    capture = item.get("capture", [])
    if not isinstance(capture, list) or not all(isinstance(c, str) and c for c in capture):
        fail("capture", "expected a list of argument names or `key=expression` strings")
    returns = item.get("return", False)
    if not isinstance(returns, bool):
        fail("return", "expected true or false")
    per = item.get("per")
    if per is not None and not isinstance(per, str):
        fail("per", "expected a Python expression such as \"self.name\"")
    boundary = item.get("boundary")
    if boundary is not None and boundary not in BOUNDARIES:
        fail("boundary", f"expected one of {', '.join(BOUNDARIES)}")
    return Tracepoint(module, qualname, event, component, kind, per, tuple(capture), returns, boundary)
