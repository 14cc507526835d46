"""The site table: one row per place that can emit an event, known entirely at build time.

Runtime events carry only a site id; the row says the event type, the component and its
declared name, and the `.ai` line it came from. A tracepoint with `per` gets one site per
declaration (so "llm_call of research_llm" is its own site), plus a fallback site for
objects created at run time that no declaration names.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from n3core.runtime.chain import unique_step_name
from n3core.tracing.format import ERROR_SITE, PERFORMANCE_SITE, Site

from ..errors import UsageError
from ..frontend import nodes
from .profile import COMPONENTS, Profile, Tracepoint

FALLBACK_NAME = "*"


@dataclass
class SitePlan:
    sites: list[Site]
    # target -> (fallback site id, {declaration key: site id})
    lookups: dict[str, tuple[int, dict]]
    tracepoints: list[Tracepoint]

    def to_json(self) -> str:
        rows = [site.build_row() for site in self.sites]
        return json.dumps({"format": 1, "sites": rows}, indent=1, sort_keys=True) + "\n"

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def check_filters(filters) -> tuple[str, ...]:
    for name in filters:
        if name not in COMPONENTS:
            raise UsageError(
                f"--filter {name!r} is not a component; use one of {', '.join(COMPONENTS)}."
            )
    return tuple(filters)


def plan_sites(program: nodes.Program | None, profile: Profile, filters=()) -> SitePlan:
    """Number every site of `profile` that `filters` keeps, declarations in source order."""
    filters = check_filters(filters)
    display = program.file if program else ""
    sites = [
        Site(ERROR_SITE, "error_occurred", "runtime", FALLBACK_NAME, kind="instant",
             captures=("type", "message", "stack")),
        Site(PERFORMANCE_SITE, "performance_marker", "runtime", "process", kind="instant",
             captures=("name", "cpu_user_s", "cpu_system_s", "max_rss_bytes", "wall_s")),
    ]
    lookups: dict[str, tuple[int, dict]] = {}
    kept = [tp for tp in profile.tracepoints if not filters or tp.component in filters]
    for tp in kept:
        captures = tp.capture + (("return",) if tp.capture_return else ())

        def add(name: str, loc: nodes.Location | None) -> int:
            site = Site(
                len(sites), tp.event, tp.component, name, loc.file if loc else tp.target,
                loc.line if loc else 0, loc.column if loc else 0, captures,
                kind=tp.kind, target=tp.target,
            )
            sites.append(site)
            return site.id

        fallback = add(FALLBACK_NAME, None)
        table: dict = {}
        if tp.per and program is not None:
            for key, loc in _declared(program, tp):
                table[key] = add(".".join(key) if isinstance(key, tuple) else key, loc)
        elif program is not None and tp.component == "app" and program.app is not None:
            app = program.app
            sites[fallback] = replace(sites[fallback], name=app.name, file=display,
                                      line=app.loc.line, column=app.loc.column)
        lookups[tp.target] = (fallback, table)
    return SitePlan(sites, lookups, kept)


def _declared(program: nodes.Program, tp: Tracepoint):
    if tp.event == "chain_step":
        for chain in program.of_kind("chain"):
            for name, loc in _step_names(chain):
                yield (chain.name, name), loc
        return
    for decl in program.of_kind(tp.component):
        yield decl.name, decl.loc


def _step_names(chain: nodes.Declaration):
    """Each step's name as the runtime will give it: explicit, else its target, made unique."""
    taken: set = set()
    steps = chain.get("steps")
    if isinstance(steps, nodes.String):
        for part in steps.value.split("->"):
            if part.strip():
                yield unique_step_name(part.strip(), taken), steps.loc
    elif isinstance(steps, nodes.ListValue):
        yield from _object_steps(steps.items, taken)


def _object_steps(items, taken: set):
    for item in items:
        if isinstance(item, (nodes.String, nodes.Reference)):
            name = item.value if isinstance(item, nodes.String) else item.name
            yield unique_step_name(name, taken), item.loc
            continue
        if not isinstance(item, nodes.ObjectValue):
            continue
        group = item.get("parallel")
        if isinstance(group, nodes.ListValue):
            yield unique_step_name(_text(item.get("name")) or "parallel", taken), item.loc
            yield from _object_steps(group.items, taken)
        else:
            base = _text(item.get("name")) or _text(item.get("target")) or "template"
            yield unique_step_name(base, taken), item.loc


def _text(value) -> str | None:
    if isinstance(value, nodes.String):
        return value.value
    if isinstance(value, nodes.Reference):
        return value.name
    return None
