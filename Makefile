# One-screen dev loop. Every target creates the virtualenv it needs on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)

.PHONY: demo stream-demo test test-fast lint format bench gazetteer-index clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)  ## run the bundled offline sample into ./output and print the summary
	$(PY) -m pipeline --output output

stream-demo: $(STAMP)  ## a bounded (~1 min) streaming run against a local feed server, into ./output-stream
	$(PY) tools/stream_demo.py --output output-stream

test: $(STAMP)  ## the whole suite, what CI runs
	$(PY) -m pytest tests -q -p no:cacheprovider --timeout=600

test-fast: $(STAMP)  ## the edit loop: unit and in-process pipeline tests, not those marked slow
	$(PY) -m pytest tests -q -p no:cacheprovider --timeout=600 -m "not slow"

BENCH_DIR ?= ../shared/data/article-extraction-benchmark/html
BENCH_LIMIT ?=

bench: $(STAMP)  ## CPU per story: floor, plain loop, Beam, 2 workers (not part of `make test`)
	$(PY) -m benchmarks.throughput $(BENCH_DIR) $(if $(BENCH_LIMIT),--limit $(BENCH_LIMIT)) \
		--json benchmarks/results/throughput.json

gazetteer-index: $(STAMP)  ## rebuild transforms/data/gazetteer_index.json.gz after editing places.yaml or gazetteer.py
	$(PY) -m transforms.tags.gazetteer_index

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf output output-stream build dist *.egg-info
