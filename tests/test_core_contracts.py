"""Both twins of each core keep one contract: the Protocols in n3core/tracing/contracts.py
and analyzer/contracts.py, which the `.pyi` stubs of the compiled modules repeat.

Checked for the compiled and the Python implementation alike: every name the Protocol
lists is there, every function takes the same parameters (names, kinds, defaults), and
no public function or class is defined outside the contract. A core that is not built
fails here rather than passing unchecked: `make ext` builds it.
"""
from __future__ import annotations

import ast
import inspect
import os

import pytest

from analyzer import contracts as pass_contracts
from analyzer import passcore
from n3core.tracing import contracts, core
from n3core.tracing.format import KIND_START

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Capabilities of the compiled recorder the Python twin has no counterpart for.
COMPILED_ONLY = {"TSC_USABLE", "LAYOUT"}


def members(protocol) -> tuple[dict, set]:
    """(methods by name, data attribute names) the Protocol declares."""
    methods = {name: value for name, value in vars(protocol).items()
               if inspect.isfunction(value) and value.__qualname__.startswith(protocol.__name__)
               and (not name.startswith("_") or name == "__init__")}
    data = set(vars(protocol).get("__annotations__", {}))
    return methods, data


def shape(fn, drop_first: bool) -> list:
    params = list(inspect.signature(fn).parameters.values())
    if drop_first:
        params = params[1:]
    return [(p.name, p.kind, p.default) for p in params]


RINGS = [core.ring_module(name) for name in ("c", "python") if name in core.available()]
READERS = [core.reader_module(name) for name in ("c", "python") if name in core.available()]
PASSES = [passcore.pass_module(name) for name in ("c", "python") if name in passcore.available()]


def test_both_cores_of_each_component_are_built():
    assert len(RINGS) == len(READERS) == len(PASSES) == 2, "run `make ext` to build the cores"


def check_module(module, protocol) -> None:
    methods, data = members(protocol)
    assert isinstance(module, protocol), f"{module.__name__} lacks part of {protocol.__name__}"
    for name, declared in methods.items():
        assert shape(getattr(module, name), False) == shape(declared, True), (module.__name__, name)
    own = {name for name, value in vars(module).items() if not name.startswith("_")
           and (inspect.isroutine(value) or inspect.isclass(value))
           and getattr(value, "__module__", None) == module.__name__}
    assert own <= set(methods) | data | COMPILED_ONLY, f"{module.__name__}: {own - set(methods) - data}"


@pytest.mark.parametrize("module", RINGS, ids=lambda m: m.__name__)
def test_each_ring_module_keeps_the_ring_contract(module):
    check_module(module, contracts.RingCore)


@pytest.mark.parametrize("module", READERS, ids=lambda m: m.__name__)
def test_each_reader_module_keeps_the_reader_contract(module):
    check_module(module, contracts.ReaderCore)


@pytest.mark.parametrize("module", RINGS, ids=lambda m: m.__name__)
def test_each_recorder_and_frame_keep_their_contract(module):
    methods, _ = members(contracts.Recorder)
    init = inspect.signature(methods["__init__"])
    positional = {"chunk_events": 4, "chunk_payload": 256 * 1024 + 300, "slots": 2, "policy": 0}
    keywords = {p.name: p.default for p in init.parameters.values() if p.kind is p.KEYWORD_ONLY}
    recorder = module.Recorder(*positional.values(), **keywords)  # every keyword by its name
    assert list(positional) == [p for p in init.parameters if p not in keywords][1:]
    assert isinstance(recorder, contracts.Recorder)
    for name, declared in methods.items():
        if name != "__init__":
            assert shape(getattr(module.Recorder, name), True) == shape(declared, True), name
    module.install(recorder)
    try:
        token = module.enter(1, None)
        assert isinstance(token, contracts.Frame) and token.site == 1
        module.exit(token, None)
    finally:
        module.uninstall()
    assert recorder.events == 2 and recorder.emit(1, KIND_START, 9, 0, 0, None)


@pytest.mark.parametrize("module", PASSES, ids=lambda m: m.__name__)
def test_each_pass_module_keeps_the_pass_contract(module):
    assert isinstance(module, pass_contracts.PassCore)
    for protocol, cls, instance in [
        (pass_contracts.Pass, module.Pass, None),
        (pass_contracts.Children, module.Children, module.Children()),
        (pass_contracts.Tokens, module.Tokens, module.Tokens()),
    ]:
        methods, data = members(protocol)
        if instance is not None:
            assert isinstance(instance, protocol), cls
        else:
            assert all(hasattr(cls, name) for name in set(methods) | data), cls
        for name, declared in methods.items():
            assert shape(getattr(cls, name), True) == shape(declared, True), (cls, name)
    assert module.Pass.Children is module.Children and module.Pass.Tokens is module.Tokens


def stub(path: str) -> ast.Module:
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        return ast.parse(handle.read())


def stub_shape(node: ast.FunctionDef, drop_first: bool) -> list:
    args = node.args
    rows = [(a.arg, "positional") for a in args.posonlyargs + args.args]
    rows += [(a.arg, "keyword") for a in args.kwonlyargs]
    return rows[1:] if drop_first else rows


def declared_shape(fn) -> list:
    params = list(inspect.signature(fn).parameters.values())[1:]
    return [(p.name, "keyword" if p.kind is p.KEYWORD_ONLY else "positional") for p in params]


def stub_members(body) -> tuple[dict, set]:
    functions = {n.name: n for n in body if isinstance(n, ast.FunctionDef)}
    names = {n.target.id for n in body if isinstance(n, ast.AnnAssign)}
    names |= {n.name for n in body if isinstance(n, ast.ClassDef)}
    return functions, names


@pytest.mark.parametrize("path, protocol, classes", [
    ("n3core/tracing/_ring.pyi", contracts.RingCore, {"Recorder": contracts.Recorder,
                                                      "Frame": contracts.Frame}),
    ("n3core/tracing/_reader.pyi", contracts.ReaderCore, {}),
    ("analyzer/_pass.pyi", pass_contracts.PassCore, {"Pass": pass_contracts.Pass,
                                                     "Children": pass_contracts.Children,
                                                     "Tokens": pass_contracts.Tokens}),
])
def test_the_stubs_say_what_the_contract_says(path, protocol, classes):
    tree = stub(path)
    functions, names = stub_members(tree.body)
    methods, data = members(protocol)
    assert set(functions) == set(methods), path
    assert data <= names and not (names - data - COMPILED_ONLY), (path, names - data)
    for name, declared in methods.items():
        assert stub_shape(functions[name], False) == declared_shape(declared), (path, name)
    for node in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        if node.name not in classes:
            continue
        stub_functions, stub_names = stub_members(node.body)
        class_methods, class_data = members(classes[node.name])
        public = {n for n in stub_functions if not n.startswith("_") or n == "__init__"}
        assert public == set(class_methods), (path, node.name)
        assert class_data <= stub_names, (path, node.name, class_data - stub_names)
        for name, declared in class_methods.items():
            assert stub_shape(stub_functions[name], True) == declared_shape(declared), (path, name)
