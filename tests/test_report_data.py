"""The data a report page embeds, pinned down byte for byte (the markup is free to change).

The trace comes from the factory (fixed clock, run id and metadata), and the .ai file
beside it matches the header's hash, so the source lines are part of the document.
"""
import hashlib
import json

import pytest

from analyzer.report import data, page
from support.trace_factory import FIXED_METADATA, VALIDATION_SITES, research_run, validation_retry_run
from support.trace_factory import analyzer_core  # noqa: F401 - a fixture
from test_analyzer_gold import APP_AI, check_gold

METADATA = {**FIXED_METADATA, "source_sha256": hashlib.sha256(APP_AI.encode()).hexdigest()}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.ai").write_text(APP_AI)
    return tmp_path


@pytest.mark.usefixtures("analyzer_core")
@pytest.mark.parametrize("name", ["research", "validation"])
def test_embedded_document_matches_gold(here, name):
    if name == "research":
        research_run().to_n3t(here / "t.n3t", metadata=METADATA)
    else:
        validation_retry_run().to_n3t(here / "t.n3t", sites=VALIDATION_SITES, metadata=METADATA)
    doc = data.build("t.n3t")
    check_gold(f"report_{name}_data.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")


def test_every_span_has_its_detail_and_the_source_around_its_line(here):
    research_run().to_n3t(here / "t.n3t", metadata=METADATA)
    doc = data.build("t.n3t")
    assert len(doc["spans"]) == doc["run"]["spans"]
    assert set(doc["details"]) == {str(s["id"]) for s in doc["spans"]}
    for s in doc["spans"]:
        if s["location"]:
            lines = doc["sources"][str(s["site"])]["lines"]
            hit = [n for n, _, is_hit in lines if is_hit]
            assert hit == [int(s["location"].split(":")[1])]


def test_a_source_that_is_not_the_built_one_is_not_embedded(here):
    research_run().to_n3t(here / "t.n3t", metadata=METADATA)
    (here / "app.ai").write_text(APP_AI + "# edited\n")
    doc = data.build("t.n3t")
    assert all(not src["lines"] and "not the file" in src["reason"] for src in doc["sources"].values())


def test_long_strings_are_cut_with_a_note_and_lists_capped():
    cut = data.clip({"a": "x" * (data.TEXT_LIMIT + 10), "b": list(range(250))})
    assert cut["a"].endswith("… [10 more characters]") and len(cut["a"]) < data.TEXT_LIMIT + 40
    assert len(cut["b"]) == 201 and cut["b"][-1] == "… [50 more items]"


def test_nothing_in_the_document_can_close_the_script_block():
    text = page.embed({"name": "</script><!-- \u2028"})
    assert "<" not in text and "\u2028" not in text
    assert json.loads(text) == {"name": "</script><!-- \u2028"}
