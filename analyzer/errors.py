"""The analyzer's own errors; exit 2 (bad input) unless a class says otherwise."""
from __future__ import annotations

from n3core.errors import FAILED, USAGE, ToolchainError


class AnalyzerError(ToolchainError):
    """Base of every error the analyzer reports as a message instead of a traceback."""

    exit_code = USAGE


class TraceNotFoundError(AnalyzerError):
    """The path names no file or folder, or a folder holds no trace."""


class NotATraceError(AnalyzerError):
    """The file exists but is neither a `.n3t` trace nor a JSON-lines trace."""


class UnknownComponentError(AnalyzerError):
    """A name given on the command line matches no component in the trace."""


class EventNotFoundError(AnalyzerError):
    """An event index is outside the trace."""


class PriceFileError(AnalyzerError):
    """A price override file cannot be read or has the wrong shape."""


class OutputError(AnalyzerError):
    """An export could not be written."""

    exit_code = FAILED
