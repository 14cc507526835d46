"""One event as the debugger sees it, and the catalog of what a breakpoint may name.

Replay (re-executing) and stepping (walking the record) both hand the debugger
`ReplayEvent`s, so breakpoints and commands behave the same whichever is running. The
catalog is built from the trace's site table before anything runs, which is what lets a
misspelt breakpoint be refused up front instead of silently never hitting.
"""
from __future__ import annotations

from dataclasses import dataclass

from n3core.tracing.format import KIND_INSTANT, KIND_START

from ..model import INSTANT_TYPES, KIND_NAMES, stem

MISSING = object()

# Instants have no _start/_end pair; every other site is a span.
INSTANT_STEMS = frozenset(INSTANT_TYPES) | {"memory_sample"}

# What a returned value records at a span's end (docs/tracepoints.md, "Events of the
# built-in profile"): a dataclass's fields, anything else as `output`.
RETURN_FIELDS = {"llm_call": ("text", "tool_calls", "usage", "finish_reason", "raw", "model",
                             "chunks", "time_to_first_chunk")}
ERROR_FIELDS = ("type", "message", "stack", "code", "hint")

# Payload fields per stem when a site table carries no captures (earlier debugger's
# JSON lines); the built-in profile's start and end payloads, plus the importer's keys.
DEFAULT_FIELDS = {
    "app_load": (),
    "agent_execution": ("input", "output"),
    "agent_turn": ("turn", "output"),
    "llm_call": ("provider", "model", "messages", "tools", "params", "output_schema",
                 "text", "tool_calls", "usage", "finish_reason", "raw"),
    "tool_call": ("arguments", "output", "call_id"),
    "prompt_execution": ("input", "output"),
    "validation": ("text", "output"),
    "chain_execution": ("input", "output"),
    "chain_step": ("step", "kind", "input", "output"),
    "memory_operation": ("op", "entry", "key"),
    "memory_summarization": ("output",),
    "clock_read": ("output",),
    "error_occurred": ERROR_FIELDS,
    "performance_marker": ("name", "cpu_user_s", "cpu_system_s", "max_rss_bytes", "wall_s"),
}
JSONL_FIELDS = ("input", "output", "error", "usage", "cost_estimate")

# Fields every event has, whatever its payload; a bare name means one of these first.
EVENT_FIELDS = ("index", "event_type", "kind", "site", "component", "name", "file", "line",
                "column", "location", "span", "parent", "task", "timestamp_ns")
# Computed from the payload: `tokens` is what `llm_call_end:tokens>500` compares.
DERIVED_FIELDS = {"llm_call": ("tokens",)}


def event_types_of(site_stem: str) -> tuple:
    """The event types a site emits: `llm_call` -> (`llm_call_start`, `llm_call_end`)."""
    if site_stem in INSTANT_STEMS:
        return (site_stem,)
    return (site_stem + "_start", site_stem + "_end")


def event_type_name(site_stem: str, kind: int) -> str:
    if kind == KIND_INSTANT or site_stem in INSTANT_STEMS:
        return site_stem
    return site_stem + ("_start" if kind == KIND_START else "_end")


def split_location(location: str) -> tuple:
    """`app.ai:51:1` -> ("app.ai", 51, 1); a location without numbers keeps line 0."""
    parts = location.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    parts = location.rsplit(":", 1)
    if len(parts) == 2 and parts[1].isdigit():
        return parts[0], int(parts[1]), 0
    return location, 0, 0


def format_location(file: str, line: int, column: int) -> str:
    if not file:
        return ""
    if not line:
        return file
    return f"{file}:{line}:{column}" if column else f"{file}:{line}"


def tokens_of(payload) -> object:
    """Total tokens of an llm call's end payload, or MISSING when it recorded no usage."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return MISSING
    total = usage.get("total_tokens")
    if isinstance(total, (int, float)):
        return total
    parts = [usage.get(k) for k in ("prompt_tokens", "completion_tokens", "input_tokens",
                                    "output_tokens")]
    numbers = [p for p in parts if isinstance(p, (int, float))]
    return sum(numbers) if numbers else MISSING


def walk(value, path) -> object:
    """Follow `path` (a sequence of keys; digits index lists) into value, or MISSING."""
    for key in path:
        if isinstance(value, dict):
            if key in value:
                value = value[key]
                continue
            return MISSING
        if isinstance(value, (list, tuple)) and key.lstrip("-").isdigit():
            i = int(key)
            if -len(value) <= i < len(value):
                value = value[i]
                continue
        return MISSING
    return value


@dataclass(frozen=True)
class ReplayEvent:
    """One recorded or replayed event; `span_stack` runs from the root span down.

    For a start or an end the stack ends with the event's own span; for an instant it
    ends with the span the instant happened in. Each frame is (stem, name, location).
    """

    index: int
    event_type: str
    kind: str
    site: int
    component: str
    name: str
    file: str
    line: int
    column: int
    span: int
    parent: int
    task: int
    timestamp_ns: int
    payload: object = None
    span_stack: tuple = ()

    @property
    def stem(self) -> str:
        return stem(self.event_type)

    @property
    def location(self) -> str:
        return format_location(self.file, self.line, self.column)

    @property
    def level(self) -> int:
        """Enclosing spans, the event's own excluded: a span's start and end share a level."""
        return len(self.span_stack) - (0 if self.kind == "instant" else 1)

    def field(self, path: str) -> object:
        """The value at a dotted path, or MISSING.

        A bare name is an event field when it is one (`name`, `kind`, `span`...), else a
        payload key; `payload.X` and `event.X` force one or the other, and `tokens` is an
        llm call's total token count.
        """
        keys = path.split(".")
        head = keys[0]
        if head == "payload":
            return walk(self.payload, keys[1:])
        if head == "event":
            keys = keys[1:]
            head = keys[0] if keys else ""
            if head not in EVENT_FIELDS:
                return MISSING
        if head in EVENT_FIELDS:
            return walk(getattr(self, head), keys[1:])
        if head == "tokens" and self.stem == "llm_call" and not (
                isinstance(self.payload, dict) and "tokens" in self.payload):
            return walk(tokens_of(self.payload), keys[1:]) if len(keys) > 1 else tokens_of(
                self.payload)
        return walk(self.payload, keys)


def capture_names(captures) -> tuple:
    """Payload keys a site's captures produce: `model=self.x` -> model, `return` -> none."""
    names = []
    for capture in captures or ():
        name = str(capture).split("=", 1)[0].strip()
        if name and name != "return":
            names.append(name.strip("'\""))
    return tuple(names)


class Catalog:
    """What breakpoints may name in one trace: event types, components, names, fields.

    Also which site ids each event type and component has, so a driver can skip events
    no breakpoint could hit without building them.
    """

    def __init__(self):
        self.event_types: dict[str, set] = {}   # event type -> site ids
        self.stems: dict[str, set] = {}         # stem -> site ids
        self.components: dict[str, dict] = {}   # component -> {name -> site ids}
        self.fields: dict[str, set] = {}        # event type -> payload field names
        self.sites: dict[int, object] = {}
        self.source = ""                        # the trace's path, for messages

    @classmethod
    def from_sites(cls, sites, fields=None) -> "Catalog":
        """From a site table (SiteInfo, n3core Site or dict rows, or a {id: site} dict).

        Payload fields come from each site's captures, what its return records, and the
        error fields of a failed end; `fields` ({event type or stem: names}) adds more.
        A site table without captures (an imported JSON-lines trace) gets the built-in
        profile's fields for its event types.
        """
        cat = cls()
        rows = sites.values() if isinstance(sites, dict) else sites
        for row in rows:
            if isinstance(row, dict):
                get = row.get
            else:
                def get(key, default=None, _row=row):
                    return getattr(_row, key, default)
            sid = int(get("id"))
            site_stem = stem(str(get("event_type") or f"site_{sid}"))
            component = str(get("component") or "")
            name = str(get("name") or "")
            cat.sites[sid] = row
            cat.stems.setdefault(site_stem, set()).add(sid)
            if component:
                cat.components.setdefault(component, {}).setdefault(name, set()).add(sid)
            captures = get("captures", None)
            types = event_types_of(site_stem)
            if captures is None:
                start = end = DEFAULT_FIELDS.get(site_stem, ()) + JSONL_FIELDS
            else:
                start = capture_names(captures)
                end = ()
                if "return" in tuple(captures):
                    end = RETURN_FIELDS.get(site_stem, ("output",))
            for et in types:
                cat.event_types.setdefault(et, set()).add(sid)
                known = cat.fields.setdefault(et, set())
                if et.endswith("_end"):
                    known.update(end)
                    known.update(ERROR_FIELDS)
                    known.add("error")
                else:
                    known.update(start)
                if site_stem in INSTANT_STEMS:
                    known.update(end)
                known.update(DERIVED_FIELDS.get(site_stem, ()) if not et.endswith("_start")
                             else ())
        for key, names in (fields or {}).items():
            for et in ([key] if key in cat.event_types else
                       [t for t in event_types_of(stem(key)) if t in cat.event_types]):
                cat.fields[et].update(names)
        return cat

    def site_ids(self, event_type: str) -> frozenset:
        """Sites of an event type, or of every event of a stem (`llm_call`)."""
        if event_type in self.event_types:
            return frozenset(self.event_types[event_type])
        return frozenset(self.stems.get(event_type, ()))

    def knows_type(self, event_type: str) -> bool:
        return event_type in self.event_types or event_type in self.stems

    def fields_of(self, event_type: str) -> set:
        if event_type in self.fields:
            return set(self.fields[event_type])
        out: set = set()
        for et in event_types_of(event_type):
            out |= self.fields.get(et, set())
        return out

    def names(self, component: str) -> list:
        return sorted(n for n in self.components.get(component, {}) if n)
