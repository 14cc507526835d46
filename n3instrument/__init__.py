"""Build-time half of the toolchain: the `.ai` front end, lowering, the tracepoint pass, the CLI."""

__version__ = "0.1.0"
