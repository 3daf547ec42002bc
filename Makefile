# The two commands a new user needs: `make demo` and `make test`. `make check` is the fast tier
# (lint and the tests not marked slow); `make bench` measures speed.
# Each target creates .venv when it is missing and installs what it needs into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
HOST ?= 127.0.0.1
PORT ?= 8888
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PIP_NO_INPUT := 1
# Jupyter refuses to run as root unless told to (containers, CI machines)
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: demo test check bench lint voila clean floors

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# one stamp per set of extras, redone when pyproject.toml changes
$(VENV)/.stamp-%: pyproject.toml | $(PY)
	$(PIP) install -e ".[$(subst +,$(comma),$*)]"
	$(PY) -c "import cnnviz_widgets" && touch $@

comma := ,
DEMO_EXTRAS := notebook+offline-vgg+offline-imagenet+samples+train+distributed+concepts
TEST_EXTRAS := test+notebook+offline-vgg+offline-imagenet+samples+train+distributed+concepts
BENCH_EXTRAS := test+offline-vgg+bench

demo: $(VENV)/.stamp-$(DEMO_EXTRAS)
	@echo "Starting JupyterLab on http://$(HOST):$(PORT)/ with notebooks/01_quickstart.ipynb;"
	@echo "open the URL with the token that JupyterLab prints below."
	$(VENV)/bin/jupyter lab --no-browser --ip=$(HOST) --port=$(PORT) $(ALLOW_ROOT) \
		--ServerApp.root_dir=$(CURDIR) notebooks/01_quickstart.ipynb

voila: $(VENV)/.stamp-$(DEMO_EXTRAS)
	$(VENV)/bin/voila --no-browser --Voila.ip=$(HOST) --port=$(PORT) \
		notebooks/01_quickstart.ipynb

# What differs between Keras backends runs once more under JAX: the engine's passes against
# plain Keras (the oracle), compiled scans that see new weights, and the gradient primitive
# on every kind of model. That every method gives the same maps under both backends on the
# same weights is tests/backends, in the main run.
JAX_TESTS ?= tests/engine/test_oracle.py tests/backends/test_new_weights_are_seen.py \
	tests/attribution/test_every_kind_of_model.py tests/attribution/test_gradcam.py \
	tests/attribution/test_gradcam_volume.py
JAX_TESTS += tests/attribution/test_targets.py tests/engine/test_volumes.py \
	tests/attribution/test_feature_vis_compiled.py
# two workers (pytest-xdist), each test file kept on one so its fixtures are built once
WORKERS ?= 2
PYTEST := $(PY) -m pytest -p no:cacheprovider -n $(WORKERS) --dist loadfile

# the fast tier for iteration: lint and every test not marked slow
check: $(VENV)/.stamp-$(TEST_EXTRAS)
	$(PY) -m ruff check cnnviz_widgets tests benchmarks scripts
	$(PYTEST) -m "not slow" --durations=20 $(PYTEST_ARGS)

# everything, slow tests included (browser, notebooks, Binder, Dask), then the JAX run,
# then the smoke run at the lowest versions pyproject.toml allows
test: $(VENV)/.stamp-$(TEST_EXTRAS)
	$(PY) -m ruff check cnnviz_widgets tests benchmarks scripts
	$(PYTEST) --durations=20 $(PYTEST_ARGS)
	KERAS_BACKEND=jax $(PYTEST) -m "not slow" $(JAX_TESTS)
	$(MAKE) floors

# a second environment at exactly the floors of the dependencies, and a smoke run in it
FLOORS_VENV ?= .venv-floors
FLOORS := tests/floors/constraints.txt
$(FLOORS_VENV)/.stamp: pyproject.toml $(FLOORS)
	rm -rf $(FLOORS_VENV)
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip --disable-pip-version-check -q install -c $(FLOORS) -e .
	touch $@

floors: $(FLOORS_VENV)/.stamp
	$(FLOORS_VENV)/bin/python scripts/smoke.py

bench: $(VENV)/.stamp-$(BENCH_EXTRAS)
	$(PY) -m benchmarks

lint: $(VENV)/.stamp-$(TEST_EXTRAS)
	$(PY) -m ruff check cnnviz_widgets tests benchmarks scripts

clean:
	rm -rf $(VENV) $(FLOORS_VENV) .pytest_cache .ruff_cache
