# `make demo` and `make test` each create or refresh .venv, install everything, then run.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format install system-deps clean

# Re-install whenever the package metadata changes.
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,torch,parity]"
	$(PY) -m pip install -q --no-deps dalle2-pytorch==1.15.6
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

demo: install
	$(PY) -m mmt_jax.demo

# Two workers, one test file each at a time (module fixtures are built once per file).
test: install
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
