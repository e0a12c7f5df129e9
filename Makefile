# make run  — install, migrate, load every commune and the demo data, serve http://127.0.0.1:8000 (embedded PostgreSQL)
# make test — install and run the whole test suite
# make test-fast — the inner loop: no browser, integration nor slow tests, test database kept
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
LOAD_ARGS ?=
BENCH_CANDIDATURES ?= 10000

.PHONY: install lock run test test-fast lint format worker check-deploy clean-db load bench

install: $(VENV)/.installed

# Exactly the versions and files of the lock (requirements/dev.txt: runtime and development
# dependencies with their hashes), generated from pyproject.toml by `make lock`.
$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@

# Regenerate the locks after changing a dependency in pyproject.toml (needs PyPI): runtime
# (requirements/base.txt, the image's) then development, constrained to the same runtime versions.
PIP_COMPILE = $(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple \
	--pip-args "--isolated"
lock: install
	$(PIP_COMPILE) -o requirements/base.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --constraint requirements/base.txt -o requirements/dev.txt pyproject.toml

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_territory
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

# Locally the test database is kept between runs (--reuse-db; pytest-django still applies new
# migrations; PYTEST_ARGS=--create-db rebuilds it); under CI=true it is created fresh.
REUSE_DB := $(if $(filter true,$(CI)),--create-db,--reuse-db)

# Both targets run on every core, at most 4 (pytest-xdist; PYTEST_WORKERS=0 for one process):
# each worker has its own test database (test_<name>_gw0, _gw1…) and, with --dist loadscope,
# whole modules (and classes), so a module's shared read-only world is built once.
PYTEST_WORKERS ?= auto
# --no-loadscope-reorder: xdist would hand out the modules with the most tests first, and so the
# longest (the whole-edition browser test, one test) last, alone on one worker while the other
# waits; tests/conftest.py orders the long modules first instead.
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),-p no:xdist,-n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadscope --no-loadscope-reorder)

# Bytecode kept between processes even where the environment says PYTHONDONTWRITEBYTECODE=1
# (this machine and CI do): every xdist worker and each Python subprocess of
# the tests (gunicorn, Celery, manage.py, the forked processes) otherwise compiles the project
# and rewrites the tests' assertions again (about 9 s of CPU per pytest process).
test test-fast: export PYTHONDONTWRITEBYTECODE =

test: install
	$(PY) -m pytest $(XDIST) $(REUSE_DB) $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest $(XDIST) $(REUSE_DB) -m "not browser and not integration and not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

worker: install
	$(VENV)/bin/celery -A ami worker --beat --loglevel=INFO

# Deadline rush load test (Locust → gunicorn, PostgreSQL, Redis): docs/performance.md.
# Database LOAD_DATABASE_URL (default ami_load on 127.0.0.1); options: make load LOAD_ARGS="--help"
load: install
	$(PY) bench/deadline_rush.py $(LOAD_ARGS)

# Page budgets at national scale (docs/performance.md): seeds the bench call « AMI PTCE banc
# d'essai » if it is missing (manage.py seed_bench, BENCH_CANDIDATURES candidatures; a few
# minutes the first time), then prints each page's median time and query count.
bench: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_bench --candidatures $(BENCH_CANDIDATURES)
	$(PY) bench/pages.py

clean-db:
	rm -rf .local/pgdata
