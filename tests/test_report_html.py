"""Reports opened in a real headless Chromium: what a reader sees once the script ran.

Each page is loaded from a file:// URL with every request recorded; the only request
allowed is the page itself. Screenshots go to .artifacts/ for a person to look at.
"""
import json
import re
import sys
from pathlib import Path

import pytest

from analyzer.report.data import FULL_LIMIT
from tests.support import fault_runs
from tests.support.browser import browser, open_page, screenshot  # noqa: F401 - fixtures
from tests.support.replay_programs import EXAMPLES, n3analyze, record
from tests.support.trace_factory import SITES, Script, research_run

RESEARCH = ["--agent", "ResearchAgent", "--input", "Research quantum error correction"]


def embedded(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script id="n3-data" type="application/json">(.*?)</script>', text, re.S)
    assert found, "the page embeds no data block"
    return json.loads(found.group(1))


def report(tmp_path, trace, *extra) -> Path:
    out = tmp_path / "report.html"
    done = n3analyze(tmp_path, "report", trace, "-o", out, *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"wrote {out}" in done.stderr
    return out


def assert_offline(loaded, page_path: Path):
    assert loaded.errors == []
    assert loaded.requests == [page_path.resolve().as_uri()]


def test_research_example_draws_every_span_and_shows_the_source_on_click(tmp_path, open_page):
    trace = record(tmp_path, EXAMPLES / "research_agent" / "app.ai", tmp_path / "run.n3t", *RESEARCH)
    page_path = report(tmp_path, trace)
    doc = embedded(page_path)
    analysis = json.loads(n3analyze(tmp_path, "analyze", trace, "--format", "json").stdout)
    loaded = open_page(page_path)
    page = loaded.page
    assert page.locator(".bar").count() == analysis["summary"]["spans"] == len(doc["spans"])
    critical = {s["span"] for s in analysis["performance"]["critical_path"]["segments"]}
    assert page.locator(".bar.critical").count() == len(critical) > 0
    llm = next(s for s in doc["spans"] if s["type"] == "llm_call")
    page.click(f"#bar-{llm['id']}")
    line = int(llm["location"].split(":")[-2])
    source_line = (EXAMPLES / "research_agent" / "app.ai").read_text().splitlines()[line - 1]
    hit = page.locator("#detail .source .hit").inner_text()
    assert page.locator("#detail .source .hit .no").inner_text() == str(line)
    assert source_line.strip() in hit
    assert "messages" in page.locator("#detail pre.payload").first.inner_text()
    assert page.locator("#health.good").count() == 1
    assert page.locator(".lane").count() == len(doc["lanes"]) >= 2
    assert_offline(loaded, page_path)
    screenshot(loaded, "report-research.png")


def test_failed_run_shows_the_error_and_its_stack(tmp_path, open_page):
    fault_runs.write_program(tmp_path)
    done = fault_runs.cli(tmp_path, "run", "app.ai", "--chain", "main", "--input",
                          '{"mode": "raise"}', traced=True)
    assert done.returncode == 1, done.stderr
    trace = next((tmp_path / "traces").glob("*.n3t"))
    page_path = report(tmp_path, trace)
    loaded = open_page(page_path)
    page = loaded.page
    failed = [s for s in embedded(page_path)["spans"] if s["status"] == "error"]
    assert page.locator(".bar.error").count() == len(failed) >= 1
    tool = next(s for s in failed if s["type"] == "tool_call")
    page.click(f"#bar-{tool['id']}")
    assert "ValueError: the tool broke" in page.locator("#detail h4.note").inner_text()
    stack = page.locator("#detail pre.stack").inner_text()
    assert stack.startswith("Traceback (most recent call last)") and "the tool broke" in stack
    assert_offline(loaded, page_path)
    screenshot(loaded, "report-failed.png")


def test_damaged_trace_says_so_in_the_header(tmp_path, open_page):
    full = research_run(turns=20).to_n3t(tmp_path / "full.n3t", config={"chunk_events": 16})
    data = Path(full).read_bytes()
    damaged = tmp_path / "damaged.n3t"
    damaged.write_bytes(data[: len(data) * 3 // 5])
    page_path = report(tmp_path, damaged)
    loaded = open_page(page_path)
    health = loaded.page.locator("#health.bad").inner_text()
    assert "damaged" in health and "still open" in health
    assert loaded.page.locator(".bar.open").count() >= 1
    assert_offline(loaded, page_path)


def test_diff_marks_the_first_divergence_on_both_timelines(tmp_path, open_page):
    source = EXAMPLES / "structured_retry" / "app.ai"
    a = record(tmp_path, source, tmp_path / "a.n3t", "--input", '{"review": "Great battery life."}')
    b = record(tmp_path, source, tmp_path / "b.n3t", "--input", '{"review": "The screen cracked."}')
    page_path = report(tmp_path, a, "--diff", b)
    loaded = open_page(page_path, height=1400)
    page = loaded.page
    assert "llm" in page.locator("#first-divergence").inner_text()
    assert page.locator("#a-timeline .bar.diverged").count() == 1
    assert page.locator("#b-timeline .bar.diverged").count() == 1
    changed = page.locator("pre.textdiff .diffline")
    texts = [changed.nth(i).inner_text() for i in range(changed.count())]
    assert any("battery" in t for t in texts if t.startswith("-"))
    assert any("cracked" in t for t in texts if t.startswith("+"))
    assert_offline(loaded, page_path)
    screenshot(loaded, "report-diff.png")


def test_a_big_trace_draws_what_matters_and_says_what_it_summed(tmp_path, open_page):
    s = Script()
    chain = s.enter(1)
    for i in range(FULL_LIMIT + 2_000):
        s.wait(1_000)
        s.span(9, (5_000 if i % 997 == 0 else 1_000))
    s.exit(chain)
    trace = s.to_n3t(tmp_path / "big.n3t")
    page_path = report(tmp_path, trace)
    doc = embedded(page_path)
    total = FULL_LIMIT + 2_000 + 1
    assert doc["omitted"]["spans"] + len(doc["spans"]) == total
    assert doc["omitted"]["spans"] > 0
    slow = [sp for sp in doc["spans"] if sp["type"] == "chain_step" and sp["dur_us"] >= 5]
    assert len(slow) == len(range(0, FULL_LIMIT + 2_000, 997))
    loaded = open_page(page_path)
    assert loaded.page.locator(".bar").count() == len(doc["spans"])
    assert f"the other {doc['omitted']['spans']}" in loaded.page.locator("#health").inner_text()
    assert_offline(loaded, page_path)


def test_hostile_names_stay_text_and_load_nothing(tmp_path, open_page):
    evil = '</script><script>document.title="pwned"</script><img src="http://127.0.0.1:9/x">'
    sites = [dict(site, name=evil) if site["id"] in (4, 5) else site for site in SITES]
    s = Script()
    chain = s.enter(1)
    s.span(4, 1_000, start={"content": evil})
    s.span(5, 2_000)
    s.exit(chain)
    trace = s.to_n3t(tmp_path / "evil.n3t", sites=sites)
    page_path = report(tmp_path, trace)
    loaded = open_page(page_path)
    assert loaded.page.title() != "pwned"
    assert loaded.page.locator("img").count() == 0
    assert evil in loaded.page.locator(".bar").nth(1).inner_text() + \
        loaded.page.locator(".bar").nth(2).inner_text()
    assert_offline(loaded, page_path)


def test_report_of_a_missing_folder_is_exit_2_without_a_traceback(tmp_path):
    trace = research_run(turns=1).to_n3t(tmp_path / "t.n3t")
    done = n3analyze(tmp_path, "report", trace, "-o", tmp_path / "no" / "such" / "r.html")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "does not exist" in done.stderr


def test_debug_trace_with_report_writes_it_next_to_the_trace(tmp_path):
    from tests.support.replay_programs import namel3ss

    out = tmp_path / "run.n3t"
    done = namel3ss(tmp_path, "debug", "trace", EXAMPLES / "research_agent" / "app.ai", *RESEARCH,
                    "-o", out, "--report")
    assert done.returncode == 0, done.stderr
    assert f"wrote {tmp_path / 'run.html'}" in done.stderr
    assert embedded(tmp_path / "run.html")["run"]["spans"] > 0
