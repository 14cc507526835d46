"""Instrument a user's own Python module (a python tool) for an instrumented build.

Every function and method becomes a span of component `python`, named by its qualname
and located at its `def` line. The user's own `span` and `marker` calls from
`n3core.tracing` become direct calls with static sites: `with span("x"):` turns into the
same enter/try/exit shape as a traced function, `marker("x", k=v)` into one instant call,
and `@span` decorators are dropped in favour of the function's own span. The original
file is never modified; the build carries the rewritten copy and loads it in its place.
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from n3core.tracing.format import Site

from ..errors import UsageError
from .transform import PREFIX, Point, _add_import, _call, _core, instrument_source

USER_NAMES = ("span", "marker")


@dataclass
class UserModule:
    name: str  # the module name the program imports it by
    code: str
    sites: list[Site] = field(default_factory=list)
    source: str = ""  # what the user wrote


def instrument_user_module(path: str, module: str, first_site: int, hooks_module: str) -> UserModule:
    """Rewrite the module at `path`; its sites are numbered from `first_site`."""
    source = _read(path)
    display = os.path.basename(path)
    wrapper = MetadataWrapper(_parse(source, path))
    finder = _Finder(display, module)
    wrapper.visit(finder)
    sites: list[Site] = []

    def new_site(event: str, kind: str, name: str, line: int, column: int) -> int:
        sites.append(Site(first_site + len(sites), event, "python", name, display, line, column,
                          ("return",) if event == "python_call" else (), kind=kind,
                          target=f"{module}:{name}"))
        return sites[-1].id

    markers = {key: new_site("performance_marker", "instant", name, line, col)
               for key, (name, line, col) in finder.markers.items()}
    blocks = {key: new_site("user_span", "span", name, line, col)
              for key, (name, line, col) in finder.blocks.items()}
    rewritten = wrapper.module.visit(_UserCalls(finder.local_names, markers, blocks, finder.positions))
    code = rewritten.code if (markers or blocks) else source
    points = [Point(qualname, str(new_site("python_call", "span", qualname, line, col)), capture_return=True)
              for qualname, (line, col) in finder.functions.items()]
    result = instrument_source(code, points, hooks_module)
    code = result.code
    if (markers or blocks) and not result.applied:
        code = _add_import(cst.parse_module(code), hooks_module, source=code).code
    return UserModule(module, code, sites, source)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise UsageError(f"--instrument-module {path}: byte {exc.start} is not UTF-8; save the module "
                         "as UTF-8 or leave it out of --instrument-module.") from None
    except OSError as exc:
        raise UsageError(f"--instrument-module {path}: cannot read it ({exc.strerror}); give the path "
                         "of a readable .py module.") from None


def _parse(source: str, path: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        line, column, what = exc.raw_line, exc.raw_column + 1, " ".join(exc.message.split())
        try:  # Python's own parser places and words most errors better
            ast.parse(source, path)
        except SyntaxError as error:
            line, column, what = error.lineno or line, error.offset or column, error.msg
        except ValueError:
            pass
        raise UsageError(
            f"--instrument-module {path}:{line}:{column}: the module is not valid "
            f"Python ({what}), so it cannot be traced. Fix the code at that line (python -m py_compile "
            f"{path} shows the same error), or leave the module out of --instrument-module."
        ) from None


class _Finder(cst.CSTVisitor):
    """Collects functions, and the `span`/`marker` uses, with their positions."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, display: str, module: str):
        self.scope: list[tuple[str, bool]] = []
        self.functions: dict[str, tuple[int, int]] = {}
        self.markers: dict[tuple[int, int], tuple[str, int, int]] = {}
        self.blocks: dict[tuple[int, int], tuple[str, int, int]] = {}
        self.positions: dict[int, tuple[int, int]] = {}
        self.local_names: dict[str, str] = {}

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = cst.Module([]).code_for_node(node.module) if node.module else ""
        if module == "n3core.tracing" and not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                if alias.name.value in USER_NAMES:
                    local = alias.asname.name.value if alias.asname else alias.name.value
                    self.local_names[local] = alias.name.value

    def visit_ClassDef(self, node) -> None:
        self.scope.append((node.name.value, False))

    def leave_ClassDef(self, node) -> None:
        self.scope.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scope.append((node.name.value, True))
        parts = []
        for index, (name, is_function) in enumerate(self.scope):
            parts.append(name)
            if is_function and index < len(self.scope) - 1:
                parts.append("<locals>")
        pos = self.get_metadata(PositionProvider, node).start
        self.functions[".".join(parts)] = (pos.line, pos.column + 1)

    def leave_FunctionDef(self, node) -> None:
        self.scope.pop()

    def visit_Call(self, node: cst.Call) -> None:
        user = self._user_name(node)
        if user is None:
            return
        pos = self.get_metadata(PositionProvider, node).start
        key = (pos.line, pos.column)
        self.positions[id(node)] = key
        name = _literal_name(node) or f"{user}@{pos.line}"
        target = self.markers if user == "marker" else self.blocks
        target[key] = (name, pos.line, pos.column + 1)

    def _user_name(self, node: cst.Call) -> str | None:
        if isinstance(node.func, cst.Name):
            return self.local_names.get(node.func.value)
        return None


def _literal_name(call: cst.Call) -> str | None:
    if call.args and call.args[0].keyword is None and isinstance(call.args[0].value, cst.SimpleString):
        return call.args[0].value.evaluated_value
    return None


def _fields(call: cst.Call, with_name: str) -> cst.Dict:
    elements = [cst.DictElement(cst.SimpleString("'name'"), cst.SimpleString(repr(with_name)))]
    for arg in call.args:
        if arg.keyword is not None:
            elements.append(cst.DictElement(cst.SimpleString(repr(arg.keyword.value)), arg.value))
    return cst.Dict(elements)


class _UserCalls(cst.CSTTransformer):
    def __init__(self, local_names, markers, blocks, positions):
        super().__init__()
        self.local_names, self.markers, self.blocks, self.positions = local_names, markers, blocks, positions
        self.depth = 0

    def _key(self, node):
        return self.positions.get(id(node))

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        key = self._key(original)
        if key in self.markers:
            name = _literal_name(original) or "marker"
            return _core("instant", cst.Integer(str(self.markers[key])), _fields(original, name))
        return updated

    def leave_Decorator(self, original: cst.Decorator, updated: cst.Decorator):
        target = original.decorator
        call = target if isinstance(target, cst.Call) else None
        name = (call.func if call else target)
        if isinstance(name, cst.Name) and self.local_names.get(name.value) == "span":
            return cst.RemoveFromParent()  # the function is traced as a span of its own
        return updated

    def leave_With(self, original: cst.With, updated: cst.With):
        if len(original.items) != 1 or not isinstance(original.items[0].item, cst.Call):
            return updated
        key = self._key(original.items[0].item)
        if key not in self.blocks or original.items[0].asname is not None:
            return updated
        self.depth += 1
        token = cst.Name(f"{PREFIX}u{self.depth}")
        call = original.items[0].item
        enter = cst.SimpleStatementLine([cst.Assign(
            [cst.AssignTarget(token)],
            _core("enter", cst.Integer(str(self.blocks[key])), _fields(call, _literal_name(call) or "span")),
        )])
        handler = cst.ExceptHandler(
            body=cst.IndentedBlock([
                cst.SimpleStatementLine([cst.Expr(_call("fail", token, cst.Name(f"{PREFIX}e")))]),
                cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(token)], cst.Name("None"))]),
                cst.SimpleStatementLine([cst.Raise()]),
            ]),
            type=cst.Name("BaseException"), name=cst.AsName(cst.Name(f"{PREFIX}e")),
        )
        # `finally` rather than `else`: a return or break inside the block must close it too.
        closing = cst.Finally(cst.IndentedBlock([
            cst.SimpleStatementLine([cst.Expr(_core("exit", token, cst.Name("None")))])
        ]))
        inner = cst.Try(body=updated.body, handlers=[handler], finalbody=closing)
        return cst.FlattenSentinel([enter, inner])
