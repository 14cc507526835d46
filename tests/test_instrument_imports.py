"""The hooks' imports are placed where libcst's AddImportsVisitor places them, to the same
text, without its walk over the whole module; a module that already names the hooks'
package keeps going through the visitor, which merges."""
import libcst as cst
import pytest

from n3instrument.instrument.transform import _add_import

HOOKS = "n3core.tracing.hooks"
SHAPES = {
    "empty": "",
    "one statement": "x = 1\n",
    "docstring only": '"""Doc."""\n',
    "docstring then code": '"""Doc."""\nx = 1\n',
    "docstring, imports, code": '"""Doc."""\nimport os\nfrom a import b\n\n\ndef f():\n    return os\n',
    "future import": 'from __future__ import annotations\nimport os\nx = 1\n',
    "imports only": "import os\nimport sys\n",
    "code with a comment first": "import os\n# a comment\nx = 1\n",
    "code with an empty line first": "import os\n\nx = 1\n",
    "import after code": "x = 1\nimport os\n",
    "two imports on one line": "import os; import sys\nx = 1\n",
    "strict flag": "__strict__ = True\nimport os\nx = 1\n",
    "concatenated docstring": '"a" "b"\nimport os\nx = 1\n',
    "f-string first": 'f"{1}"\nimport os\nx = 1\n',
    "class first": "class A:\n    pass\n",
    "comment header": "# header\n# more\nimport os\n\nx = 1\n",
    "windows newlines": 'import os\r\n\r\nx = 1\r\n',
    "relative imports": "from . import a\nfrom .b import c\nx = a\n",
}


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("prelude", [(), ("_n3__sites = {'a': 1}",)])
def test_the_hooks_imports_go_where_the_visitor_puts_them(name, prelude):
    source = SHAPES[name]
    placed = _add_import(cst.parse_module(source), HOOKS, prelude, source).code
    visited = _add_import(cst.parse_module(source), HOOKS, prelude, None).code
    assert placed == visited
    compile(placed, name, "exec")


def test_a_module_naming_the_hooks_package_goes_through_the_visitor_and_merges():
    source = "from n3core.tracing.hooks import MISS as _n3__MISS\nx = 1\n"
    code = _add_import(cst.parse_module(source), HOOKS, (), source).code
    assert code.count("from n3core.tracing.hooks import") == 1
    assert "request as _n3__request" in code and "hooks as _n3__hooks" in code
