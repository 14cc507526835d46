# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.n3trace-installed

.PHONY: ext browser demo test test-quick test-integration bench n3analyze clean

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
	$(BIN)/namel3ss build $(DEMO) -o demo-out/research
	$(BIN)/python demo-out/research $(DEMO_RUN)
	$(BIN)/namel3ss debug trace $(DEMO) $(DEMO_RUN) -o demo-out/research.n3t
	$(BIN)/n3analyze analyze demo-out/research.n3t --performance --errors
	$(BIN)/n3analyze inspect demo-out/research.n3t --tree
	$(BIN)/n3analyze export demo-out/research.n3t --to perfetto -o demo-out/research.perfetto.json

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

# Phoenix (about 850 MB) lives in its own venv so `make test` stays light; the Cython cores
# built in place by `ext` are shared. A failed install is logged, and the test then fails
# with the log's tail instead of being skipped.
IVENV ?= .venv-integration
IPY := $(IVENV)/bin/python
ISTAMP := $(IVENV)/.n3trace-installed
ILOG := $(IVENV)/install.log

$(ISTAMP): pyproject.toml setup.py
	test -x $(IPY) || $(PYTHON) -m venv $(IVENV)
	$(IPY) -m pip install --quiet --upgrade pip
	N3TRACE_NO_EXTENSION=1 $(IPY) -m pip install --quiet -e '.[dev]'
	if N3TRACE_NO_EXTENSION=1 $(IPY) -m pip install --quiet -e '.[dev,integration]' > $(ILOG) 2>&1; \
	then touch $(ISTAMP); else echo "integration extra not installed: see $(ILOG)"; fi

test-integration: ext
	$(MAKE) $(ISTAMP) || true
	N3_INTEGRATION_INSTALL_LOG=$(ILOG) $(IPY) -m pytest -q -p no:cacheprovider tests_integration

bench: ext
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks $(if $(QUICK),--quick)

n3analyze: ext
	$(PY) -m PyInstaller --noconfirm --clean --log-level WARN analyzer/n3analyze.spec

clean:
	rm -rf build dist demo-out .pytest_cache n3core/tracing/*.c n3core/tracing/*.so \
		analyzer/_pass.c analyzer/_pass.*.so analyzer/_pass.html n3core/tracing/*.html
