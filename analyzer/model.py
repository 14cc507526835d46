"""The internal model both trace formats stream into: sites, columnar batches, spans.

Kind codes follow the `.n3t` format (n3core.tracing.format.Kind) so batches from the
binary reader need no conversion on the hot path.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from n3core.tracing.format import KIND_END as END
from n3core.tracing.format import KIND_ERROR_END as ERROR_END
from n3core.tracing.format import KIND_INSTANT as INSTANT
from n3core.tracing.format import KIND_START as START
from n3core.tracing.format import Kind, SiteFields
from n3core.tracing.reader import Report

KIND_NAMES = {int(kind): kind.name for kind in Kind}
KIND_CODES = {v: k for k, v in KIND_NAMES.items()}

SPAN_TYPES = (
    "app_load", "agent_execution", "agent_turn", "llm_call", "tool_call",
    "prompt_execution", "chain_execution", "chain_step", "validation",
    "memory_summarization",
)
INSTANT_TYPES = ("memory_operation", "error_occurred", "performance_marker")
COMPONENT_KINDS = ("llm", "tool", "agent", "prompt", "chain", "memory", "app", "python")


def kind_name(code) -> str:
    return KIND_NAMES.get(code, str(code))


@dataclass(frozen=True)
class SiteInfo(SiteFields):
    """One row of the site table, normalised so both formats look the same.

    It has no `captures`: the replay catalogue reads a missing one as "this trace did not
    record them" and falls back to the default fields, which JSON-lines traces rely on.
    """

    @property
    def key(self) -> tuple:
        return (self.event_type, self.component, self.name)

    @property
    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(SiteFields)}


def stem(event_type: str) -> str:
    """`llm_call_start` -> `llm_call`; site tables already store stems, old traces do not."""
    for suffix in ("_start", "_end"):
        if event_type.endswith(suffix):
            return event_type[: -len(suffix)]
    return event_type


@dataclass
class Health(Report):
    """How much of the trace was read, whatever its format: the reader's Report, plus what
    only the analyzer knows. A lossy trace is reported loudly everywhere."""

    format: str = ""
    format_version: str = ""
    bad_lines: int = 0
    unusable: int = 0
    other_runs: list = field(default_factory=list)  # executions of the file not shown

    @property
    def lost_events(self) -> int:
        return max(self.dropped or 0, self.dropped_seen)

    @property
    def lossy(self) -> bool:
        return super().lossy or bool(self.bad_lines)

    def warnings(self) -> list[str]:
        out = []
        if self.lost_events:
            out.append(f"the tracer dropped {self.lost_events} events (ring buffer full, "
                       "'drop' policy): counts and timings below miss them")
        if self.discarded:
            out.append(f"the flight recorder discarded {self.discarded} older events and "
                       f"kept the last {self.events}: counts, durations and timings cover "
                       "only the kept events")
        if self.damaged:
            pct = 100.0 * self.bytes_read / self.file_size if self.file_size else 0.0
            out.append(f"the trace is damaged {self.damage}; read {self.events} events "
                       f"from {self.bytes_read} of {self.file_size} bytes ({pct:.1f}%), "
                       "the rest is lost")
        elif not self.complete:
            out.append(f"the trace is incomplete ({self.damage or 'no trailer'}); "
                       f"read {self.events} events")
        if self.bad_payloads:
            out.append(f"{self.bad_payloads} payload(s) could not be decoded although their "
                       "chunk's CRC-32 is valid (a crafted file or a faulty writer; first: "
                       f"{self.bad_payload}): their events are counted, what the payloads "
                       "held is treated as absent")
        if self.bad_lines:
            out.append(f"{self.bad_lines} JSON line(s) could not be parsed and were skipped")
        if self.unusable:
            out.append(f"{self.unusable} recorded value(s) the analyzer cannot use (wrong "
                       "type, NaN, infinite or out of range) were treated as absent")
        if self.other_runs:
            more = ", ".join(self.other_runs[:5]) + (", ..." if len(self.other_runs) > 5 else "")
            out.append(f"the file holds {len(self.other_runs) + 1} executions; this shows one "
                       f"(its run id is above), pick another with --run ID: {more}")
        return out

    def to_json(self) -> dict:
        return {"format": self.format, "format_version": self.format_version,
                "file_size": self.file_size, "bytes_read": self.bytes_read,
                "events": self.events, "complete": self.complete,
                "damaged": self.damaged or bool(self.bad_payloads),
                "damage": self.damage or self._bad_payload_damage(), "dropped": self.lost_events if (
                    self.dropped is not None or self.dropped_seen) else None,
                "discarded": self.discarded,
                "lossy": self.lossy, "warnings": self.warnings()}

    def _bad_payload_damage(self) -> str | None:
        if not self.bad_payloads:
            return None
        return f"{self.bad_payloads} undecodable payload(s), the first in {self.bad_payload}"


@dataclass
class RunInfo:
    """What the header says about the run, whatever the format."""

    path: str
    format: str
    format_version: str
    run_id: str
    metadata: dict
    sites: dict  # id -> SiteInfo
    config: dict = field(default_factory=dict)

    def site(self, site_id: int) -> SiteInfo:
        found = self.sites.get(site_id)
        if found is None:
            found = SiteInfo(site_id, f"site_{site_id}", "", "")
            self.sites[site_id] = found
        return found


class ListBatch:
    """A columnar batch built in Python (JSON-lines import, tests): the reader's shape."""

    __slots__ = ("ts", "site", "kind", "span", "parent", "task", "_payloads")

    def __init__(self):
        self.ts, self.site, self.kind, self.span = [], [], [], []
        self.parent, self.task, self._payloads = [], [], []

    def append(self, ts, site, kind, span, parent, task, payload):
        self.ts.append(ts)
        self.site.append(site)
        self.kind.append(kind)
        self.span.append(span)
        self.parent.append(parent)
        self.task.append(task)
        self._payloads.append(payload)

    def __len__(self) -> int:
        return len(self.ts)

    def payload(self, i: int):
        return self._payloads[i]

    def payload_get(self, i: int, keys) -> dict:
        """The reader's `payload_get`: the `keys` found in a dict payload, else {}."""
        payload = self._payloads[i]
        if not isinstance(payload, dict):
            return {}
        return {k: v for k, v in payload.items() if k in keys}

    @property
    def lengths(self) -> list:
        """Non-zero where an event has a payload, as the reader's payload lengths are."""
        return [0 if p is None else 1 for p in self._payloads]


@dataclass
class Span:
    """A closed (or still open at the end) span, for inspect and export, not analysis."""

    span: int
    parent: int
    task: int
    site: SiteInfo
    start_ns: int
    end_ns: int | None
    status: str  # ok, error, open
    start_index: int
    end_index: int | None = None
    start_payload: object = None
    end_payload: object = None

    @property
    def duration_ns(self) -> int | None:
        return None if self.end_ns is None else self.end_ns - self.start_ns


@dataclass
class Instant:
    """An instant event (error_occurred, memory_operation, performance_marker...)."""

    index: int
    ts: int
    site: SiteInfo
    parent: int
    task: int
    payload: object = None
