"""The libcst rewrite that turns a function into a traced one, as a pure source-to-source step.

A span tracepoint opens its span before the body, wraps the body in a `try` whose handler
records the exception and re-raises, and closes the span on each `return` and on falling
off the end; tests/test_instrument_rewrites.py holds every shape as a before/after pair.
A plain function opens its span with `enter_sync` (no context-variable update: it cannot
switch tasks while it runs); a coroutine, generator or async generator with `enter`.
Wrapping the body in place, rather than wrapping the function from outside, keeps
generators, async generators, methods, `super()`, decorators and signatures exactly as
they were: a generator's span covers its consumer's iteration, and an early return or a
return inside `try/finally` closes the span once. Generated names start with `_n3__`
(a single underscore, so class-private name mangling leaves them alone). The generated
lines move the user's lines down; `positions` records where each came from, and builds
compile through `mapped_import`, so tracebacks still name the user's lines.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

PREFIX = "_n3__"
HOOKS = ("fail", "answer", "MISS", "request")  # imported by name; span calls are looked up on `hooks`


@dataclass(frozen=True)
class Point:
    """One tracepoint inside one module, already resolved to site expressions."""

    qualname: str
    site: str  # a Python expression giving the site id (an int literal or a lookup)
    kind: str = "span"  # "span" or "instant"
    args: tuple[str, ...] = ()  # argument names (or name=expression pairs) captured on entry
    capture_return: bool = False
    boundary: bool = False  # a replay may answer this call instead of running it


@dataclass
class Result:
    code: str
    applied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def instrument_source(
    source: str, points: list[Point], hooks_module: str, prelude: tuple[str, ...] = ()
) -> Result:
    """Rewrite `source` so every point becomes direct calls into `hooks_module`.

    `prelude` statements (site lookup tables) are placed right after the hooks import.
    """
    module = cst.parse_module(source)
    by_name = {point.qualname: point for point in points}
    transformer = _Tracepoints(by_name)
    module = module.visit(transformer)
    if transformer.applied:
        module = _add_import(module, hooks_module, prelude, source)
    missing = [name for name in by_name if name not in transformer.applied]
    return Result(module.code, transformer.applied, missing)


def _name(suffix: str) -> cst.Name:
    return cst.Name(PREFIX + suffix)


def _call(hook: str, *args: cst.BaseExpression) -> cst.Call:
    return cst.Call(_name(hook), [cst.Arg(a) for a in args])


def _core(function: str, *args: cst.BaseExpression) -> cst.Call:
    """A call straight into the running core, looked up on `hooks` at each call because
    `session.start` binds these names to the core it chose."""
    return cst.Call(cst.Attribute(_name("hooks"), cst.Name(function)), [cst.Arg(a) for a in args])


def _payload(args: tuple[str, ...]) -> cst.BaseExpression:
    if not args:
        return cst.Name("None")
    elements = []
    for arg in args:
        key, _, expr = arg.partition("=")
        elements.append(cst.DictElement(
            cst.SimpleString(repr(key.strip())), cst.parse_expression(expr.strip() or key.strip())
        ))
    return cst.Dict(elements)


def _when_tracing(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`expr if a tracer runs else None`: with tracing off no call is made, no dict is built."""
    return cst.IfExp(
        test=cst.parse_expression(f"{PREFIX}hooks.tracer is not None"),
        body=expr, orelse=cst.Name("None"),
    )


class _Tracepoints(cst.CSTTransformer):
    def __init__(self, points: dict[str, Point]):
        super().__init__()
        self.points = points
        self.scope: list[tuple[str, bool]] = []  # (name, is a function)
        self.applied: list[str] = []

    def _qualname(self) -> str:
        """Named like Python's __qualname__: `outer.<locals>.inner`, `Class.method`."""
        parts = []
        for index, (name, is_function) in enumerate(self.scope):
            parts.append(name)
            if is_function and index < len(self.scope) - 1:
                parts.append("<locals>")
        return ".".join(parts)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scope.append((node.name.value, False))

    def leave_ClassDef(self, original, updated):
        self.scope.pop()
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scope.append((node.name.value, True))

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        qualname = self._qualname()
        self.scope.pop()
        point = self.points.get(qualname)
        if point is None:
            return updated
        self.applied.append(qualname)
        return _instrument_function(updated, point)


def _instrument_function(func: cst.FunctionDef, point: Point) -> cst.FunctionDef:
    body = func.body
    if isinstance(body, cst.SimpleStatementSuite):
        body = cst.IndentedBlock([cst.SimpleStatementLine(body.body)])
    statements = list(body.body)
    docstring = []
    if statements and _is_docstring(statements[0]):
        docstring, statements = statements[:1], statements[1:]
    site = cst.parse_expression(point.site)
    if point.kind == "instant":
        probe = cst.SimpleStatementLine([cst.Expr(_when_tracing(_core("instant", site, _payload(point.args))))])
        return func.with_changes(body=body.with_changes(body=[*docstring, probe, *statements]))

    is_generator = _contains_yield(statements)
    is_async_gen = func.asynchronous is not None and is_generator
    # A plain function cannot switch tasks while it runs, so its span needs no
    # context-variable update; coroutines, generators and async generators can be
    # suspended inside their span and keep `enter`.
    opener = "enter_sync" if func.asynchronous is None and not is_generator else "enter"
    returns = _Returns(point.capture_return, is_async_gen)
    inner = cst.IndentedBlock([s.visit(returns) for s in statements] or [cst.SimpleStatementLine([cst.Pass()])])
    token = _name("t")
    payload = _payload(point.args)
    prologue = []
    if point.boundary:  # the payload is built once: recorded, and offered to a replay
        prologue = [
            cst.parse_statement(f"{PREFIX}p = {cst.Module([]).code_for_node(_when_tracing(_call('request', payload)))}"),
            cst.parse_statement(f"{PREFIX}a = {PREFIX}answer({PREFIX}t, {PREFIX}p)"),
            cst.parse_statement(
                f"if {PREFIX}a is not {PREFIX}MISS:\n    return {PREFIX}hooks.exit_value({PREFIX}t, {PREFIX}a)\n"
            ),
        ]
        payload = _name("p")
    enter = cst.SimpleStatementLine([cst.Assign(
        [cst.AssignTarget(token)], _when_tracing(_core(opener, site, payload))
    )])
    handler = cst.ExceptHandler(
        body=cst.IndentedBlock([
            cst.SimpleStatementLine([cst.Expr(_call("fail", token, _name("e")))]),
            cst.SimpleStatementLine([cst.Raise()]),
        ]),
        type=cst.Name("BaseException"),
        name=cst.AsName(_name("e")),
    )
    orelse = cst.Else(cst.IndentedBlock([
        cst.parse_statement(f"if {PREFIX}t is not None:\n    {PREFIX}hooks.exit({PREFIX}t, None)\n")
    ]))
    if prologue:
        inner = inner.with_changes(body=[*prologue[1:], *inner.body])
    wrapped = cst.Try(body=inner, handlers=[handler], orelse=orelse)
    return func.with_changes(body=body.with_changes(body=[*docstring, *prologue[:1], enter, wrapped]))


def _is_docstring(statement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


class _OwnScope(cst.CSTTransformer):
    """Visits a function's own statements, not those of nested functions, classes or lambdas."""

    def visit_FunctionDef(self, node) -> bool:
        return False

    def visit_ClassDef(self, node) -> bool:
        return False

    def visit_Lambda(self, node) -> bool:
        return False


class _YieldFinder(_OwnScope):
    def __init__(self):
        self.found = False

    def visit_Yield(self, node) -> bool:
        self.found = True
        return False


def _contains_yield(statements) -> bool:
    finder = _YieldFinder()
    for statement in statements:
        statement.visit(finder)
    return finder.found


class _Returns(_OwnScope):
    """Make every `return` of the function close its span first."""

    def __init__(self, capture: bool, async_generator: bool):
        super().__init__()
        self.hook = "exit_value" if capture else "exit_returning"
        self.async_generator = async_generator

    def leave_Return(self, original: cst.Return, updated: cst.Return):
        token = _name("t")
        if self.async_generator:  # `return` takes no value there: close, then return.
            return cst.FlattenSentinel([cst.Expr(_core("exit", token, cst.Name("None"))), updated])
        value = updated.value if updated.value is not None else cst.Name("None")
        if not value.lpar:  # `return a, b` or `return x if c else y` must stay one operand
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        # Only one branch runs, so the value is computed exactly once either way.
        return updated.with_changes(value=cst.IfExp(
            test=cst.Comparison(token, [cst.ComparisonTarget(cst.Is(), cst.Name("None"))]),
            body=value, orelse=_core(self.hook, token, value),
        ))


def _add_import(module: cst.Module, hooks_module: str, prelude=(), source=None) -> cst.Module:
    """Add the hooks' imports as libcst's AddImportsVisitor places them, then put the
    `prelude` statements right after the hooks import.

    The visitor walks the whole tree (most of an instrumented build's time) to merge new
    names into imports already there; a module whose `source` never names the hooks'
    package has none, so the imports are placed directly, to the same text.
    """
    package, _, name = hooks_module.rpartition(".")
    if source is None or package in source:
        from libcst.codemod import CodemodContext  # a quarter of a second to import
        from libcst.codemod.visitors import AddImportsVisitor

        context = CodemodContext()
        for hook in HOOKS:
            AddImportsVisitor.add_needed_import(context, hooks_module, hook, PREFIX + hook)
        AddImportsVisitor.add_needed_import(context, package, name, f"{PREFIX}{name}")
        module = AddImportsVisitor(context).transform_module(module)
    else:
        names = {hooks_module: sorted(HOOKS), package: [name]}  # sorted, as the visitor does
        module = _placed(module, [
            f"from {where} import " + ", ".join(f"{n} as {PREFIX}{n}" for n in names[where])
            for where in sorted(names)])
    if not prelude:
        return module
    body = list(module.body)
    index = next(i for i, statement in enumerate(body) if _imports_from(statement, hooks_module)) + 1
    body[index:index] = [cst.parse_statement(text) for text in prelude]
    return module.with_changes(body=body)


def _placed(module: cst.Module, imports: list) -> cst.Module:
    """`imports` after the module's docstring and first block of imports, with an empty line
    before what follows, where AddImportsVisitor would put them."""
    body = list(module.body)
    start = 1 if body and _docstring(body[0]) else 0
    end = start
    while end < len(body) and _one_import(body[end]):
        end += 1
    after = body[end:]
    if after and not after[0].leading_lines:
        after[0] = after[0].with_changes(leading_lines=(cst.EmptyLine(),))
    elif after and after[0].leading_lines[0].comment is not None:
        after[0] = after[0].with_changes(leading_lines=(cst.EmptyLine(), *after[0].leading_lines))
    config = module.config_for_parsing
    return module.with_changes(body=[*body[:end], *(cst.parse_statement(text, config=config)
                                                   for text in imports), *after])


def _docstring(statement) -> bool:
    """A first statement AddImportsVisitor never puts imports before."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Expr):
        return isinstance(small.value, cst.SimpleString)
    return (isinstance(small, cst.Assign) and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
            and small.targets[0].target.value == "__strict__")


def _one_import(statement) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], (cst.Import, cst.ImportFrom)))


def _imports_from(statement, module: str) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.ImportFrom)
        and statement.body[0].module is not None
        and cst.Module([]).code_for_node(statement.body[0].module) == module
    )
