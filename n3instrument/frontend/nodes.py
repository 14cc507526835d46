"""The typed syntax tree of a `.ai` program.

Every node is a frozen dataclass that knows where it came from, so semantic checks,
lowering and the site table can all point back at the user's line and column.
The tree is deliberately uniform (a declaration is a kind, a name and entries): the
meaning of each key lives in `n3core.runtime.schema`, shared with the runtime.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class String:
    value: str
    loc: Location


@dataclass(frozen=True, slots=True)
class Number:
    value: Union[int, float]
    loc: Location


@dataclass(frozen=True, slots=True)
class Boolean:
    value: bool
    loc: Location


@dataclass(frozen=True, slots=True)
class Null:
    loc: Location


@dataclass(frozen=True, slots=True)
class Reference:
    """A bare identifier used as a value: the name of a declaration."""

    name: str
    loc: Location


@dataclass(frozen=True, slots=True)
class EnvCall:
    """`env("NAME")`: read at run time, never at build time."""

    name: str
    loc: Location


@dataclass(frozen=True, slots=True)
class ListValue:
    items: tuple["Value", ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Entry:
    """`key: value`, in a declaration block or inside an object value."""

    key: str
    value: "Value"
    loc: Location


@dataclass(frozen=True, slots=True)
class ObjectValue:
    entries: tuple[Entry, ...]
    loc: Location

    def get(self, key: str) -> "Value | None":
        for entry in self.entries:
            if entry.key == key:
                return entry.value
        return None


Value = Union[String, Number, Boolean, Null, Reference, EnvCall, ListValue, ObjectValue]


@dataclass(frozen=True, slots=True)
class Declaration:
    """`KIND NAME { ... }`, or `app "Name" { ... }` (whose block may be absent).

    A declarative declaration may also be written `KIND NAME clause` with a brace or an
    indented body (`page "Home" at "/":`); `clause` keeps the words after the name and
    `raw` the whole declaration's text when its body is not `key: value` entries.
    """

    kind: str
    name: str
    entries: tuple[Entry, ...]
    loc: Location
    name_loc: Location
    clause: str = ""
    raw: str | None = None

    def get(self, key: str) -> Value | None:
        for entry in self.entries:
            if entry.key == key:
                return entry.value
        return None

    def entry(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    alias: str | None
    loc: Location


@dataclass(frozen=True, slots=True)
class Statement:
    """`use ...` or `export { ... }`: recorded as written, with no effect on the build."""

    keyword: str
    text: str
    loc: Location


@dataclass(frozen=True, slots=True)
class Program:
    """A whole file. `declarations` keeps source order and includes every `app`."""

    file: str
    source: str
    module: str | None = None
    imports: tuple[Import, ...] = ()
    language_version: str | None = None
    declarations: tuple[Declaration, ...] = field(default_factory=tuple)
    statements: tuple[Statement, ...] = ()

    @property
    def app(self) -> Declaration | None:
        return next((d for d in self.declarations if d.kind == "app"), None)

    def of_kind(self, kind: str) -> tuple[Declaration, ...]:
        return tuple(d for d in self.declarations if d.kind == kind)

    def find(self, kind: str, name: str) -> Declaration | None:
        return next((d for d in self.declarations if d.kind == kind and d.name == name), None)
