# Two commands do all set-up on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
ARCHIVE_HOME ?= $(CURDIR)
export ARCHIVE_HOME

.PHONY: run test lint install browser axe index clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Debian's Chromium for the browser test (PyPI's playwright drives it; `playwright install` cannot work here).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

# axe-core, the accessibility checker the browser tests inject into pages (tests/test_browser_pages.py): a
# test-only npm package, pinned in package.json with its integrity hash in package-lock.json; node_modules/
# is git-ignored. Debian's npm is installed first when the machine has none.
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; fi; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

axe: $(AXE)

index: $(STAMP)
	@test -f index/CURRENT || $(BIN)/archive reindex
	@$(BIN)/archive stats

run: index
	$(BIN)/archive serve --host 127.0.0.1 --port 8000

test: $(STAMP) browser axe
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check archive web tests bench
	$(BIN)/mypy

clean:
	rm -rf index/gen-* index/CURRENT index/write.lock

# ---- benchmark (bench/, issue 4): not part of `make test`, except the smoke run in tests/ ----
BENCH_SCALES ?= 20000 200000
BENCH_HTTP_SECONDS ?= 60

.PHONY: bench bench-quality bench-smoke bench-hostile bench-ingest bench-deps bench-compare

# Tantivy is a bench-only dependency (the `bench` optional group of pyproject.toml); wrk (Debian's package)
# loads `archive serve` in `make bench` and `make bench-ingest`, never in `make test`.
bench-deps: $(STAMP)
	@$(BIN)/python -c "import tantivy, Stemmer, fpdf" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk not found: the HTTP load steps are skipped; install it with: sudo apt-get install wrk"; fi; }

bench: bench-deps
	@for n in $(BENCH_SCALES); do \
	  $(BIN)/python -m bench.run --passages $$n --http-seconds $(BENCH_HTTP_SECONDS) || exit 1; done
	$(BIN)/python -m bench.profile
	$(BIN)/python -m bench.report

bench-quality: bench-deps
	$(BIN)/python -m bench.quality

bench-smoke: $(STAMP)
	$(BIN)/python -m bench.smoke

# The bounds the service promises against hostile requests, through a real `archive serve` (about 5 minutes):
# bench/results/hostile.md, and its summary in bench/RESULTS.md.
bench-hostile: $(STAMP)
	$(BIN)/python -m bench.hostile

# Issue 15's ingest benchmark (minutes): a generated mix of 2,000 files through `archive add` / `reindex`
# against their bare extraction, each format alone, memory at 10x the files, a Dask LocalCluster, serve
# --workers 1 vs 2 under wrk: bench/results/ingest.md (+ .json) and RESULTS.md's ingest section.
bench-ingest: bench-deps
	$(BIN)/python -m bench.ingest

# Two revisions of the core side by side on this tree's harness (bench/revisions.py): each one's index built
# once (kept in bench/data/revisions, by a digest of its archive/), then the full response's search mix
# alternated before / after / after with issue 14's crowding and excerpts off, BENCH_ROUNDS times:
# bench/results/revisions.md (+ .json). `make bench-compare BEFORE=15e13aa AFTER=.` (. is this working tree).
BEFORE ?= 15e13aa
AFTER ?= .
BENCH_COMPARE_PASSAGES ?= 200000
BENCH_ROUNDS ?= 3
bench-compare: $(STAMP)
	$(BIN)/python -m bench.revisions --before $(BEFORE) --after $(AFTER) --passages $(BENCH_COMPARE_PASSAGES) \
	  --rounds $(BENCH_ROUNDS)
