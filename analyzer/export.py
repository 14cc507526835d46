"""Pick the exporter, write its output atomically (a temporary name, then a rename) or push
it to an OTLP endpoint, and say in one line what was written."""
from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field

from .errors import AnalyzerError, OutputError


class ExportUsageError(AnalyzerError):
    """Export options that do not go together."""


@dataclass
class Exported:
    """What an export wrote, for the summary line."""

    count: int
    unit: str = "records"
    requests: int = 0
    notes: list = field(default_factory=list)

    def summary(self, target: str, where: str, verb: str = "wrote") -> str:
        batches = f" in {self.requests} request(s)" if self.requests else ""
        line = f"{verb} {self.count} {self.unit}{batches} to {where} ({target})"
        return "; ".join([line, *self.notes])


def _open_note(still_open: int, marked: str) -> list:
    if not still_open:
        return []
    return [f"{still_open} span(s) were still open when the trace ends and are ended at its "
            f"last timestamp, marked {marked}"]


def _otlp_notes(counts) -> list:
    notes = _open_note(counts.still_open, "namel3ss.span.still_open (status UNSET)")
    if counts.orphans:
        notes.append(f"{counts.orphans} span(s) have a parent the trace does not hold and "
                     "are exported as roots, marked namel3ss.span.parent_not_in_trace")
    return notes


def check_options(target, out, protobuf, endpoint) -> None:
    if (protobuf or endpoint) and target != "otlp":
        flag = "--protobuf" if protobuf else "--endpoint"
        raise ExportUsageError(f"{flag} applies only to --to otlp, not --to {target}.")
    if endpoint and out:
        raise ExportUsageError("give either -o FILE or --endpoint URL, not both: --endpoint "
                               "sends the trace to a receiver instead of writing a file.")
    if not endpoint and not out:
        raise ExportUsageError("say where the export goes: -o FILE ('-' for standard output)"
                               + (", or --endpoint URL to send it to an OTLP/HTTP receiver."
                                  if target == "otlp" else "."))


def export(source, target: str, out: str | None, *, protobuf=False, endpoint=None,
           max_spans=None, retries=None) -> Exported:
    check_options(target, out, protobuf, endpoint)
    if endpoint:
        from .export_otlp_http import push

        options = {} if retries is None else {"retries": retries}
        counts, pusher = push(source, endpoint, **_limit(max_spans), **options)
        notes = _otlp_notes(counts)
        if pusher.rejected:
            notes.append(f"the receiver rejected {pusher.rejected} span(s)"
                         + (f": {pusher.messages[0]}" if pusher.messages else ""))
        return Exported(counts.spans, "spans", pusher.sent, notes)
    binary = target == "otlp" and protobuf
    if out == "-":
        return _write(source, target, sys.stdout.buffer if binary else sys.stdout, protobuf,
                      max_spans)
    folder = os.path.dirname(os.path.abspath(out))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)  # as `namel3ss build -o` and `debug trace -o` do
        fd, tmp = tempfile.mkstemp(prefix=".n3export-", dir=folder)
        mode = {"mode": "wb"} if binary else {"mode": "w", "encoding": "utf-8"}
        with os.fdopen(fd, **mode) as f:
            done = _write(source, target, f, protobuf, max_spans)
        os.replace(tmp, out)
    except OSError as exc:
        raise OutputError(f"-o {out}: cannot write there ({exc.strerror or exc}). Choose a "
                          "file in a folder you can write to.") from exc
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
    return done


def _limit(max_spans) -> dict:
    return {} if max_spans is None else {"max_spans": max_spans}


def _write(source, target, f, protobuf, max_spans) -> Exported:
    if target == "otlp":
        from . import export_otlp_file as otlp

        writer = otlp.write_protobuf if protobuf else otlp.write_json_lines
        counts, requests = writer(source, f, **_limit(max_spans))
        return Exported(counts.spans, "spans", requests, _otlp_notes(counts))
    if target == "perfetto":
        from .export_perfetto import write

        count, still_open = write(source, f)
        return Exported(count, notes=_open_note(still_open, "args.still_open"))
    from .export_jsonl import write

    return Exported(write(source, f))
