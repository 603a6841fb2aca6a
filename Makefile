# Two commands set up everything on a fresh machine: `make train` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed
STAMP := $(VENV)/.installed-test

.PHONY: train test bench docs dot lint clean

# Create the virtual environment and install the project (editable); its test tools come
# second, for what needs them, so `make train` waits for no more than it uses. Each re-runs
# only when the package metadata changes.
$(RUNTIME): setup.cfg pyproject.toml
	@test -x $(BIN)/pip || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV) 2>/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's python3-venv..."; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; \
	    rm -rf $(VENV); $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "Python's venv module is missing. Install it with: sudo apt-get install python3-venv" >&2; exit 1; \
	  fi; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# Graphviz's `dot` program renders the computation graphs.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's graphviz (for the dot program)..."; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q graphviz >/dev/null; \
	  else \
	    echo "Graphviz's dot is missing. Install it with: sudo apt-get install graphviz" >&2; exit 1; \
	  fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) dot lint
	$(BIN)/python -m pytest

# Training and the benchmarks run with OpenBLAS's core-type overrides unset, where the
# environment sets them: they halve NumPy's matmul speed.
NATIVE_BLAS := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE

train: $(RUNTIME) dot
	$(NATIVE_BLAS) $(BIN)/tinyllm train

bench: $(RUNTIME)
	$(NATIVE_BLAS) $(BIN)/python -m bench.engine_ops
	$(NATIVE_BLAS) $(BIN)/python -m bench.tokenizer
	$(NATIVE_BLAS) $(BIN)/python -m bench.train
	$(NATIVE_BLAS) $(BIN)/python -m bench.sample

# The pictures of the README and the tour (from fixed seeds), and the tour's notebooks.
docs: $(STAMP) dot
	$(BIN)/python docs/make_images.py
	$(BIN)/python docs/make_notebooks.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
