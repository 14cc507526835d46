"""The tracer's settings: validated once at start, recorded verbatim in the trace header."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .errors import TraceConfigError
from .format import POLICIES, RESERVED_BASE, Site
_ALIASES = {"flight": "flight-recorder", "flight_recorder": "flight-recorder"}


@dataclass(frozen=True)
class TraceConfig:
    """Settings in force for one tracing session (see docs/trace-format.md, "Header")."""

    policy: str = "block"
    buffer_size: int = 16384
    chunk_events: int = 4096
    max_payload: int = 256 * 1024
    max_depth: int = 32
    max_repr: int = 200
    components: tuple | None = None
    event_types: tuple | None = None
    capture_memory: bool = False
    memory_interval: float = 0.1
    flush_interval: float = 0.1  # seconds; the writer seals a chunk once its first event is this old
    output_dir: str = "debug/traces"
    install_hooks: bool = True
    otlp_endpoint: str | None = None

    @classmethod
    def from_mapping(cls, data, source: str = "start(config=...)") -> "TraceConfig":
        """Build from a dict, naming the setting and its source in every error."""
        if data is None:
            return cls()
        if isinstance(data, TraceConfig):
            return data
        known = {f.name: f for f in fields(cls)}
        values = {}
        for key, value in dict(data).items():
            name = key.lower().replace("-", "_")
            if name not in known:
                raise TraceConfigError(
                    f"unknown tracing setting {key!r} in {source}; known settings: "
                    f"{', '.join(sorted(known))}")
            values[name] = value
        if "policy" in values:
            values["policy"] = _ALIASES.get(str(values["policy"]), str(values["policy"]))
        for name in ("components", "event_types"):
            if isinstance(values.get(name), str):
                values[name] = tuple(p.strip() for p in values[name].split(",") if p.strip())
            elif values.get(name) is not None:
                values[name] = tuple(values[name])
        config = cls(**values)
        config.validate(source)
        return config

    def validate(self, source: str) -> None:
        if self.policy not in POLICIES:
            raise TraceConfigError(
                f"policy={self.policy!r} in {source} is not one of "
                f"{', '.join(POLICIES)}")
        for name, low in (("buffer_size", 2), ("chunk_events", 1), ("max_payload", 64),
                          ("max_depth", 1), ("max_repr", 8)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise TraceConfigError(
                    f"{name}={value!r} in {source} must be an integer >= {low}")
        if self.max_depth > 256:
            raise TraceConfigError(f"max_depth={self.max_depth} in {source} is over 256")
        if self.chunk_events > 1 << 20:
            raise TraceConfigError(f"chunk_events={self.chunk_events} in {source} is over "
                                   f"{1 << 20}")
        for name in ("memory_interval", "flush_interval"):
            value = getattr(self, name)
            if (not isinstance(value, (int, float)) or isinstance(value, bool) or
                    not 0 < value <= 3600):
                raise TraceConfigError(
                    f"{name}={value!r} in {source} must be a number of seconds above 0 "
                    "and at most 3600")
        if self.otlp_endpoint is not None:
            from .live_otlp import traces_url

            if traces_url(self.otlp_endpoint) is None:
                raise TraceConfigError(
                    f"otlp_endpoint={self.otlp_endpoint!r} in {source} is not an http(s) "
                    "URL such as http://127.0.0.1:4318")

    @property
    def policy_code(self) -> int:
        return POLICIES[self.policy]

    def geometry(self) -> tuple:
        """(events per chunk, payload bytes per chunk, slots) holding at least buffer_size."""
        per_chunk = max(1, min(self.chunk_events, self.buffer_size // 2))
        slots = max(2, math.ceil(self.buffer_size / per_chunk) + 1)
        payload = max(4 * self.max_payload, 1 << 20) + 512
        return per_chunk, payload, slots

    def to_json(self) -> dict:
        data = asdict(self)
        for name in ("components", "event_types"):
            if data[name] is not None:
                data[name] = list(data[name])
        return data


def _matches(event_type: str, wanted) -> bool:
    base = event_type[:-6] if event_type.endswith("_start") else (
        event_type[:-4] if event_type.endswith("_end") else event_type)
    return event_type in wanted or base in wanted


def build_masks(sites, config: TraceConfig) -> tuple:
    """(mask for build sites, mask for reserved sites): 1 where events are recorded."""
    build = [s for s in sites if s.id < RESERVED_BASE]
    mask = bytearray(b"\x01" * (max((s.id for s in build), default=-1) + 1))
    for site in build:
        ok = config.components is None or site.component in config.components \
            or site.name in config.components
        if ok and config.event_types is not None:
            ok = _matches(site.event_type, config.event_types)
        mask[site.id] = 1 if ok else 0
    reserved = bytearray(b"\x01" * 256)
    return bytes(mask), bytes(reserved)


def coerce_sites(sites) -> list:
    result = [Site.coerce(s) for s in (sites or ())]
    seen = set()
    for site in result:
        if not 0 <= site.id < RESERVED_BASE:
            raise TraceConfigError(
                f"site id {site.id} ({site.event_type}) is outside 0..{RESERVED_BASE - 1}; "
                "ids from there up are reserved for the tracer")
        if site.id in seen:
            raise TraceConfigError(f"site id {site.id} appears twice in the site table")
        seen.add(site.id)
    return result
