# Two commands do everything: `make run` (all notebooks, tracked in mlflow.db) and `make test`.
# Variables: PYTHON (a Python 3.11), DATA_SOURCE (auto|tlc|synthetic), DATA_DIR (folder with
# the TLC parquet files), PYTEST_ARGS, PYTEST_WORKERS (processes for the tests, default 2).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_SOURCE ?= auto
DATA_DIR ?=
PORT ?= 5000
PYTEST_WORKERS ?= 2

.PHONY: setup run test ui screenshots lint format clean-notebooks check-notebooks clean

setup: $(STAMP)

$(STAMP): mlflow_requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r mlflow_requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## run every notebook in order into build/executed/, tracked in ./mlflow.db
run: setup
	$(PY) scripts/run_notebooks.py --data-source "$(DATA_SOURCE)" $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

## the whole test suite (offline; real-data checks use ../shared/tlc-data or $$TLC_DATA_DIR)
test: setup
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## the MLflow UI on the same database the notebooks write, on http://127.0.0.1:$(PORT)
ui: setup
	$(VENV)/bin/mlflow ui --backend-store-uri "sqlite:///$(CURDIR)/mlflow.db" --host 127.0.0.1 --port $(PORT)

## regenerate the pictures in imgs/: notebooks into a fresh store, a live server, headless Chromium
## (Chromium from your packages: sudo bash .ci/chromium.sh)
screenshots: setup
	$(PY) scripts/screenshots.py --data-source "$(DATA_SOURCE)" $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

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
