# The two README commands: `make demo` (install everything, run the main job) and `make test`.
PY ?= python3
RUN ?= runs/demo

.PHONY: setup data demo test test-slow lint format mutants bench benchmarks-md translation-benchmark gpu-check

setup:
	bash scripts/setup.sh

data:
	bash scripts/install_data.sh

# The main job (scripts/demo.sh, about 4 minutes on 2 cores): a catalog view and tcat verify's
# summary, the catalog's Transformer (tiny scale) trained on English->Spanish Bible verses and
# scored on held-out books against copying the source (fails unless it beats it, with no
# degenerate repetition), then the website. One thread by default (THREADS=0: the free cores).
demo: setup data
	bash scripts/demo.sh $(RUN)

# The tests: the data they read (make data), Chromium for the site's browser tests, then pytest on
# 2 workers (1 thread each). TCAT_STRICT_SKIPS=1: a skip not listed in tests/conftest.py fails the run.
test: setup data
	bash scripts/install_test_deps.sh
	TCAT_STRICT_SKIPS=1 $(PY) -m pytest -n 2 -q

test-slow: setup data
	$(PY) -m pytest -n 2 -q -m slow

# ruff: lint and format check (CI runs it; `make format` rewrites)
lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format:
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The planted-bug check (TESTING.md): slow, not in the default run; run it before landing core changes.
mutants: setup
	OMP_NUM_THREADS=1 $(PY) scripts/mutants.py

bench: setup data
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) benchmarks/bench_catalog.py
	$(PY) benchmarks/bench_seq2seq_train.py --threads 1 --rounds 3
	$(PY) benchmarks/bench_gpt.py --threads 1 --rounds 3 --config small
	$(PY) benchmarks/bench_gpt.py --threads 1 --rounds 3 --config gpt2
	$(PY) benchmarks/bench_encoders.py --threads 1 --rounds 3
	$(PY) benchmarks/bench_levers.py --threads 1 --rounds 5
	$(PY) benchmarks/report.py

# The EN->ES result in BENCHMARKS.md: 95 minutes of training on one thread, then beam-search evaluation.
translation-benchmark: setup data
	rm -rf runs/en-es
	tcat train --data bible-en-es --model transformer-small --out runs/en-es --steps 100000 --minutes 95 \
		--max-tokens 2048 --warmup 600 --threads 1 --eval-every 500 --save-every 250
	tcat evaluate runs/en-es --split test --beam 4 --threads 2 --json benchmarks/results/translation_en_es.json
	$(PY) benchmarks/plot_loss.py runs/en-es/metrics.jsonl benchmarks/results/translation_loss.svg
	$(PY) benchmarks/report.py

benchmarks-md:
	$(PY) benchmarks/report.py

# On a CUDA machine: parity of SDPA's flash and memory-efficient kernels against the eager reference, one
# compiled bf16 training step, the decoder benchmark against Hugging Face (under 10 minutes). On a CPU it
# says so in one line and exits 0.
gpu-check: setup
	$(PY) scripts/gpu_check.py --json benchmarks/results/gpu_check.json
