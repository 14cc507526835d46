"""Build the optional Cython tracing core.

The extension is optional, as in coverage.py: if compiling fails (no compiler, no headers)
the install goes on without it and the pure-Python twin is used, which says so at run time.
Set N3TRACE_NO_EXTENSION=1 to skip the build on purpose.
"""
import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Treat a failed compile as a warning so the pure-Python core still installs."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure falls back
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc)

    @staticmethod
    def _warn(exc):
        sys.stderr.write(
            f"WARNING: the Cython tracing core could not be built ({exc}); "
            "the pure-Python core will be used.\n"
        )


def extensions():
    if os.environ.get("N3TRACE_NO_EXTENSION"):
        return []
    # Each group is translated on its own, so a Cython error in one core (the tracing
    # core, the analysis core) leaves the other built; each has its pure-Python twin.
    groups = [sorted(glob.glob("n3core/tracing/*.pyx")), sorted(glob.glob("analyzer/*.pyx"))]
    groups = [g for g in groups if g]
    if not groups:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        sys.stderr.write("WARNING: Cython is not installed; building without the C core.\n")
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
            OptionalBuildExt._warn(exc)
    return found


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
