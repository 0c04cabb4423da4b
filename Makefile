# The contract everyone uses: setup, run, test, bench.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup run test bench bench-quick clean

setup:
	@bash scripts/setup.sh

run: setup
	$(PY) -m deploy.launcher

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

BENCHES := $(filter-out bench/_%,$(wildcard bench/*.py))

bench: setup
	@for b in $(BENCHES); do echo "== $$b"; $(PY) $$b || exit 1; done

bench-quick: setup
	@for b in $(BENCHES); do echo "== $$b --quick"; $(PY) $$b --quick || exit 1; done

clean:
	rm -rf var test-output .pytest_cache
