# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.n3trace-installed

.PHONY: ext browser demo test test-quick bench n3analyze clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Rebuild the Cython core in place whenever a .pyx changed (a no-op otherwise).
ext: $(STAMP)
	$(PY) setup.py --quiet build_ext --inplace

BIN := $(VENV)/bin
DEMO := examples/research_agent/app.ai

DEMO_RUN := --agent ResearchAgent --input "Research quantum error correction"

demo: ext
	$(BIN)/namel3ss check $(DEMO)
	$(BIN)/namel3ss build $(DEMO) -o build/research
	$(BIN)/python build/research $(DEMO_RUN)
	$(BIN)/namel3ss debug trace $(DEMO) $(DEMO_RUN) -o build/research.n3t
	$(BIN)/n3analyze analyze build/research.n3t --performance --errors
	$(BIN)/n3analyze inspect build/research.n3t --tree
	$(BIN)/n3analyze export build/research.n3t --to perfetto -o build/research.perfetto.json

# The report tests open pages in a real Chromium: Debian's package, installed when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "Chromium could not be installed; the report tests will fail and say why."

# The whole suite once per core (tests/conftest.py): compiled, then the Python twins; the
# second pass leaves out what does not depend on the core (front end, frozen, wheel).
test: ext browser
	N3_CORE=c $(PY) -m pytest -q
	N3_CORE=python $(PY) -m pytest -q -m "not frozen and not slow"

test-quick: ext
	$(PY) -m pytest -q -m "not frozen and not slow"

bench: ext
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks $(if $(QUICK),--quick)

n3analyze: ext
	$(PY) -m PyInstaller --noconfirm --clean --log-level WARN analyzer/n3analyze.spec

clean:
	rm -rf build dist .pytest_cache n3core/tracing/*.c n3core/tracing/*.so
