"""Chains: steps run in order, each reading the chain input and earlier outputs.

Step inputs are templates over `{{input}}`, `{{steps.NAME}}`, earlier `output` names and
`{{env.X}}`. A step without `input` is fed the previous step's output (the chain input for
the first), which is also how the arrow shorthand `"a -> b -> c"` works. A `parallel`
group runs its steps concurrently; its output is an object of its steps' outputs by name.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .errors import ChainError, ConfigError, N3Error
from .llm import LLMRequest
from .schema import ARROW_TARGET_KINDS, STEP_KINDS, STEP_TARGET_KINDS
from .template import render, render_value, to_text, truthy
from .values import Ref, Step

UNSET = object()
RESERVED = ("input", "steps", "env")
_INFER_ORDER = ("prompt", "agent", "tool", "chain", "llm", "template")


@dataclass(eq=False)
class PlanStep:
    """A step after `App.finalize`: its kind known and its target resolved."""

    name: str
    kind: str | None
    target: object = None
    input: object = UNSET
    output: str | None = None
    when: object = None
    template: str | None = None
    parallel: list = field(default_factory=list)
    loc: object = None


class ChainRun:
    """The state of one run of a chain: the template context and which steps were skipped."""

    def __init__(self, value):
        self.context = {"input": value, "steps": {}}
        self.skipped: set = set()

    def record(self, step: PlanStep, output) -> None:
        """Make `output` visible to later steps (None for a skipped step, so it reads as null)."""
        self.context["steps"][step.name] = output
        if step.output:
            self.context[step.output] = output


class Chain:
    """A declared chain."""

    kind = "chain"

    def __init__(self, name: str, config: dict, loc=None):
        self.name, self.config, self.loc = name, config, loc
        self.steps: list[PlanStep] = []
        self.problem: N3Error | None = None

    async def run(self, value=None):
        """Run the steps in order; the result is the output of the last step that ran."""
        if self.problem is not None:
            raise self.problem
        run = ChainRun(value)
        previous, result = value, None
        for step in self.steps:
            output = await self.run_step(step, run, previous)
            if step in run.skipped:
                continue
            previous = result = output
        return result

    async def run_step(self, step: PlanStep, run: ChainRun, previous=None):
        """Run one step (or one parallel group) and record its output."""
        try:
            if step.when is not None and not truthy(render_value(step.when, run.context)):
                run.skipped.add(step)
                run.record(step, None)
                return None
            if step.parallel:
                outputs = await asyncio.gather(
                    *(self.run_step(child, run, previous) for child in step.parallel))
                output = {child.name: out for child, out in zip(step.parallel, outputs)
                          if child not in run.skipped}
            else:
                value = previous if step.input is UNSET else render_value(step.input, run.context)
                output = await self._execute(step, value, run)
        except N3Error as err:
            if err.kind is None:
                err.message = f"step '{step.name}': {err.message}"
            raise err.attach("chain", self.name, step.loc or self.loc)
        run.record(step, output)
        return output

    async def _execute(self, step: PlanStep, value, run: ChainRun):
        target, kind = step.target, step.kind
        if kind in ("prompt", "agent", "chain"):
            return await target.run(value)
        if kind == "tool":
            return await target.call(tool_arguments(target, value))
        if kind == "llm":
            if isinstance(value, dict) and isinstance(value.get("messages"), list):
                messages = value["messages"]
            else:
                messages = [{"role": "user", "content": to_text(value)}]
            return (await target.complete(LLMRequest(messages))).text
        if kind == "template":
            context = dict(run.context)
            if step.input is not UNSET and isinstance(value, dict):
                context.update(value)
            return render(step.template, context)
        raise ChainError(f"step '{step.name}' has unknown kind {kind!r}")

    def __repr__(self) -> str:
        return f"<chain {self.name}>"


def unique_step_name(base: str, taken: set) -> str:
    """`base`, or `base_2`, `base_3`... : the name a step gets in its chain (the build's
    site table names steps the same way, so keep the two in step)."""
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def tool_arguments(tool, value) -> dict:
    """Arguments for a tool step: an object as is, a lone value for a one-argument tool."""
    if isinstance(value, dict):
        return value
    names = list((tool.parameters.get("properties") or {}))
    if len(names) == 1:
        return {names[0]: value}
    return {"input": value}


class StepBuilder:
    """Turns a chain's `steps` value into PlanSteps, resolving targets through `lookup`.

    `lookup(name, kinds)` returns `(kind, component)` for the first kind in `kinds` that
    declares `name`, or None.
    """

    def __init__(self, chain: Chain, lookup):
        self.chain, self.lookup = chain, lookup
        self.names: set = set()

    def fail(self, message: str, loc=None, hint: str | None = None) -> ConfigError:
        return ConfigError(message, hint=hint, kind="chain", name=self.chain.name,
                           loc=loc or self.chain.loc)

    def build(self, steps) -> list[PlanStep]:
        if steps is None:
            raise self.fail("a chain needs steps", hint='add steps: [ ... ] or steps: "a -> b"')
        if isinstance(steps, (str, Ref)):
            return [self._arrow(name.strip()) for name in str(steps).split("->")]
        if not isinstance(steps, list) or not steps:
            raise self.fail("steps must be a non-empty list or an arrow string like \"a -> b\"")
        return [self._one(item) for item in steps]

    def _unique(self, base: str) -> str:
        return unique_step_name(base, self.names)

    def _arrow(self, name: str, loc=None) -> PlanStep:
        if not name:
            raise self.fail("empty name in arrow steps", loc, hint='write steps: "a -> b -> c"')
        found = self.lookup(name, ARROW_TARGET_KINDS)
        if found is None:
            raise self.fail(f"step '{name}' is not a declared "
                            f"{', '.join(ARROW_TARGET_KINDS[:-1])} or {ARROW_TARGET_KINDS[-1]}", loc)
        kind, component = found
        return PlanStep(self._unique(name), kind, component, loc=loc)

    def _one(self, item) -> PlanStep:
        if isinstance(item, (str, Ref)):
            return self._arrow(str(item).strip())
        if isinstance(item, Step):
            props, loc = item.props, item.loc
        elif isinstance(item, dict):
            props, loc = item, None
        else:
            raise self.fail(f"a step must be an object or a name, got {type(item).__name__}")
        if "parallel" in props:
            children = props["parallel"]
            if not isinstance(children, list) or not children:
                raise self.fail("parallel must be a non-empty list of steps", loc)
            return PlanStep(self._unique(str(props.get("name") or "parallel")), None,
                            parallel=[self._one(child) for child in children],
                            when=props.get("when"), output=self._output(props, loc), loc=loc)
        kind = props.get("kind")
        if kind is not None and kind not in STEP_KINDS:
            raise self.fail(f"unknown step kind {kind!r}", loc,
                            hint=f"use one of {', '.join(STEP_KINDS)}")
        target_name = props.get("target")
        component = None
        if target_name is not None:
            target_name = str(target_name)
            kinds = STEP_TARGET_KINDS[kind] if kind else _INFER_ORDER
            found = self.lookup(target_name, kinds)
            if found is None:
                what = " or ".join(kinds) if kind else "component"
                raise self.fail(f"step target '{target_name}' is not a declared {what}", loc)
            target_kind, component = found
            kind = kind or target_kind
        elif kind != "template":
            raise self.fail("a step needs a target (or kind: \"template\" with a template)", loc)
        template, value = None, props.get("input", UNSET)
        if kind == "template":
            template = props.get("template")
            if template is None and isinstance(component, dict):
                template = component.get("template", component.get("content"))
            if template is None and component is None and isinstance(value, str):
                # A template step with neither target nor template renders its own input,
                # once: rendering it as input and again as template would expand text
                # that earlier outputs put there.
                template, value = value, UNSET
            if not isinstance(template, str):
                raise self.fail("a template step needs a template string", loc,
                                hint='add template: "...", or give it input: "text with {{steps.NAME}}"')
        name = self._unique(str(props.get("name") or target_name or "template"))
        return PlanStep(name, kind, component, value,
                        self._output(props, loc), props.get("when"), template, loc=loc)

    def _output(self, props: dict, loc):
        output = props.get("output")
        if output is None:
            return None
        if not isinstance(output, str) or output in RESERVED:
            raise self.fail(f"output name {output!r} is not allowed", loc,
                            hint=f"choose a name other than {', '.join(RESERVED)}")
        return output
