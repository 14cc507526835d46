"""A normal install: sdist, then wheel, into a fresh venv, used from a folder far from the source.

An editable install reads data files from the checkout, so it cannot see a file that the
wheel forgot; only a real wheel in a venv of its own can. The wheel is built from the sdist,
which proves the sdist carries everything too.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from support.trace_factory import research_run

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("n3core", "n3instrument", "analyzer")
DATA_SUFFIXES = (".json", ".lark", ".toml", ".pyi", ".pyx", ".typed", ".js", ".css")
CORES = ("n3core/tracing/_ring", "n3core/tracing/_reader", "analyzer/_pass")
REVIEW = ["--input", '{"review": "Great battery life."}']
FALLBACK_NOTES = ("compiled tracing core is unavailable", "compiled analysis core is unavailable")


def _run(args, cwd, env=None):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def _ok(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return proc


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """(sdist, wheel, wheel built with no compiler, that build's log), from a clean copy."""
    work = tmp_path_factory.mktemp("dists")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        "*.so", "*.c", "debug", ".namel3ss"))
    _ok(_run([sys.executable, "setup.py", "-q", "sdist", "-d", work / "sdist"], src))
    sdist = next((work / "sdist").glob("n3trace-*.tar.gz"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--no-cache-dir"]
    _ok(_run([*pip_wheel, "-w", work / "wheel", sdist], work))
    no_cc = {**os.environ, "CC": "false"}
    log = _ok(_run([*pip_wheel, "-v", "-w", work / "pure", sdist], work, env=no_cc))
    return (sdist, next((work / "wheel").glob("*.whl")), next((work / "pure").glob("*.whl")),
            log.stdout + log.stderr)


def _venv(where: Path, wheel: Path) -> Path:
    """A fresh venv holding `wheel` and its dependencies (from pip's usual indexes)."""
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", where], where.parent))
    python = where / "bin" / "python"
    _ok(_run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", wheel],
             where.parent))
    return python


def _env(bin_dir: Path, home: Path, **extra) -> dict:
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1", **extra}


def _elsewhere(tmp_path: Path) -> Path:
    there = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "examples" / "structured_retry", there / "review")
    return there


def test_sdist_and_wheel_ship_every_data_file(dists):
    sdist, wheel, _, _ = dists
    wanted = {str(p.relative_to(ROOT)) for package in PACKAGES
              for p in (ROOT / package).rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES}
    assert {"analyzer/data/prices.json", "n3instrument/frontend/namel3ss.lark",
            "n3instrument/instrument/profiles/runtime.toml", "n3core/py.typed",
            "analyzer/report/report.js", "analyzer/report/report.css"} <= wanted
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())
    assert wanted - in_sdist == set() and wanted - in_wheel == set()
    for stem in CORES:
        assert any(n.startswith(stem + ".") and n.endswith(".so") for n in in_wheel), stem
    assert not [n for n in in_sdist if n.endswith((".c", ".so"))]
    assert not [n for n in in_wheel if n.endswith(".c")]


def test_the_installed_wheel_runs_every_command_on_its_compiled_cores(dists, tmp_path):
    python = _venv(tmp_path / "venv", dists[1])
    bin_dir, there = python.parent, _elsewhere(tmp_path)
    # A forced core that cannot be imported is a loud error, so every command below
    # succeeding proves the compiled ring, reader and analysis pass were the ones used.
    env = _env(bin_dir, tmp_path, N3TRACE_CORE="c", N3ANALYZE_CORE="c")
    probe = ("import json, n3core, analyzer.passcore as p, n3core.tracing.core as c\n"
             "print(json.dumps([n3core.__file__, c.CORE_NAME, c.ring.__file__, "
             "c.reader.__file__, p.CORE_NAME, p.module.__file__]))")
    where, ring_core, ring, reader, pass_core, pass_ = json.loads(
        _ok(_run([python, "-c", probe], there, env)).stdout)
    site = str(tmp_path / "venv")
    assert where.startswith(site) and (ring_core, pass_core) == ("c", "c")
    assert all(f.startswith(site) and f.endswith(".so") for f in (ring, reader, pass_))

    def cmd(*args):
        proc = _ok(_run([bin_dir / args[0], *args[1:]], there, env))
        assert not any(note in proc.stderr for note in FALLBACK_NOTES)
        return proc

    assert "ok (4 declarations)" in cmd("namel3ss", "check", "review/app.ai").stderr
    cmd("namel3ss", "build", "review/app.ai", "-o", "b")
    assert cmd("python", "b", *REVIEW).stdout.strip() == "Verdict: positive (0.92)"
    done = cmd("namel3ss", "run", "review/app.ai", *REVIEW, "--json")
    assert json.loads(done.stdout) == "Verdict: positive (0.92)"
    done = cmd("namel3ss", "debug", "trace", "review/app.ai", *REVIEW, "-o", "t.n3t")
    assert "2 llm calls" in done.stdout and (there / "t.n3t").is_file()
    doc = json.loads(cmd("n3analyze", "analyze", "t.n3t", "--format", "json").stdout)
    assert doc["summary"]["llm_calls"] == 2 and doc["errors"]["failed_spans"] == 1
    assert "validation" in cmd("n3analyze", "inspect", "t.n3t", "--tree").stdout
    cmd("n3analyze", "export", "t.n3t", "--to", "perfetto", "-o", "p.json")
    assert json.loads((there / "p.json").read_text())["traceEvents"]
    cmd("n3analyze", "report", "t.n3t", "-o", "r.html")
    page = (there / "r.html").read_text()
    assert 'getElementById("n3-data")' in page and ".bar{" in page  # script and styles inlined
    research_run().to_n3t(there / "priced.n3t")
    doc = json.loads(cmd("n3analyze", "analyze", "priced.n3t", "--format", "json").stdout)
    assert doc["tokens"]["prices"]["source"] == "built-in" and doc["summary"]["cost_usd"] > 0


def test_the_wheel_runs_from_a_zip(dists, tmp_path):
    """A wheel is a zip: its pure-Python half imported from it finds every data file."""
    wheel = dists[1]
    python = _venv(tmp_path / "venv", wheel)
    there = _elsewhere(tmp_path)
    env = _env(python.parent, tmp_path, PYTHONPATH=str(wheel), N3TRACE_CORE="python",
               N3ANALYZE_CORE="python")
    probe = ("import analyzer.costs as c, n3instrument.frontend.parser as p\n"
             "print(c.__file__, p.__file__, len(c.PriceTable().table))")
    costs, parser, prices = _ok(_run([python, "-c", probe], there, env)).stdout.split()
    assert costs.startswith(str(wheel)) and parser.startswith(str(wheel)) and int(prices) > 5
    _ok(_run([python, "-m", "n3instrument.cli", "build", "--instrument", "review/app.ai",
              "-o", "b"], there, env))
    assert (there / "b" / "sites.json").is_file()
    research_run().to_n3t(there / "priced.n3t")
    done = _ok(_run([python, "-m", "analyzer", "analyze", "priced.n3t", "--format", "json"],
                    there, env))
    assert json.loads(done.stdout)["summary"]["cost_usd"] > 0


def test_without_a_compiler_the_install_works_and_says_so_once(dists, tmp_path):
    _, _, pure, log = dists
    assert log.count("the compiled cores could not be built") == 1
    with zipfile.ZipFile(pure) as whl:
        assert not [n for n in whl.namelist() if n.endswith(".so")]
    python = _venv(tmp_path / "venv", pure)
    there = _elsewhere(tmp_path)
    env = _env(python.parent, tmp_path)
    done = _ok(_run([python.parent / "namel3ss", "debug", "trace", "review/app.ai", *REVIEW,
                     "-o", "t.n3t"], there, env))
    assert "2 llm calls" in done.stdout
    for note in FALLBACK_NOTES:
        assert done.stderr.count(note) == 1, done.stderr
