"""The answer book's scan, compiled and pure Python: the same book from the same trace,
the same refusal of the same hand-edited answer, on real recorded runs."""
import pytest

from analyzer.replay import book as book_module, scancore
from analyzer.replay.errors import MalformedTraceError
from n3core.tracing.reqhash import TAIL_BYTES, TAIL_PREFIX, recorded_digest
from tests.support.replay_programs import record_example
from tests.support.trace_edit import Failed, rewrite

CORES = scancore.available()
REVIEW = '{"review": "Great battery life."}'


def test_both_scan_cores_are_built_here():
    assert CORES == ["c", "python"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scan")
    _, research = record_example(tmp, "research_agent", "research", tmp / "research.n3t",
                                 "--agent", "ResearchAgent",
                                 "--input", "Research quantum error correction")
    _, review = record_example(tmp, "structured_retry", "review", tmp / "review.n3t",
                               "--input", REVIEW)
    return tmp, research, review


def _read(path, core, check=True):
    """(book, None) or (None, the MalformedTraceError's text), read with scan core `core`."""
    chosen = scancore._chosen
    scancore._chosen = scancore.scan_module(core)
    try:
        return book_module.read_book(path, check=check), None
    except MalformedTraceError as exc:
        return None, str(exc)
    finally:
        scancore._chosen = chosen


def _facts(book):
    entries = [(e.key, e.kind, e.site.id, e.recorded_request is book_module.LAZY, e.hash, e.seq,
                e.start_ns, e.end_ns, e.outcome, e.answer, e.where) for e in book.ordered()]
    return entries, book.entry, book.input, book.errors, book.events


def _same_on_both(path, check=True):
    (a, fail_a), (b, fail_b) = (_read(path, core, check) for core in CORES)
    assert fail_a == fail_b
    if a is not None:
        assert _facts(a) == _facts(b)
        assert [e.request for e in a.ordered()] == [e.request for e in b.ordered()]
    return a, fail_a


def test_recorded_runs_give_the_same_book_on_both_cores(runs):
    _, research, review = runs
    for path in (research, review):
        book, failure = _same_on_both(path)
        assert failure is None and len(book.entries) >= 2
        assert all(e.outcome == "ok" and isinstance(e.hash, str) for e in book.entries.values())
        assert book.entry and book.events > 2 * len(book.entries)


def _edit(src, dst, component, kind, replace):
    done = []

    def edit(site, k, payload):
        if site is not None and site.component == component and k.name == kind and not done:
            done.append(site)
            return replace(payload)
        return payload

    path = rewrite(src, dst, edit)
    assert done
    return path


@pytest.mark.parametrize("component, kind, replace, problem", [
    # past the exact-type check, accepted by the full one
    ("llm", "end", lambda p: {**p, "usage": {"prompt_tokens": True, "completion_tokens": 1,
                                             "total_tokens": 2}}, None),
    ("llm", "end", lambda p: {**p, "usage": None}, None),
    ("tool", "end", lambda p: {"output": None, "extra": [1, {"a": 2}]}, None),
    ("llm", "start", lambda p: {k: v for k, v in p.items() if k != "request_hash"}, None),
    # refused, with the same words
    ("llm", "end", lambda p: ["not", "a", "mapping"], "expected an object, found list"),
    ("llm", "end", lambda p: {**p, "text": 3}, "field 'text' should be str"),
    ("llm", "end", lambda p: {**p, "tool_calls": [{"name": "t", "arguments": "x"}]},
     "tool_calls: field 'arguments' should be dict"),
    ("llm", "end", lambda p: {**p, "usage": {"prompt_tokens": "1"}}, "usage: field"),
    ("tool", "end", lambda p: {"value": 1}, 'expected {"output": value}'),
    ("tool", "end", lambda p: {"output": "x" * 300_000}, "the value was cut when recorded"),
    ("tool", "end", lambda p: {"output": _nested(80)}, "the value was cut when recorded"),
])
def test_edited_answers_are_judged_alike_on_both_cores(runs, tmp_path, component, kind,
                                                       replace, problem):
    _, research, _ = runs
    path = _edit(research, tmp_path / "edited.n3t", component, kind, replace)
    book, failure = _same_on_both(path)
    if problem is None:
        assert failure is None and book.entries
    else:
        assert failure is not None and problem in failure and "Nothing was run." in failure
    _same_on_both(path, check=False)  # a diff reads any answer


def _nested(depth):
    value = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("error, problem", [
    ({"type": "n3core.runtime.errors.ToolError", "message": "the tool failed"}, None),
    ({"type": "ToolError"}, "field 'message' should be str"),
])
def test_failed_calls_and_their_error_instants_reach_the_book_alike(runs, tmp_path, error,
                                                                     problem):
    _, research, _ = runs
    path = _edit(research, tmp_path / "failed.n3t", "tool", "end", lambda p: Failed(error))
    book, failure = _same_on_both(path)
    if problem is not None:
        assert problem in failure
        return
    failed = [e for e in book.ordered() if e.outcome == "error"]
    assert len(failed) == 1 and failed[0].kind == "tool" and failed[0].answer == error
    assert book.errors == [(failed[0].key, error["type"], error["message"])]


def test_the_hash_is_read_only_from_a_whole_tail():
    digest = "0123456789abcdef" * 2
    whole = b"\x0a\x01" + TAIL_PREFIX + digest.encode()
    assert len(TAIL_PREFIX) + 32 == TAIL_BYTES
    assert recorded_digest(whole) == digest
    assert recorded_digest(whole[-TAIL_BYTES:]) == digest
    assert recorded_digest(TAIL_PREFIX + b"abcd") is None  # shorter than a tail
    assert recorded_digest(whole[:-1] + b"\xff") is None
    assert recorded_digest(None) is None and recorded_digest(b"") is None
