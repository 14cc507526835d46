"""Every rewrite of the pass as a pair of source strings, before and after.

The zoo in test_instrument_transform pins what the rewritten code does; these pairs pin
what it looks like, so a change to the generated shape shows up here as a readable diff.
"""
import textwrap

import pytest

from n3instrument.instrument.build_pass import rewrite_program
from n3instrument.instrument.positions import line_runs
from n3instrument.instrument.transform import Point, instrument_source
from n3instrument.instrument.user_module import instrument_user_module

HOOKS = "n3core.tracing.hooks"
IMPORTS = """\
from n3core.tracing import hooks as _n3__hooks
from n3core.tracing.hooks import MISS as _n3__MISS, answer as _n3__answer, fail as _n3__fail, request as _n3__request
"""
HANDLER = """\
    except BaseException as _n3__e:
        _n3__fail(_n3__t, _n3__e)
        raise
    else:
        if _n3__t is not None:
            _n3__hooks.exit(_n3__t, None)
"""


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


PAIRS = {
    "sync function, docstring kept first, arguments and return captured": (
        dedent('''
            def add(a, b):
                """Adds."""
                total = a + b
                return total
        '''),
        [Point("add", "3", args=("a", "b"), capture_return=True)],
        IMPORTS + "\n" + dedent('''
            def add(a, b):
                """Adds."""
                _n3__t = _n3__hooks.enter_sync(3, {'a': a, 'b': b}) if _n3__hooks.tracer is not None else None
                try:
                    total = a + b
                    return (total) if _n3__t is None else _n3__hooks.exit_value(_n3__t, (total))
        ''') + HANDLER,
    ),
    "coroutine opens with enter, return value not captured": (
        dedent('''
            async def fetch(url):
                await wait()
                return url
        '''),
        [Point("fetch", "4")],
        IMPORTS + "\n" + dedent('''
            async def fetch(url):
                _n3__t = _n3__hooks.enter(4, None) if _n3__hooks.tracer is not None else None
                try:
                    await wait()
                    return (url) if _n3__t is None else _n3__hooks.exit_returning(_n3__t, (url))
        ''') + HANDLER,
    ),
    "generator: the span covers the consumer's iteration": (
        dedent('''
            def count(n):
                for i in range(n):
                    yield i
        '''),
        [Point("count", "5")],
        IMPORTS + "\n" + dedent('''
            def count(n):
                _n3__t = _n3__hooks.enter(5, None) if _n3__hooks.tracer is not None else None
                try:
                    for i in range(n):
                        yield i
        ''') + HANDLER,
    ),
    "async generator: a bare return closes the span first": (
        dedent('''
            async def stream(n):
                for i in range(n):
                    yield i
                    if i > 3:
                        return
        '''),
        [Point("stream", "6")],
        IMPORTS + "\n" + dedent('''
            async def stream(n):
                _n3__t = _n3__hooks.enter(6, None) if _n3__hooks.tracer is not None else None
                try:
                    for i in range(n):
                        yield i
                        if i > 3:
                            _n3__hooks.exit(_n3__t, None); return
        ''') + HANDLER,
    ),
    "method with a per-declaration site lookup": (
        dedent('''
            class Tool:
                def call(self, x):
                    return x
        '''),
        [Point("Tool.call", "_n3__sites.get(self.name, 7)", args=("x",))],
        IMPORTS + "\n" + dedent('''
            class Tool:
                def call(self, x):
                    _n3__t = _n3__hooks.enter_sync(_n3__sites.get(self.name, 7), {'x': x}) if _n3__hooks.tracer is not None else None
                    try:
                        return (x) if _n3__t is None else _n3__hooks.exit_returning(_n3__t, (x))
        ''') + textwrap.indent(HANDLER, "    "),
    ),
    "early return: every return closes the span": (
        dedent('''
            def sign(x):
                if x < 0:
                    return -1
                return 1
        '''),
        [Point("sign", "8", capture_return=True)],
        IMPORTS + "\n" + dedent('''
            def sign(x):
                _n3__t = _n3__hooks.enter_sync(8, None) if _n3__hooks.tracer is not None else None
                try:
                    if x < 0:
                        return (-1) if _n3__t is None else _n3__hooks.exit_value(_n3__t, (-1))
                    return (1) if _n3__t is None else _n3__hooks.exit_value(_n3__t, (1))
        ''') + HANDLER,
    ),
    "return inside try/finally: the user's finally stays inside the span": (
        dedent('''
            def close(f):
                try:
                    return f.read()
                finally:
                    f.close()
        '''),
        [Point("close", "9")],
        IMPORTS + "\n" + dedent('''
            def close(f):
                _n3__t = _n3__hooks.enter_sync(9, None) if _n3__hooks.tracer is not None else None
                try:
                    try:
                        return (f.read()) if _n3__t is None else _n3__hooks.exit_returning(_n3__t, (f.read()))
                    finally:
                        f.close()
        ''') + HANDLER,
    ),
    "returned lambda stays one operand, its body untouched": (
        dedent('''
            def make(x):
                return lambda: x
        '''),
        [Point("make", "10")],
        IMPORTS + "\n" + dedent('''
            def make(x):
                _n3__t = _n3__hooks.enter_sync(10, None) if _n3__hooks.tracer is not None else None
                try:
                    return (lambda: x) if _n3__t is None else _n3__hooks.exit_returning(_n3__t, (lambda: x))
        ''') + HANDLER,
    ),
    "boundary: the payload is built once and offered to a replay (answer/MISS)": (
        dedent('''
            def ask(q):
                return reply(q)
        '''),
        [Point("ask", "11", args=("q",), capture_return=True, boundary=True)],
        IMPORTS + "\n" + dedent('''
            def ask(q):
                _n3__p = _n3__request({'q': q}) if _n3__hooks.tracer is not None else None
                _n3__t = _n3__hooks.enter_sync(11, _n3__p) if _n3__hooks.tracer is not None else None
                try:
                    _n3__a = _n3__answer(_n3__t, _n3__p)
                    if _n3__a is not _n3__MISS:
                        return _n3__hooks.exit_value(_n3__t, _n3__a)
                    return (reply(q)) if _n3__t is None else _n3__hooks.exit_value(_n3__t, (reply(q)))
        ''') + HANDLER,
    ),
    "instant: one guarded call before the body": (
        dedent('''
            def tick(n):
                n += 1
        '''),
        [Point("tick", "12", kind="instant", args=("n",))],
        IMPORTS + "\n" + dedent('''
            def tick(n):
                _n3__hooks.instant(12, {'n': n}) if _n3__hooks.tracer is not None else None
                n += 1
        '''),
    ),
    "imports go after the docstring, future imports and the module's own imports": (
        dedent('''
            """A module."""
            from __future__ import annotations

            import os

            def f():
                return os.sep
        '''),
        [Point("f", "2")],
        dedent('''
            """A module."""
            from __future__ import annotations

            import os
        ''') + IMPORTS + "\n" + dedent('''
            def f():
                _n3__t = _n3__hooks.enter_sync(2, None) if _n3__hooks.tracer is not None else None
                try:
                    return (os.sep) if _n3__t is None else _n3__hooks.exit_returning(_n3__t, (os.sep))
        ''') + HANDLER,
    ),
}


@pytest.mark.parametrize("name", PAIRS)
def test_rewrite(name):
    before, points, after = PAIRS[name]
    result = instrument_source(before, points, HOOKS)
    assert result.code == after
    assert result.missing == []
    compile(result.code, "after.py", "exec")


def test_site_tables_go_right_after_the_hooks_import():
    before = "import os\n\ndef call(self):\n    return 1\n"
    result = instrument_source(before, [Point("call", "_n3__sites_call.get(self.name, 3)")], HOOKS,
                               prelude=("_n3__sites_call = {'a': 4}",))
    assert result.code.startswith("import os\n" + IMPORTS + "_n3__sites_call = {'a': 4}\n\ndef call(self):\n")


USER_BEFORE = dedent('''
    from n3core.tracing import marker, span


    def search(q):
        with span("lookup", q=q):
            hits = find(q)
        marker("found", n=len(hits))
        return hits
''')

USER_AFTER = dedent('''
    from n3core.tracing import hooks as _n3__hooks, marker, span
    from n3core.tracing.hooks import MISS as _n3__MISS, answer as _n3__answer, fail as _n3__fail, request as _n3__request


    def search(q):
        _n3__t = _n3__hooks.enter_sync(4, None) if _n3__hooks.tracer is not None else None
        try:
            _n3__u1 = _n3__hooks.enter(3, {'name': 'lookup', 'q': q})
            try:
                hits = find(q)
            except BaseException as _n3__e:
                _n3__fail(_n3__u1, _n3__e)
                _n3__u1 = None
                raise
            finally:
                _n3__hooks.exit(_n3__u1, None)
            _n3__hooks.instant(2, {'name': 'found', 'n': len(hits)})
            return (hits) if _n3__t is None else _n3__hooks.exit_value(_n3__t, (hits))
''') + HANDLER


def test_user_module_span_block_marker_and_function(tmp_path):
    path = tmp_path / "search.py"
    path.write_text(USER_BEFORE)
    user = instrument_user_module(str(path), "search", 2, HOOKS)
    assert user.code == USER_AFTER
    assert [(s.id, s.event_type, s.name, s.line, s.column) for s in user.sites] == [
        (2, "performance_marker", "found", 7, 5), (3, "user_span", "lookup", 5, 10),
        (4, "python_call", "search", 4, 1)]


def test_program_import_becomes_the_traced_start_on_the_same_line():
    before = '"""Doc."""\nfrom n3core import runtime as n3\n\napp = n3.App("A", source=__file__)\n'
    assert rewrite_program(before) == (
        '"""Doc."""\n'
        "from _n3_positions import install as _n3__positions; _n3__positions(__file__); "
        "from n3core.tracing.bootstrap import start_from_build as _n3__start; _n3__start(__file__); "
        "import _n3_runtime as n3\n"
        '\napp = n3.App("A", source=__file__)\n')


def test_line_table_of_the_sync_pair():
    before, points, _ = PAIRS["sync function, docstring kept first, arguments and return captured"]
    after = instrument_source(before, points, HOOKS).code
    runs = line_runs(before, after)
    # user lines 1-3 sit at 4, 5 and 8 (one indent deeper), the return (changed) at 9;
    # the imports, the enter line and the handler belong to the line before them.
    assert [run for run in runs if run[3] is not None] == [[4, 1, 2, 0], [8, 3, 1, 4]]
    whole = {run[0]: run[1] for run in runs if run[3] is None}
    assert whole[9] == 4 and whole[6] == 2 and whole[7] == 2
    assert all(whole[line] == 4 for line in range(10, 16))
