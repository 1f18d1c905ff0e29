# Two commands do everything: `make run` (all notebooks, tracked in mlflow.db) and `make test`.
# Variables: PYTHON (a Python 3.11), DATA_SOURCE (auto|tlc|synthetic), DATA_DIR (folder with
# the TLC parquet files), TAXI_COLOR (green|yellow for make run; default: the notebooks' green),
# PYTEST_ARGS, PYTEST_WORKERS (processes for the tests, default 2), LAB_PORT and LAB_TOKEN
# (make lab), SCREENSHOTS_ARGS (e.g. --only jupyterlab), BENCHMARK_ARGS (make benchmark, e.g.
# --size green --only 01 02).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_SOURCE ?= auto
DATA_DIR ?=
TAXI_COLOR ?=
PORT ?= 5000
LAB_PORT ?= 8888
LAB_TOKEN ?=
PYTEST_WORKERS ?= 2
BENCHMARK_ARGS ?=

.PHONY: setup run benchmark test ui lab screenshots lint format clean-notebooks check-notebooks clean \
	refresh outdated

setup: $(STAMP)

$(STAMP): mlflow_requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r mlflow_requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## run every notebook in order into build/executed/, tracked in ./mlflow.db
run: setup
	$(PY) scripts/run_notebooks.py --data-source "$(DATA_SOURCE)" $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") \
		$(if $(TAXI_COLOR),-p TAXI_COLOR "$(TAXI_COLOR)")

## every notebook on a generated green month, then a generated yellow month (3 million trips):
## time and peak memory of each into build/benchmark/course.md (long: the yellow size takes a while)
benchmark: setup
	$(PY) scripts/benchmark_course.py $(BENCHMARK_ARGS)

## the whole test suite (offline; real-data checks use ../shared/tlc-data or $$TLC_DATA_DIR)
test: setup
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## the MLflow UI on the same database the notebooks write, on http://127.0.0.1:$(PORT)
ui: setup
	$(VENV)/bin/mlflow ui --backend-store-uri "sqlite:///$(CURDIR)/mlflow.db" --host 127.0.0.1 --port $(PORT)

## JupyterLab on http://127.0.0.1:$(LAB_PORT) with the notebooks' environment (.venv); it prints its
## URL with a token (a fixed one: make lab LAB_TOKEN=...). Runs are tracked in ./mlflow.db
lab: setup
	@echo "JupyterLab with $(VENV)'s Python; open the http://127.0.0.1 URL printed below (Ctrl-C stops it)"
	$(VENV)/bin/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
		--ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		$(if $(LAB_TOKEN),--IdentityProvider.token="$(LAB_TOKEN)") \
		$(if $(filter 0,$(shell id -u)),--allow-root)

## regenerate the pictures in imgs/: notebooks into a fresh store, a live server, headless Chromium
## (Chromium from your packages: sudo bash .ci/chromium.sh)
screenshots: setup
	$(PY) scripts/screenshots.py --data-source "$(DATA_SOURCE)" $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") $(SCREENSHOTS_ARGS)

## maintainers: the committed outputs AND the pictures from one run: every notebook in order into
## one fresh store on the real files (DATA_DIR=... or $$TAXI_DATA_DIR), then imgs/ from a live
## MLflow server on that same store (needs Chromium: bash .ci/chromium.sh)
refresh: setup
	$(PY) scripts/run_notebooks.py --refresh-committed $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

## the pins of mlflow_requirements.txt with a newer release, and whether each installs with the others
outdated: setup
	$(PY) -m infra.pins mlflow_requirements.txt

## ruff: lint and format check, notebooks included (100-character lines); `make format` fixes
lint: setup
	$(VENV)/bin/ruff check helpers infra tests scripts notebooks
	$(VENV)/bin/ruff format --check helpers infra tests scripts notebooks

format: setup
	$(VENV)/bin/ruff format helpers infra tests scripts notebooks

## strip execution metadata from the committed notebooks (outputs and tags stay)
clean-notebooks: setup
	$(PY) scripts/clean_notebooks.py

check-notebooks: setup
	$(PY) scripts/clean_notebooks.py --check

clean:
	rm -rf build
