# The two commands a new user needs: `make demo` and `make test`. `make bench` measures speed.
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

.PHONY: demo test bench lint voila clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# one stamp per set of extras, redone when pyproject.toml changes
$(VENV)/.stamp-%: pyproject.toml | $(PY)
	$(PIP) install -e ".[$(subst +,$(comma),$*)]"
	$(PY) -c "import cnnviz_widgets" && touch $@

comma := ,
DEMO_EXTRAS := notebook+offline-vgg+offline-imagenet+samples
TEST_EXTRAS := test+notebook+offline-vgg+offline-imagenet+samples+train+distributed
BENCH_EXTRAS := test+offline-vgg+bench

demo: $(VENV)/.stamp-$(DEMO_EXTRAS)
	@echo "Starting JupyterLab on http://$(HOST):$(PORT)/ with notebooks/01_quickstart.ipynb;"
	@echo "open the URL with the token that JupyterLab prints below."
	$(VENV)/bin/jupyter lab --no-browser --ip=$(HOST) --port=$(PORT) $(ALLOW_ROOT) \
		--ServerApp.root_dir=$(CURDIR) notebooks/01_quickstart.ipynb

voila: $(VENV)/.stamp-$(DEMO_EXTRAS)
	$(VENV)/bin/voila --no-browser --Voila.ip=$(HOST) --port=$(PORT) \
		notebooks/01_quickstart.ipynb

# the gradient methods once more under the JAX backend of Keras (tests/attribution/conftest.py
# says which tests assert properties of TensorFlow's seeded weights and skip there)
# the panel's registry and Fourier feature visualisation run once, under TensorFlow; the
# slow tests/backends comparison runs both backends' feature visualisation on shared weights
JAX_SKIP ?= --ignore=tests/attribution/test_registry.py --ignore=tests/attribution/test_feature_vis.py
JAX_TESTS ?= tests/attribution tests/backends/test_new_weights_are_seen.py tests/engine/test_oracle.py \
	tests/engine/test_signals.py tests/engine/test_multi_output.py tests/engine/test_multi_input.py \
	tests/engine/test_unsupported_models.py

test: $(VENV)/.stamp-$(TEST_EXTRAS)
	$(PY) -m ruff check cnnviz_widgets tests benchmarks scripts
	$(PY) -m pytest $(PYTEST_ARGS)
	KERAS_BACKEND=jax $(PY) -m pytest -p no:cacheprovider -m "not slow" $(JAX_TESTS) $(JAX_SKIP)

bench: $(VENV)/.stamp-$(BENCH_EXTRAS)
	$(PY) -m benchmarks

lint: $(VENV)/.stamp-$(TEST_EXTRAS)
	$(PY) -m ruff check cnnviz_widgets tests benchmarks scripts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
