"""The App: what program.py declares components on, and what runs them.

Declaring only records; `App.finalize` does the work once every declaration is known
(references may point forwards): canonical keys, defaults, value checks, reference
resolution, component construction. Environment variables are not read here: a build
must not capture secrets, so `Env` values stay unread until a component uses them.
"""
from __future__ import annotations

import asyncio
import os

from .agent import Agent
from .chain import Chain, StepBuilder
from .errors import ConfigError, N3Error, UsageError
from .llm import LLM
from .memory import Memory
from .prompt import Prompt
from .schema import DEFAULTS, EXECUTABLE_KINDS, KINDS, MEMORY_POLICIES, canonical_key
from .tools import make_tool
from .values import Env, Ref

ENTRY_KINDS = ("chain", "agent", "prompt")
_PY_TYPES = {"string": (str, Env), "number": (int, float, Env), "integer": (int, Env),
             "boolean": (bool,), "list": (list,), "object": (dict,)}


class Declaration:
    """One declaration as program.py wrote it, before finalize interprets it."""

    def __init__(self, kind: str, name: str, props: dict, loc=None):
        self.kind, self.name, self.props, self.loc = kind, name, dict(props or {}), loc

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} at {self.loc}>"


class UnresolvedLLM:
    """Stands for the llm of a prompt or agent that cannot be known (undeclared, or one of
    several): `check` only warns, so the rest of the program runs and this fails when used."""

    kind = "llm"

    def __init__(self, name: str, message: str, hint: str, owner_kind: str, owner: str, loc):
        self.name, self.loc = name, loc
        self._error = dict(message=message, hint=hint, kind=owner_kind, name=owner, loc=loc)

    async def complete(self, request):
        raise ConfigError(**self._error)

    def __repr__(self) -> str:
        return f"<unresolved llm {self.name}>"


class App:
    """A namel3ss program: its declarations, then (after finalize) its components."""

    kind = "app"

    def __init__(self, name: str | None = None, source: str | None = None,
                 properties: dict | None = None, loc=None):
        self.name, self.source, self.loc = name, source, loc
        self.properties = dict(properties or {})
        self.base_dir = os.path.dirname(os.path.abspath(source)) if source else os.getcwd()
        self.declarations: list[Declaration] = []
        self.declarative_items: dict = {}
        self.components: dict = {kind: {} for kind in EXECUTABLE_KINDS}
        self.warnings: list[str] = []
        self.finalized = False

    # -- declaring ---------------------------------------------------------------------
    def _declare(self, kind: str, name: str, props: dict, loc) -> None:
        if self.finalized:
            raise ConfigError("cannot declare components after finalize()",
                              kind=kind, name=name, loc=loc)
        self.declarations.append(Declaration(kind, name, props, loc))

    def llm(self, name: str, props: dict | None = None, loc=None) -> None:
        self._declare("llm", name, props, loc)

    def prompt(self, name: str, props: dict | None = None, loc=None) -> None:
        self._declare("prompt", name, props, loc)

    def tool(self, name: str, props: dict | None = None, loc=None) -> None:
        self._declare("tool", name, props, loc)

    def memory(self, name: str, props: dict | None = None, loc=None) -> None:
        self._declare("memory", name, props, loc)

    def agent(self, name: str, props: dict | None = None, loc=None) -> None:
        self._declare("agent", name, props, loc)

    def chain(self, name: str, props: dict | None = None, loc=None) -> None:
        self._declare("chain", name, props, loc)

    def declarative(self, kind: str, name: str, props: dict | None = None, loc=None) -> None:
        """Kept for other parts of namel3ss (and template steps); never executed."""
        self.declarative_items.setdefault(kind, {})[name] = dict(props or {}, __loc__=loc)

    # -- finalize ----------------------------------------------------------------------
    def finalize(self) -> "App":
        """Resolve references, aliases and defaults and build every component."""
        if self.finalized:
            return self
        configs = {kind: {} for kind in EXECUTABLE_KINDS}
        for decl in self.declarations:
            if decl.name in configs[decl.kind]:
                first = configs[decl.kind][decl.name][1]
                raise ConfigError(f"{decl.kind} '{decl.name}' is declared twice "
                                  f"(first at {first})", kind=decl.kind, name=decl.name,
                                  loc=decl.loc, hint="rename or remove one of them")
            configs[decl.kind][decl.name] = (self._config(decl), decl.loc)
        c = self.components
        for kind, build in (("llm", self._build_llm), ("memory", self._build_memory),
                            ("tool", self._build_tool), ("prompt", self._build_prompt),
                            ("agent", self._build_agent)):
            for name, (config, loc) in configs[kind].items():
                try:
                    c[kind][name] = build(name, config, loc)
                except N3Error as err:
                    raise err.attach(kind, name, loc)
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"invalid configuration: {exc}",
                                      kind=kind, name=name, loc=loc) from None
        for name, (config, loc) in configs["chain"].items():
            c["chain"][name] = Chain(name, config, loc)
        for name, chain in c["chain"].items():
            if chain.config.get("steps") is None:
                chain.problem = ConfigError("a chain needs steps", kind="chain", name=name,
                                            loc=chain.loc, hint='add steps: [ ... ] or steps: "a -> b"')
                continue
            chain.steps = StepBuilder(chain, self._lookup).build(chain.config.get("steps"))
        self._check_chain_cycles()
        self.finalized = True
        return self

    def _config(self, decl: Declaration) -> dict:
        spec = KINDS.get(decl.kind, {})
        config: dict = {}
        for key, value in decl.props.items():
            canon = canonical_key(decl.kind, key)
            if key not in spec:
                self.warnings.append(f"{decl.loc}: {decl.kind} '{decl.name}' ignores unknown "
                                     f"key '{key}'")
                continue
            if canon in config and canon != key:
                continue  # the canonical spelling wins over its alias
            self._check_value(decl, key, value)
            config[canon] = value
        for (kind, key), default in DEFAULTS.items():
            if kind == decl.kind:
                config.setdefault(key, default)
        return config

    def _check_value(self, decl: Declaration, key: str, value) -> None:
        spec = KINDS[decl.kind][key]
        allowed = _PY_TYPES.get(spec.type)

        def fail(why):
            return ConfigError(f"'{key}' {why}", kind=decl.kind, name=decl.name, loc=decl.loc)

        if value is None or (spec.ref_kinds and isinstance(value, Ref)):
            return
        if allowed and (not isinstance(value, allowed)
                        or (bool not in allowed and isinstance(value, bool))):
            raise fail(f"must be {'an' if spec.type[0] in 'aeiou' else 'a'} {spec.type}, "
                       f"got {value!r}")
        if spec.choices and isinstance(value, str) and value not in spec.choices \
                and not spec.open and value not in (spec.synonyms or {}):
            raise fail(f"must be one of {', '.join(spec.choices)}, got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if spec.minimum is not None and value < spec.minimum:
                raise fail(f"must be at least {spec.minimum:g}, got {value!r}")
            if spec.maximum is not None and value > spec.maximum:
                raise fail(f"must be at most {spec.maximum:g}, got {value!r}")

    def _ref(self, value, kind: str, owner_kind: str, owner: str, key: str, loc):
        name = value.name if isinstance(value, Ref) else value
        component = self.components[kind].get(name) if isinstance(name, str) else None
        if component is None:
            declared = ", ".join(self.components[kind]) or f"no {kind} is declared"
            raise ConfigError(f"'{key}' refers to {name!r}, which is not a declared {kind}",
                              hint=f"declare {kind} {name} or use one of: {declared}",
                              kind=owner_kind, name=owner, loc=loc)
        return component

    def _build_llm(self, name, config, loc):
        return LLM(name, config, loc)

    def _build_memory(self, name, config, loc):
        return Memory(name, config, loc)

    def _build_tool(self, name, config, loc):
        return make_tool(name, config, loc, self.base_dir)

    def _llm_ref(self, value, owner_kind: str, owner: str, key: str, loc):
        """The llm `value` names, or a stand-in that fails when it is called: `check` only
        warns about an undeclared llm, so the rest of the program still runs."""
        llm_name = value.name if isinstance(value, Ref) else value
        if isinstance(llm_name, str) and llm_name not in self.components["llm"]:
            declared = ", ".join(self.components["llm"]) or "none is declared"
            return UnresolvedLLM(
                llm_name, f"'{key}' refers to {llm_name!r}, which is not a declared llm",
                f'declare llm {llm_name} {{ provider: "...", model: "..." }}, or set {key} '
                f"to a declared llm ({declared})", owner_kind, owner, loc)
        return self._ref(value, "llm", owner_kind, owner, key, loc)

    def _build_prompt(self, name, config, loc):
        model = config.get("model")
        if model is not None:
            llm = self._llm_ref(model, "prompt", name, "model", loc)
        else:
            llm = self._default_llm(name, loc)
        return Prompt(name, config, llm, loc)

    def _default_llm(self, owner: str, loc):
        llms = self.components["llm"]
        if len(llms) == 1:
            return next(iter(llms.values()))
        if not llms:
            return LLM("mock", {"provider": "mock"}, None)
        return UnresolvedLLM("?", "no model given and several llms are declared",
                             f"add model: one of {', '.join(llms)}", "prompt", owner, loc)

    def _build_agent(self, name, config, loc):
        if config.get("llm") is None:
            raise ConfigError("an agent needs an llm", hint="add llm: <name of an llm>",
                              kind="agent", name=name, loc=loc)
        llm = self._llm_ref(config["llm"], "agent", name, "llm", loc)
        tools_value = config.get("tools") or []
        if not isinstance(tools_value, list):
            tools_value = [tools_value]
        tools = [self._ref(t, "tool", "agent", name, "tools", loc) for t in tools_value]
        memory = None
        chosen = config.get("memory")
        chosen_name = chosen.name if isinstance(chosen, Ref) else chosen
        if chosen_name in MEMORY_POLICIES and chosen_name not in self.components["memory"]:
            memory = Memory.for_policy(chosen_name, name, config.get("window"), loc)
        elif chosen is not None:
            memory = self._ref(chosen, "memory", "agent", name, "memory", loc)
        system = config.get("system_prompt")
        if isinstance(system, Ref):
            prompt = self._ref(system, "prompt", "agent", name, "system_prompt", loc)
            config = dict(config, system_prompt=prompt.template)
        return Agent(name, config, llm, tools, memory, loc)

    def _lookup(self, name: str, kinds):
        for kind in kinds:
            if kind == "template":
                found = self.declarative_items.get("template", {}).get(name)
            else:
                found = self.components.get(kind, {}).get(name)
            if found is not None:
                return kind, found
        return None

    def _check_chain_cycles(self) -> None:
        def children(chain):
            stack = list(chain.steps)
            while stack:
                step = stack.pop()
                stack.extend(step.parallel)
                if step.kind == "chain":
                    yield step.target

        state: dict = {}

        def visit(chain, path):
            state[chain.name] = "open"
            for child in children(chain):
                if state.get(child.name) == "open":
                    cycle = " -> ".join(path + [child.name])
                    raise ConfigError(f"chains call each other in a cycle: {cycle}",
                                      hint="remove one of the chain steps in the cycle",
                                      kind="chain", name=chain.name, loc=chain.loc)
                if child.name not in state:
                    visit(child, path + [child.name])
            state[chain.name] = "done"

        for chain in self.components["chain"].values():
            if chain.name not in state:
                visit(chain, [chain.name])

    # -- running -----------------------------------------------------------------------
    def get(self, kind: str, name: str):
        return self.components.get(kind, {}).get(name)

    def entries(self) -> list[str]:
        return [f"{kind}:{name}" for kind in ENTRY_KINDS for name in self.components[kind]]

    def resolve_entry(self, entry: str | None):
        """`(kind, component)` for `"chain:NAME"`-style entries, or the default entry.

        Without an entry: the only chain; else, when there are no chains, the only agent.
        Anything else is a UsageError listing what can be run.
        """
        if not self.finalized:
            self.finalize()
        choices = ", ".join(self.entries()) or "nothing: declare a chain, agent or prompt"
        if entry is None:
            chains, agents = self.components["chain"], self.components["agent"]
            if len(chains) == 1:
                return "chain", next(iter(chains.values()))
            if not chains and len(agents) == 1:
                return "agent", next(iter(agents.values()))
            raise UsageError("no entry given and the program has no single default to run",
                             hint=f"pass --chain, --agent or --prompt (can run: {choices})")
        kind, sep, name = entry.partition(":")
        if not sep:
            kind, name = None, entry
        kinds = (kind,) if kind else ENTRY_KINDS
        if kind and kind not in ENTRY_KINDS:
            raise UsageError(f"entry {entry!r} must start with chain:, agent: or prompt:",
                             hint=f"can run: {choices}")
        for k in kinds:
            component = self.components[k].get(name)
            if component is not None:
                return k, component
        raise UsageError(f"there is no {kind or 'chain, agent or prompt'} named {name!r}",
                         hint=f"can run: {choices}")

    async def run(self, entry: str | None = None, input=None):
        """Run a chain, agent or prompt and return its result."""
        kind, component = self.resolve_entry(entry)
        return await component.run(input)

    def run_sync(self, entry: str | None = None, input=None):
        try:
            asyncio.get_running_loop()
            running = True
        except RuntimeError:
            running = False
        if not running:
            return asyncio.run(self.run(entry, input))
        raise UsageError("run_sync() was called inside a running event loop",
                         hint="use `await app.run(...)` there")

    def __repr__(self) -> str:
        return f"<app {self.name!r} from {self.source}>"
