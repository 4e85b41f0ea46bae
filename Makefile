# The README's commands. Only Python 3.11+ is needed on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# `make run PORT=8001`: the port served, and the address links in emails, feeds and the demo's
# login hint point to (a SITE_URL of your own wins).
PORT ?= 8000
SITE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test lint format bench worker beat demo clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: install, migrate, load the demo community and serve http://127.0.0.1:$(PORT) (SQLite, tasks inline)
run: export DEBUG = true
run: export SITE_URL := $(SITE_URL)
run: export DATABASE_URL = sqlite:///db.sqlite3
run: export REDIS_URL =
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_data
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

## test: lint, check migrations, run the whole suite (skipped groups are named at the end)
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: benchmarks on PostgreSQL and Redis, loaded by wrk; figures printed and saved under bench/results/
bench: $(VENV)/.installed
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing wrk"; \
	    apt-get install -y -q wrk || { apt-get update -q && apt-get install -y -q wrk; }; \
	  else \
	    echo "wrk is not installed: apt-get install wrk"; exit 1; \
	  fi; }
	$(PY) -m bench $(BENCH_ARGS)

## worker / beat: the Celery processes production runs next to gunicorn
worker: $(VENV)/.installed
	$(BIN)/celery -A portal worker --loglevel=info

beat: $(VENV)/.installed
	$(BIN)/celery -A portal beat --loglevel=info

demo: $(VENV)/.installed
	DEBUG=true SITE_URL=$(SITE_URL) $(PY) manage.py demo_data

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache .hypothesis
