# `make run` and `make test` set up .venv themselves; see README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A project-local Dagster instance unless DAGSTER_HOME is already set.
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# The default window: the 30 days ending yesterday (UTC).
START ?= $(shell date -u -d '30 days ago' +%F)
END ?= $(shell date -u -d 'yesterday' +%F)
# Extra run config files (YAML), e.g. `make run CONFIG=my_settings.yaml`.
CONFIG ?=
# Where `make ui` listens, e.g. `make ui PORT=3001`.
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: install run test test-fast test-cluster lint docs ui serve bench lock clean cluster-up cluster-down cluster-status

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# onnxruntime-web (the browser bundle) and playwright-core (its browser test), as pinned in browser/.
NODE_STAMP := browser/node_modules/.installed
$(NODE_STAMP): browser/package.json browser/package-lock.json
	npm ci --prefix browser --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# The package's bytecode, compiled now: with PYTHONDONTWRITEBYTECODE set (as on CI), every command
# would otherwise compile its modules again (0.2 s per `dagster` command). Only changed files recompile.
install: $(STAMP) $(NODE_STAMP)
	@$(BIN)/python -m compileall -q poppy_pipeline

# The project-local instance always gets config/dagster.yaml; another DAGSTER_HOME only when it has none.
# (Quoted: a DAGSTER_HOME with a space is one folder.)
.PHONY: dagster-home
dagster-home:
	@mkdir -p "$(DAGSTER_HOME)"
	@if [ "$(DAGSTER_HOME)" = "$(CURDIR)/.dagster_home" ] || [ ! -e "$(DAGSTER_HOME)/dagster.yaml" ]; then \
		cp config/dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"; fi

# The run (dagster asset materialize's, with config/run.yaml and CONFIG) through launch.py: it refuses
# what cannot succeed before anything is written, leaves Dagster's stack traces out unless VERBOSE=1,
# then prints the run's checks and what it published, and last one sentence: what to change, or what
# to do next. Exits non-zero when the run was refused or failed, or a blocking check failed.
run: install dagster-home
	@VERBOSE='$(VERBOSE)' $(BIN)/python -m poppy_pipeline.dagster_support.launch --start '$(START)' --end '$(END)' \
		$(foreach file,$(CONFIG),--config '$(file)')

# Both cores (pytest-xdist): each test module in one worker, the cluster's and the UI's modules together
# (conftest.py). `make test-fast`: the core's tests, no servers, browser, cluster, commands or Dagster runs.
TEST_WORKERS ?= 2
FAST := not cluster and not browser and not servers and not commands and not assets and not slow
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

test-fast: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m '$(FAST)' -q

# Only the cluster profile's and the UI's tests (Postgres, RabbitMQ, Chromium; also part of `make test`).
test-cluster: install
	$(BIN)/python -m pytest -m 'cluster or browser'

# `dg check defs` loads the code location as `dg` does (the defs/ folder, [tool.dg] in pyproject.toml).
# mypy checks the package ([tool.mypy] in pyproject.toml: strict on the core); its cache (.mypy_cache)
# makes a run after a small change take seconds.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

# The documentation site (mkdocs.yml, docs/) into site/: every warning is an error (--strict), so a
# broken link or anchor between pages, in README.md or ARCHITECTURE.md, or in a rendered page fails it.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

ui: install dagster-home
	$(BIN)/dg dev -w workspace.yaml -h $(HOST) -p $(PORT)

# The back end's ML service on 127.0.0.1:$$POPPY_SERVICE_PORT (default 8000); it refuses to start
# without $$POPPY_SERVICE_TOKEN. Its `run` launches Dagster runs through the webserver at
# $$POPPY_DAGSTER_URL (default `make ui`'s, http://127.0.0.1:3000). See docs/service.md.
serve: install
	$(BIN)/python -m poppy_pipeline.service

# Each benchmark writes benchmarks/results/<name>.json and exits 1 when it misses a goal; all of them
# run, and the target fails at the end if any missed one.
BENCHES := simulation engagement windows click_model browser cli plain_cli cli_windows scale
bench: install
	@status=0; for bench in $(BENCHES); do \
		$(BIN)/python benchmarks/bench_$$bench.py || { echo "bench_$$bench.py: a goal missed or a failure"; status=1; }; \
	done; exit $$status

# Re-resolve requirements.lock after changing pyproject.toml (the lock is the whole tree, so `install`
# takes it with --no-deps; requirements.overrides lifts pins the project outgrew, e.g. sdmetrics' pandas<3).
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra cluster --python-version 3.11 --no-header \
		--override requirements.overrides -o requirements.lock

# The cluster profile (cluster/, docs/cluster.md): Postgres, RabbitMQ, dagster-daemon,
# Celery workers and the webserver as processes under .cluster/ ($$POPPY_CLUSTER_DIR).
cluster-up: install
	$(BIN)/python cluster/cluster.py up

cluster-down:
	@test -x $(BIN)/python && $(BIN)/python cluster/cluster.py down || true

cluster-status:
	@$(BIN)/python cluster/cluster.py status

clean:
	rm -rf $(VENV) .dagster_home data/outputs browser/node_modules test-artifacts site
