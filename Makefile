# Two commands: `make run` starts the whole system with demo data on a private PostgreSQL server and
# a filesystem broker, both under var/; `make test` runs the suite. Either uses DATABASE_URL when set
# (and CELERY_BROKER_URL for the broker).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
DEMO_FAMILIES ?= 200
PORT ?= 8000
# Runs a command against DATABASE_URL, or else beside the private server it starts and stops
# (casemgmt/devdb.py): `run` always the private one, `test` first the local server CI uses.
DEVDB := $(PY) -m casemgmt.devdb
AXE := node_modules/axe-core/axe.min.js

.PHONY: run test lint check venv demo seed serve clean bench

# The newest Python 3.12+ on this machine: on PATH, or installed by pyenv.
find_python = for c in python3.14 python3.13 python3.12 $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then command -v $$c; exit 0; fi; \
	done; exit 1

$(STAMP): requirements.txt
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	  python=$$($(find_python)) || { echo "Python 3.12 or newer is required (Django 6); none was found on PATH or under ~/.pyenv." >&2; exit 1; }; \
	  echo "Creating $(VENV) with $$python"; rm -rf $(VENV); $$python -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

demo: venv
	$(DEVDB) run -- $(MAKE) --no-print-directory seed

run: venv
	$(DEVDB) run -- $(MAKE) --no-print-directory seed serve

# `seed` and `serve` are the steps of `demo` and `run`, with DATABASE_URL set by them.
seed:
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_regions
	$(PY) manage.py seed_demo --families $(DEMO_FAMILIES) --if-empty
	$(PY) manage.py demo_users

serve:
	$(PY) manage.py collectstatic --noinput -v0
	@echo "Starting web (workspace http://127.0.0.1:$(PORT)/ , admin /admin/), Celery worker and beat; Ctrl-C stops all."
	$(VENV)/bin/honcho start -f Procfile.dev -p $(PORT)

# The suite runs against the real PostgreSQL and Redis (tests about the database, broker and worker
# must): DATABASE_URL when set, else the local server when it answers, else the private server of
# `make run`. Each run makes a test database of its own (test_<name>_<run>) and starts a
# redis-server of its own on a free port (tests/conftest.py), so two runs at once do not collide
# and none empties the development broker. With DATABASE_OWNER_URL as well (the schema's owner;
# DATABASE_URL is then the application's role, docs/deploy.md), the owner creates and migrates the
# test database and the tests run as the application's role.
test: venv $(AXE)
	$(DEVDB) test -- $(PY) -m pytest $(PYTEST_ARGS)

# axe-core, which the browser tests run inside each page (tests/e2e/a11y.py), pinned in package-lock.json.
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# National-scale benchmarks (bench/README.md) on $(DATABASE_URL), which must be a migrated database of
# its own: loads a million families once, then writes bench/RESULTS.md.
bench: venv
	@test -n "$(DATABASE_URL)" || { echo "make bench needs DATABASE_URL (a database of its own, see bench/README.md)." >&2; exit 1; }
	$(PY) -m bench load --families $(or $(BENCH_FAMILIES),1000000)
	$(PY) -m bench run
	$(PY) -m bench scaleout --broker $(or $(BENCH_BROKER_URL),redis://127.0.0.1:6379/5)

lint: venv
	$(VENV)/bin/ruff check .

check: venv
	$(DEVDB) run -- sh -c '$(PY) manage.py check && $(PY) manage.py makemigrations --check --dry-run'

clean:
	rm -rf $(VENV) var
