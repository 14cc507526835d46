"""Checks for the dialect real programs are written in: what is kept but not run, built-in
memory policies, undeclared llms, values the runtime reads as its own or refuses only when
they are used. docs/language-decisions.md ("The dialect of real programs") says why.
"""
from __future__ import annotations

import difflib

from n3core.runtime import schema
from n3core.runtime.schema import Key

from .diagnostics import note, warning
from .nodes import Declaration, Entry, Location, Reference, String
from .wording import _a, _or


class DialectChecks:
    """Mixed into the checker, whose `out`, `declared`, `by_name`, `program`, `head`,
    `key_loc` and `invalid` these use."""

    def kept_note(self, declarative: list[Declaration]) -> None:
        """One note for everything kept in the program but not executed."""
        statements = self.program.statements
        if not declarative and not statements:
            return
        kinds = list(dict.fromkeys(d.kind for d in declarative))
        words = [f"`{k}`" for k in kinds]
        what = f"{_or(words, 'and')} declarations" if words else ""
        used = list(dict.fromkeys(f"`{s.keyword}`" for s in statements))
        if used:
            what += (" and " if what else "") + f"{_or(used, 'and')} statements"
        places = [self.head(d) for d in declarative[:1]] + [s.loc for s in statements[:1]]
        self.out.append(note(
            "DECLARATIVE_KIND",
            f"{what} are kept in the program but not executed by the runtime",
            min(places, key=lambda loc: (loc.line, loc.column)),
            "they are parsed for other namel3ss tools; `run` ignores them",
        ))


    def builtin_memory(self, spec: Key, value) -> bool:
        """`memory: "conversation_window"` (or another policy) with no memory of that name."""
        name = value.name if isinstance(value, Reference) else value.value
        return (spec.ref_kinds == ("memory",) and name in schema.MEMORY_POLICIES
                and ("memory", name) not in self.declared)

    def undeclared_llm(self, name: str, label: str, loc: Location) -> None:
        """A warning, not an error: fixtures often name an llm they never declare, and the
        rest of such a program still runs; running what needs it is a ConfigError."""
        others = [d for d in self.by_name.get(name, ()) if d.kind != "llm"]
        candidates = [n for (k, n) in self.declared if k == "llm"]
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        hint = (f"did you mean `{close[0]}`?" if close else
                f'declare it: llm {name} {{ provider: "openai", model: "..." }}')
        if others:
            other = others[0]
            hint = (f"`{name}` is {_a(other.kind)} (line {other.loc.line}), not an llm; "
                    + hint)
        self.out.append(warning(
            "UNDECLARED_LLM",
            f"{label} refers to `{name}`, which is not a declared llm; running it will fail",
            loc, hint))

    def template_input(self, entry: Entry | None, step_label: str, loc: Location) -> None:
        """A template step with no target and no `template` renders its `input` string."""
        if entry is None or not isinstance(entry.value, String):
            self.invalid(f"{step_label} has no `target`, `template` or `input` string to render",
                         entry.value.loc if entry is not None else loc,
                         'give it input: "text with {{steps.NAME}}", or template: "..."')

    def other_choice(self, spec: Key, value: String, label: str) -> bool:
        """A warning for a value outside `choices` that the key still accepts."""
        synonym = (spec.synonyms or {}).get(value.value)
        if synonym is not None:
            message, hint = (f'{label} "{value.value}" is read as "{synonym}"',
                             f'write "{synonym}" to say so')
        elif spec.open:
            message, hint = (f'{label} "{value.value}" is not one the runtime runs '
                             "(" + ", ".join(spec.choices) + "); using it at run time fails",
                             "the rest of the program still runs")
        else:
            return False
        self.out.append(warning("UNSUPPORTED_VALUE", message, value.loc, hint))
        return True

    def fails_when_run(self, decl: Declaration, seen: dict, owner: str) -> None:
        """Warnings for what the runtime refuses only when it is run, as fixtures hold them."""
        if decl.kind == "chain" and "steps" not in seen:
            message, hint = f"{owner} has no steps; running it fails", 'add steps: "a -> b"'
        elif decl.kind == "prompt" and "model" not in seen and self.several_llms():
            llms = [n for (k, n) in self.declared if k == "llm"]
            message = f"{owner} names no model and {len(llms)} llms are declared; running it fails"
            hint = "add model: one of " + ", ".join(llms)
        else:
            return
        self.out.append(warning("FAILS_WHEN_RUN", message, decl.name_loc, hint))

    def several_llms(self) -> bool:
        llms = 0
        for kind, _ in self.declared:
            llms += kind == "llm"
            if llms > 1:
                return True
        return False

    def window(self, decl: Declaration) -> None:
        entry = decl.entry("window")
        memory = decl.get("memory")
        policy = getattr(memory, "name", None) or getattr(memory, "value", None)
        if entry is not None and policy not in schema.WINDOW_POLICIES:
            self.out.append(warning(
                "UNKNOWN_KEY", "`window` sizes only the built-in memories "
                + _or([f'"{p}"' for p in schema.WINDOW_POLICIES]) + "; here it is ignored",
                self.key_loc(entry), 'add memory: "conversation_window"'))
