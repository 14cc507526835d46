"""The value types program.py writes besides plain literals.

They keep what the source said (a reference, an environment lookup, a step, a location)
until the runtime knows enough to interpret it: a `Ref` is resolved by `App.finalize`,
an `Env` only when the component is used, so a build never captures a secret.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .errors import ConfigError


@dataclass(frozen=True)
class Loc:
    """Where something was declared in the `.ai` source."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Ref:
    """A bare identifier in the source: the name of a declared component."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Env:
    """`env("NAME")`: read when the value is used, never when the program is built."""

    name: str
    default: str | None = None

    def read(self, *, kind: str | None = None, component: str | None = None, loc=None) -> str:
        value = os.environ.get(self.name, self.default)
        if value is None:
            raise ConfigError(
                f"environment variable {self.name} is not set",
                hint=f"export {self.name}=... before running the program",
                kind=kind, name=component, loc=loc,
            )
        return value


@dataclass
class Step:
    """One chain step as written in the source, with its own location."""

    props: dict
    loc: Loc | None = field(default=None)

    def __init__(self, props: dict | None = None, loc: Loc | None = None, **kwargs):
        self.props = dict(props or {}, **kwargs)
        self.loc = loc


def resolve_env(value, *, kind: str | None = None, component: str | None = None, loc=None):
    """`value` with every `Env` inside it replaced by the variable's current value."""
    if isinstance(value, Env):
        return value.read(kind=kind, component=component, loc=loc)
    if isinstance(value, dict):
        return {k: resolve_env(v, kind=kind, component=component, loc=loc) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, kind=kind, component=component, loc=loc) for v in value]
    return value
