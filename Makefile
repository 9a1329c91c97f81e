# `make demo` and `make test` each create or refresh .venv, install everything, then run.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-train models test lint format install system-deps browser-deps clean

# Re-install whenever the package metadata changes.
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,torch,parity]"
	$(PY) -m pip install -q --no-deps dalle2-pytorch==1.15.6 bigvgan==2.4.1 torchvggish==0.2 laion-clap==1.1.7 torchlibrosa==0.1.0
	touch $(STAMP)

install: $(STAMP) system-deps

# FluidSynth renders WAV with a General MIDI soundfont; without it we fall back to
# pretty_midi's sine synthesis, so a failed apt install is only a warning.
system-deps:
	@if command -v fluidsynth >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fluidsynth >/dev/null) \
	  || echo "warning: could not install fluidsynth; WAV files will use pretty_midi's sine synthesis"; \
	else echo "note: fluidsynth not installed; WAV files will use pretty_midi's sine synthesis"; fi

# Headless Chromium and its WebDriver for tests/test_site_browser.py (Debian, as root); without
# them that test skips and says why.
browser-deps:
	@if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null) \
	  || echo "warning: could not install chromium; the browser test will skip"; \
	else echo "note: chromium/chromedriver not installed; the browser test will skip"; fi

# The demo site from the models shipped in the packages (a couple of minutes on a CPU):
# demo_out/site/index.html. `make demo-train` trains a tiny MMT from scratch instead.
demo: install
	$(PY) -m demo_site.build --out demo_out/site

demo-train: install
	$(PY) -m mmt_jax.demo

# Retrain every shipped model (<package>/pretrained/<name>/) with its model card; resumes.
models: install
	$(PY) -m demo_site.models

# Two workers, one test file each at a time (module fixtures are built once per file).
test: install browser-deps
	$(PY) -m pytest -n 2 --dist loadfile

# ruff, configured in pyproject.toml: lint rules and the formatting check (`make format` fixes).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) demo_out
