# biovae developer commands. Every target sets up the virtual environment it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.biovae-installed

CORE_VENV ?= .venv-core
CORE_STAMP := $(CORE_VENV)/.biovae-installed
OLDEST_TORCH ?= 2.13.0
OLDEST_VENV ?= .venv-oldest$(if $(filter 2.13.0,$(OLDEST_TORCH)),,-torch$(OLDEST_TORCH))
OLDEST_STAMP := $(OLDEST_VENV)/.biovae-installed
# pyproject's lower bounds. Torch stays at the local CPU wheel in CI: PyPI's torch 2.2 wheels
# bring ~2.5 GB of CUDA libraries. `make test-oldest OLDEST_TORCH=2.2.2` checks torch's floor
# (in .venv-oldest-torch2.2.2).
OLDEST := numpy==1.24.4 scipy==1.10.1 pandas==2.0.3 safetensors==0.4.0 tqdm==4.60.0 \
	anndata==0.10.0 h5py==3.8.0 matplotlib==3.7.0 scikit-learn==1.3.0 MDAnalysis==2.6.0 \
	gemmi==0.6.0 biom-format==2.1.15

.PHONY: demo test test-core test-oldest bench bench-singlecell lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## train on the shipped PBMC data set and write an HTML report
	$(VENV)/bin/biovae demo --out demo-output

test: $(STAMP)  ## run the whole test suite
	$(PY) -m pytest

# What `pip install biovae` gets today: no anndata (whose pin holds pandas below 3), so the
# newest pandas. Tests that read .h5ad skip there; CI runs this after `make test`.
$(CORE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q --upgrade pip
	$(CORE_VENV)/bin/python -m pip install -q torch==2.13.0
	$(CORE_VENV)/bin/python -m pip install -q -e '.[report,structure,microbiome]' pytest 'pandas>=3'
	touch $(CORE_STAMP)

test-core: $(CORE_STAMP)  ## the suite without anndata, on pandas 3
	$(CORE_VENV)/bin/python -m pytest

# The oldest versions pyproject allows, so its lower bounds are tested claims.
$(OLDEST_STAMP): pyproject.toml
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install -q torch==$(OLDEST_TORCH)
	$(OLDEST_VENV)/bin/python -m pip install -q --only-binary=:all: $(OLDEST) pytest
	$(OLDEST_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $(OLDEST_STAMP)

test-oldest: $(OLDEST_STAMP)  ## the suite on the oldest dependency versions pyproject allows
	$(OLDEST_VENV)/bin/python -m pytest

bench: $(STAMP)  ## run every benchmark (hours on 2 cores; results in benchmarks/RESULTS.md)
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/diagnostics.py
	$(PY) benchmarks/microbiome.py
	$(PY) benchmarks/calibration.py
	$(PY) benchmarks/structures.py
	$(PY) benchmarks/variants.py --out bench-output/variants
	$(PY) benchmarks/singlecell.py --threads 1
	$(PY) benchmarks/genotype.py
	$(PY) benchmarks/streaming.py
	$(PY) benchmarks/screening.py
	$(PY) benchmarks/differential.py
	$(PY) benchmarks/differential_cellbench.py
	$(PY) benchmarks/query_mapping.py
	$(PY) benchmarks/predictive.py
	$(PY) benchmarks/differential.py --mode vanilla
	$(PY) benchmarks/loadings.py

bench-singlecell: $(STAMP)  ## single-cell benchmark vs PCA and scVI (creates bench-output/scvi-env)
	$(PY) benchmarks/singlecell.py --threads 1

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) $(CORE_VENV) .venv-oldest .venv-oldest-torch* demo-output bench-output .pytest_cache .ruff_cache
