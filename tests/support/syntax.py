"""The one syntax error a source must fail to parse with."""
import pytest

from n3instrument.frontend import FrontendError, load_source


def syntax_error(source: str):
    """The single SYNTAX_ERROR diagnostic that parsing `source` as app.ai raises."""
    with pytest.raises(FrontendError) as info:
        load_source(source, "app.ai")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "SYNTAX_ERROR"
    assert diagnostic.severity == "error"
    return diagnostic
