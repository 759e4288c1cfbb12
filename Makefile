# Two entry points that work on a fresh Debian machine with Python 3.11 (as root):
#   make demo   - venv, install, build the index from the bundled real sample, serve it + the widget
#   make test   - venv, install, system packages (redis-server, chromium), run the whole test suite
#   make lock   - rewrite requirements.lock, the hashed versions the Docker image installs
#   make widget - rebuild web_demo/dist/ (the bundled widget) after editing web_demo/*.js|css
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
INDEX   ?= index/sample
SAMPLE  := data/sample/aol-sample.tsv.gz
MODEL   ?= mpc
HOST    ?= 127.0.0.1
PORT    ?= 8000

# requirements.lock is for the image: its Python (Dockerfile FROM) and platform. The venv
# follows pyproject.toml. Existing pins are kept; LOCK_ARGS=--upgrade moves all to the newest.
LOCK_PYTHON   := 3.11
LOCK_PLATFORM := x86_64-unknown-linux-gnu
LOCK_ARGS     ?=

.PHONY: venv install demo index test lint lock clean widget

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[test,dev]"

# --min-users 1: the demo shares every query of the sample, which is public data (a slice of
# the AOL release) from only 63 users, too few for K=2 to leave a useful index (146 labels).
# A real log keeps build-index's default (K=2, see README "What strangers may see").
index: install
	$(BIN)/autocomplete build-index --log $(SAMPLE) --out $(INDEX) --model $(MODEL) --all --min-users 1

demo: index
	$(BIN)/autocomplete complete --index $(INDEX) --k 3 "go" "new y" "amazom"
	$(BIN)/autocomplete serve --index $(INDEX) --host $(HOST) --port $(PORT) --demo-tokens

test: install
	bash scripts/system_deps.sh
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check indexer autocomplete session_store tests bench

widget: install
	$(BIN)/python scripts/build_widget.py

$(BIN)/uv: $(BIN)/python
	$(BIN)/pip install -q -e ".[lock]"

# The build backend (pyproject's [build-system]) is locked too: the image builds the project
# with --no-build-isolation, so nothing it installs goes unhashed.
lock: $(BIN)/uv
	printf 'setuptools>=77\nwheel\n' | $(BIN)/uv pip compile pyproject.toml - \
	  --generate-hashes --python-version $(LOCK_PYTHON) --python-platform $(LOCK_PLATFORM) \
	  --default-index https://pypi.org/simple --custom-compile-command "make lock" \
	  --quiet $(LOCK_ARGS) -o requirements.lock

clean:
	rm -rf $(VENV) index build *.egg-info
