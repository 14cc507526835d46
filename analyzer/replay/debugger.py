"""The interactive debugger both replay and stepping drive: pauses, commands, history.

The prompt is the standard library's `cmd` on `readline`: line editing, a history the
arrow keys walk, repeat-on-enter and tab completion of commands, with no dependency the
frozen `n3analyze` would have to carry. Without a terminal the same commands are read
from stdin one a line (echoed, so a transcript reads like a session), and the end of the
input means "continue to the end", so a session can be scripted.
"""
from __future__ import annotations

import cmd
import json
import sys
from collections import deque
from dataclasses import dataclass

from ..model import SiteInfo
from ..source_view import lines_around
from .breakpoints import BreakpointError, parse_breakpoint
from .events import EVENT_FIELDS, MISSING, ReplayEvent, split_location

PROMPT = "(replay) "
HISTORY = 1000
SHOWN_EVENTS = 10
CUT = 200

COMMANDS = (
    ("n", "next", "run to the next event at this level (over a span's inside)"),
    ("s", "step", "step into: stop at the very next event"),
    ("c", "continue", "run to the next breakpoint (or the end)"),
    ("p", "print", "p FIELD: a field or dotted path (payload.x, usage.total_tokens); "
                   "p alone: the whole payload"),
    ("w", "where", "the span stack, root first, each with its source line"),
    ("e", "events", "e [N]: the last N events (10 by default)"),
    ("b", "break", "b SPEC: add a breakpoint (b alone lists them)"),
    ("q", "quit", "stop the replay here"),
    ("h", "help", "this list"),
)


class QuitReplay(Exception):
    """The user quit at a pause; drivers stop and report how far they got."""


@dataclass
class DebugIO:
    """Where the debugger reads commands and writes pauses; tests pass strings."""

    stdin: object
    stdout: object
    console: object
    is_tty: bool

    @classmethod
    def standard(cls) -> "DebugIO":
        from ..console import make_console

        tty = bool(sys.stdin.isatty() and sys.stdout.isatty())
        return cls(sys.stdin, sys.stdout, make_console(sys.stdout), tty)

    @classmethod
    def scripted(cls, commands: str, out, width: int = 120) -> "DebugIO":
        import io

        from ..console import make_console

        return cls(io.StringIO(commands), out, make_console(out, width=width), False)


def shorten(value, limit: int = CUT):
    """A copy with long strings cut, for the pause view; `p` shows them whole."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... ({len(value) - limit} more characters)"
    if isinstance(value, dict):
        return {k: shorten(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [shorten(v, limit) for v in value]
    return value


def compact(value, command: str, limit: int = CUT) -> str:
    """One line of JSON, cut at `limit` with the command that shows the rest."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters: {command})"


def dumps(value) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


class Debugger:
    """Pause where breakpoints or stepping say, and take commands until told to run on.

    Drivers call `on_event` for every event in order; `watched_sites()` lets a driver
    skip building events no breakpoint can hit while nothing is being stepped.
    """

    def __init__(self, breakpoints=(), step: bool = False, io: DebugIO | None = None, *,
                 catalog=None, trace_path: str = "", source_sha256=None):
        self.breakpoints = list(breakpoints)
        self.source_sha256 = source_sha256  # a source file is shown only if its hash matches
        self.io = io or DebugIO.standard()
        self.catalog = catalog
        self.trace_path = trace_path
        self.mode = "step" if step else "run"   # step, next, run, done
        self.next_level = 0
        self.current: ReplayEvent | None = None
        self.pauses = 0
        self._history: deque = deque(maxlen=HISTORY)
        self.recent = self._recent
        self._prompt = _Prompt(self)

    # -- what drivers call ----------------------------------------------------------
    def watched_sites(self):
        """Site ids that need a ReplayEvent, or None when every event does."""
        if self.mode in ("step", "next"):
            return None
        if self.mode == "done":
            return frozenset()
        out: set = set()
        for bp in self.breakpoints:
            out |= bp.sites
        return frozenset(out)

    def on_event(self, event: ReplayEvent) -> None:
        """Count it against the breakpoints; when one hits or stepping says so, pause."""
        self._history.append(event)
        if self.mode == "done":
            return
        hit = [bp for bp in self.breakpoints if bp.hits(event)]  # every one: they count
        if hit:
            self.pause(event, "breakpoint " + ", ".join(
                f"{self.breakpoints.index(bp) + 1} ({bp.spec})" for bp in hit))
        elif self.mode == "step" or (self.mode == "next" and event.level <= self.next_level):
            self.pause(event, "step")

    def pause(self, event: ReplayEvent, why: str) -> None:
        """Show the event and read commands until one runs on; QuitReplay on quit."""
        self.current = event
        self.pauses += 1
        self.show(event, why)
        self._prompt.cmdloop()
        if self._prompt.quit:
            raise QuitReplay()

    # -- rendering ------------------------------------------------------------------
    @property
    def console(self):
        return self.io.console

    def say(self, text: str, style: str = "") -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style), soft_wrap=True)

    def show(self, ev: ReplayEvent, why: str) -> None:
        where = f" at {ev.location}" if ev.location else ""
        self.say(f"-- {why} --", "bold")
        self.say(f"#{ev.index} {ev.event_type} {ev.component}:{ev.name}{where}", "bold")
        self.say(f"span {ev.span}  parent {ev.parent}  task {ev.task}  ts {ev.timestamp_ns}")
        payload = ev.payload
        if isinstance(payload, dict) and payload:
            self.say("payload:")
            for key, value in payload.items():
                self.say(f"  {key}: {compact(value, f'p payload.{key}')}")
        else:
            self.say("payload: " + ("none" if payload is None else compact(payload, "p")))
        self.source(ev.file, ev.line, ev.column, ev.stem, ev.name)

    def source(self, file: str, line: int, column: int, stem: str, name: str,
               context: int = 2) -> bool:
        site = SiteInfo(0, stem, "", name, file, line, column)
        rows = lines_around(site, self.trace_path or ".", context, self.source_sha256)
        if not rows:
            if file and line:
                self.say(f"  (source {file}:{line} cannot be read here)")
            return False
        for n, text, current in rows:
            mark = ">" if current else " "
            self.say(f"{mark} {n:5d} | {text}", "bold reverse" if current else "")
        return True

    def _recent(self, n: int) -> list:
        return list(self._history)[-n:]

    def describe(self, ev: ReplayEvent) -> str:
        where = f" {ev.location}" if ev.location else ""
        brief = ""
        if isinstance(ev.payload, dict) and ev.payload:
            brief = "  " + json.dumps(shorten(ev.payload, 40), default=str,
                                      ensure_ascii=False)[:100]
        return f"#{ev.index} {ev.event_type} {ev.component}:{ev.name}{where}{brief}"


class _Prompt(cmd.Cmd):
    """The command loop of one pause; a command that runs on returns True."""

    prompt = PROMPT

    def __init__(self, dbg: Debugger):
        io = dbg.io
        super().__init__(stdin=io.stdin, stdout=io.stdout)
        self.use_rawinput = bool(io.is_tty)
        self.dbg = dbg
        self.quit = False

    def cmdloop(self, intro=None):
        self.quit = False
        try:
            return super().cmdloop(intro)
        except KeyboardInterrupt:
            self.dbg.say("interrupted: quitting")
            self.quit = True

    def precmd(self, line: str) -> str:
        if not self.use_rawinput and line != "EOF":
            self.stdout.write(line + "\n")
            self.stdout.flush()
        return line.strip() if line != "EOF" else line

    def emptyline(self):
        if self.use_rawinput and self.lastcmd:
            return self.onecmd(self.lastcmd)
        return False

    def default(self, line: str):
        if line.startswith("#"):
            return False
        word = line.split()[0] if line.split() else line
        self.dbg.say(f"unknown command {word!r}. Commands: " +
                     ", ".join(f"{a}/{b}" for a, b, _ in COMMANDS) + " (h for help)")
        return False

    def do_EOF(self, arg):
        self.stdout.write("\n")
        self.dbg.say("end of commands: continuing to the end without pausing")
        self.dbg.mode = "done"
        return True

    def do_next(self, arg):
        ev = self.dbg.current
        self.dbg.mode = "next"
        self.dbg.next_level = ev.level if ev else 0
        return True

    def do_step(self, arg):
        self.dbg.mode = "step"
        return True

    def do_continue(self, arg):
        self.dbg.mode = "run"
        return True

    def do_quit(self, arg):
        self.quit = True
        return True

    def do_print(self, arg):
        ev = self.dbg.current
        path = arg.strip()
        if not path:
            self.dbg.say(dumps(ev.payload))
            return False
        value = ev.field(path)
        if value is MISSING:
            keys = sorted(ev.payload) if isinstance(ev.payload, dict) else []
            self.dbg.say(f"no field {path!r} in event #{ev.index} ({ev.event_type}). Payload "
                         f"fields: {', '.join(keys) or 'none'}. Event fields: "
                         f"{', '.join(EVENT_FIELDS)}. Use dots to go deeper "
                         "(usage.total_tokens, messages.0.content).")
            return False
        self.dbg.say(f"{path} = " + (value if isinstance(value, str) else dumps(value)))
        return False

    def do_where(self, arg):
        ev = self.dbg.current
        if not ev.span_stack:
            self.dbg.say("at the top level: no span is open")
        for depth, (stem, name, location) in enumerate(ev.span_stack):
            file, line, column = split_location(location or "")
            at = f" at {location}" if location else ""
            self.dbg.say(f"{'  ' * depth}#{depth} {stem} {name}{at}", "bold")
            if file and line:
                self.dbg.source(file, line, column, stem, name, context=0)
        return False

    def do_events(self, arg):
        arg = arg.strip()
        if arg and not arg.isdigit():
            self.dbg.say(f"e takes a count of events, such as e 5, not {arg!r}")
            return False
        n = int(arg) if arg else SHOWN_EVENTS
        for ev in self.dbg.recent(max(1, n)):
            mark = ">" if self.dbg.current is not None and ev.index == self.dbg.current.index \
                else " "
            self.dbg.say(f"{mark} {self.dbg.describe(ev)}")
        return False

    def do_break(self, arg):
        spec = arg.strip()
        dbg = self.dbg
        if not spec:
            if not dbg.breakpoints:
                dbg.say("no breakpoints")
            for i, bp in enumerate(dbg.breakpoints, 1):
                dbg.say(f"{i}: {bp.spec}")
            return False
        if dbg.catalog is None:
            dbg.say("breakpoints cannot be added here: this run has no site table to check "
                    "them against")
            return False
        try:
            bp = parse_breakpoint(spec, dbg.catalog)
        except BreakpointError as exc:
            dbg.say(str(exc))
            return False
        dbg.breakpoints.append(bp)
        dbg.say(f"breakpoint {len(dbg.breakpoints)}: {spec}")
        return False

    def do_help(self, arg):
        for short, long, what in COMMANDS:
            self.dbg.say(f"  {short}/{long:<9} {what}")
        self.dbg.say("  an empty line at a terminal repeats the last command; up and down "
                     "walk the history")
        return False

    do_n, do_s, do_c, do_p, do_w, do_e, do_b, do_q, do_h = (
        do_next, do_step, do_continue, do_print, do_where, do_events, do_break, do_quit,
        do_help)
    do_exit = do_quit

    def completenames(self, text, *ignored):
        return [long for _, long, _ in COMMANDS if long.startswith(text)]
