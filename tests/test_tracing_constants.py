"""Each fact of the trace format has one home, n3core.tracing.format; the rest import it.

The compiled core keeps compile-time copies of the byte layout (Cython `DEF`s); these
tests hold them, and every name both cores export, equal to the home.
"""
import json

import pytest

from n3core.tracing import config, core, format, pyring
from n3instrument.instrument.profile import builtin_profile
from n3instrument.instrument.sites import plan_sites

from analyzer import model

NAMES = ("POLICY_BLOCK", "POLICY_DROP", "POLICY_FLIGHT",
         "KIND_START", "KIND_END", "KIND_ERROR_END", "KIND_INSTANT")


def test_the_compiled_layout_copies_equal_the_format_module():
    if "c" not in core.available():
        pytest.fail("the compiled tracing core is not built; run `make ext`")
    ring = core.ring_module("c")
    assert ring.LAYOUT == {
        "MAX_DELTA": format.MAX_DELTA, "MAX_SITE": format.MAX_SITE,
        "RESERVED_BASE": format.RESERVED_BASE, "RECORD_SIZE": format.RECORD_SIZE,
        "CHUNK_HEADER": format.CHUNK.size, "CHUNK_MAGIC": format.CHUNK_MAGIC}


@pytest.mark.parametrize("name", NAMES)
def test_both_cores_export_the_format_codes(name):
    for ring in [pyring] + ([core.ring_module("c")] if "c" in core.available() else []):
        assert getattr(ring, name) == getattr(format, name), ring.__name__


def test_policy_names_and_kind_names_come_from_the_format():
    assert config.POLICIES is format.POLICIES
    assert [format.POLICIES[n] for n in ("block", "drop", "flight-recorder")] == [0, 1, 2]
    assert (model.START, model.END, model.ERROR_END, model.INSTANT) == (0, 1, 2, 3)
    assert model.KIND_NAMES == {0: "start", 1: "end", 2: "error_end", 3: "instant"}


def test_the_reserved_sites_of_a_build_are_the_ones_the_tracer_emits_to():
    plan = plan_sites(None, builtin_profile())
    rows = {site.id: site.event_type for site in plan.sites}
    assert rows[format.ERROR_SITE] == "error_occurred"
    assert rows[format.PERFORMANCE_SITE] == "performance_marker"


def test_one_site_row_serves_the_build_and_the_trace_header():
    plan = plan_sites(None, builtin_profile())
    row = json.loads(plan.to_json())["sites"][2]
    site = format.Site.coerce(row)
    assert site.build_row() == row and site.kind == "span" and ":" in site.target
    header = format.decode_header(format.encode_header("r", {}, 1, 2, [site], {}), "t.n3t")
    assert header.sites[0].to_json() == {k: v for k, v in row.items() if k in format.HEADER_FIELDS}
    assert header.sites[0].kind == header.sites[0].target == ""
