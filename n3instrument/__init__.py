"""Build-time half of the toolchain: the `.ai` front end, lowering, the tracepoint pass, the CLI."""

from n3core import __version__  # noqa: F401
