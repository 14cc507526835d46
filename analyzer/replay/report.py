"""The replay report: text in the manner of VCR.py's mismatch message, and JSON
(schema in docs/replay-schema.md; bump SCHEMA when a field changes meaning)."""
from __future__ import annotations

import json

from .align import field_diff

SCHEMA = 1
_SHOW = 160


def where(site) -> str:
    if site is None or not getattr(site, "file", "") or not site.line:
        return "(no source position)"
    return f"{site.file}:{site.line}:{site.column}"


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= _SHOW else text[:_SHOW - 1] + "…"


def departure_doc(d) -> dict:
    doc = {"verdict": d.verdict, "key": d.key, "where": where(d.site), "cause": d.cause,
           "action": d.action or None}
    if d.verdict != "mocked":
        doc["recorded"] = d.recorded
        doc["replayed"] = d.replayed
        doc["fields"] = field_diff(d.recorded, d.replayed) if d.verdict == "changed" else []
        doc["before"] = [{"event": kind, "key": key, "where": where(site)}
                         for kind, key, site in d.before]
    return doc


def outcome_doc(o) -> dict:
    divergences = o.divergences
    return {
        "schema": SCHEMA, "trace": o.trace, "run_id": o.run_id, "entry": o.entry,
        "replay_trace": o.replay_trace, "build": o.build, "build_from": o.how,
        "sites_match": o.sites_match, "on_divergence": o.mode,
        "verdict": o.verdict,
        "boundaries": {"recorded": o.boundaries, "matched": o.matched,
                       "divergences": len(divergences),
                       "mocked": sum(d.verdict == "mocked" for d in o.departures),
                       "not_reached": o.not_reached},
        "first_divergence": departure_doc(divergences[0]) if divergences else None,
        "departures": [departure_doc(d) for d in o.departures],
        "stopped": o.stopped, "quit": o.quit, "program_error": o.error, "events": o.events,
    }


def render_divergence(d) -> list:
    lines = [f"{d.verdict.upper()}: {d.key}", f"  at {where(d.site)}"]
    if d.cause:
        lines.append(f"  cause: {d.cause}")
    if d.verdict == "changed":
        lines.append("  the request differs from the recorded one:")
        for row in field_diff(d.recorded, d.replayed):
            lines.append(f"    {row['field'] or '(request)'}:")
            if row.get("diff"):
                lines += [f"      {line}" for line in row["diff"]]
            else:
                lines.append(f"      recorded: {_short(row['recorded'])}")
                lines.append(f"      replayed: {_short(row['replayed'])}")
    elif d.verdict == "extra":
        lines.append("  the replay made a call the record does not have:")
        lines.append(f"      replayed: {_short(d.replayed)}")
    elif d.verdict == "missing":
        lines.append("  the record has this call; the replay never made it:")
        lines.append(f"      recorded: {_short(d.recorded)}")
    if d.before:
        lines.append("  last events before it:")
        lines += [f"    {kind:<9} {key}  {where(site)}" for kind, key, site in d.before]
    return lines


def render(o) -> str:
    lines = []
    if any(d.action == "live" for d in o.departures):
        lines.append("note: --on-divergence live called real components where the record "
                     "no longer matched")
    divergences = o.divergences
    head = f"replay of {o.trace} (run {o.run_id[:12]}, {o.entry})"
    if o.identical:
        lines.append(f"{head}: identical, {o.matched} of {o.boundaries} boundaries matched")
    elif not divergences:
        mocked = sum(d.verdict == "mocked" for d in o.departures)
        lines.append(f"{head}: a what-if, {mocked} call{'s' if mocked != 1 else ''} answered "
                     f"or skipped by --mock, {o.matched} of {o.boundaries} boundaries matched, "
                     "no other departure")
    else:
        lines.append(f"{head}: diverged, "
                     f"{len(divergences)} divergence{'s' if len(divergences) != 1 else ''}, "
                     f"{o.matched} of {o.boundaries} boundaries matched before"
                     + (" (stopped at the first)" if o.stopped and not o.quit else ""))
        lines.append("")
        lines += render_divergence(divergences[0])
    if not o.sites_match:
        lines.append(f"note: the build ({o.how}) differs from the one recorded (site tables differ)")
    others = [d for d in o.departures if d is not (divergences[0] if divergences else None)]
    if others:
        lines.append("")
        lines.append("departures from the record:")
        for d in others:
            lines.append(f"  {d.verdict:<8} {d.key}  {where(d.site)}  ({d.cause})")
    if o.quit:
        lines.append(f"the replay was quit at a pause, after {o.events} events")
    if o.stopped and o.not_reached:
        many = o.not_reached != 1
        lines.append(f"{o.not_reached} recorded boundar{'ies' if many else 'y'} not reached: the "
                     f"replay {'was quit' if o.quit else 'stopped'} before {'them' if many else 'it'}")
    if o.error:
        lines.append("")
        lines.append(f"the program failed: {o.error}")
    lines.append(f"replay trace: {o.replay_trace}")
    return "\n".join(lines)


def failure_paragraph(o) -> str:
    """`--on-divergence fail`: the first divergence as one error, nothing after it."""
    d = o.divergences[0]
    fields = [row["field"] or "(request)" for row in field_diff(d.recorded, d.replayed)] \
        if d.verdict == "changed" else []
    what = {"changed": "asked something else than the record" + (
                f" ({', '.join(fields)} differ)" if fields else ""),
            "extra": "made a call the record does not have",
            "missing": "never made a call the record has"}[d.verdict]
    lines = [f"error: the replay of {o.trace} {what} at {d.key} ({where(d.site)}); "
             f"--on-divergence fail ended it there ({d.cause}). Fix: replay without "
             "--on-divergence fail (or with --format json) to see the whole report and the "
             "requests side by side."]
    lines += render_divergence(d)[1:]
    return "\n".join(lines)


def check_line(o) -> str:
    if o.identical:
        return f"matched  {o.trace}  ({o.matched} boundaries)"
    if not o.divergences:
        return f"mocked   {o.trace}  ({o.matched} boundaries matched, the rest mocked)"
    d = o.divergences[0]
    return f"diverged {o.trace}  {d.verdict} at {d.key}, {where(d.site)}"
