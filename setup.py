"""Build the optional Cython cores (the tracing ring and reader, the analysis pass).

The extensions are optional, as in coverage.py: if compiling fails (no compiler, no
headers) the install goes on without them and the pure-Python twins are used, which say so
at run time. The install itself says so once, however many extensions failed. Set
N3TRACE_NO_EXTENSION=1 to skip the build on purpose.
"""
import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

FALLBACK = ("WARNING: the compiled cores could not be built ({why}); the pure-Python cores "
            "will be used (same results, slower). Install a C compiler and the Python headers "
            "to get them.\n")


class OptionalBuildExt(build_ext):
    """Treat failed compiles as one warning so the pure-Python cores still install."""

    def run(self):
        self.failures = []
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure falls back
            self.failures.append(exc)
        if self.failures:
            sys.stderr.write(FALLBACK.format(why=self.failures[0]))

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self.failures.append(exc)


def extensions():
    if os.environ.get("N3TRACE_NO_EXTENSION"):
        return []
    # Each group is translated on its own, so a Cython error in one core (the tracing
    # core, the analysis core) leaves the other built; each has its pure-Python twin.
    groups = [sorted(glob.glob("n3core/tracing/*.pyx")),
              sorted(glob.glob("analyzer/*.pyx") + glob.glob("analyzer/replay/*.pyx"))]
    groups = [g for g in groups if g]
    if not groups:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        sys.stderr.write(FALLBACK.format(why="Cython is not installed"))
        return []
    found = []
    for sources in groups:
        try:
            found += cythonize(
                sources,
                language_level=3,
                compiler_directives={"boundscheck": False, "wraparound": False,
                                     "cdivision": True},
                quiet=True,
            )
        except Exception as exc:  # noqa: BLE001 - a Cython error must not stop the install
            sys.stderr.write(FALLBACK.format(why=exc))
    return found


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
