# The two commands of the README: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: run test lint format messages compilemessages check-python clean

run: $(VENV)/.runtime
	$(BIN)/python manage.py runstack

# Tests use their own embedded Redis port, so they never touch the one `make run` started.
test: export EMBEDDED_REDIS_PORT ?= 6391
test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The Arabic catalogues (locale/ar): extract every string of the code, templates and JavaScript,
# merged with the translations already there; locations name files only, so that work on different
# lines of a file does not conflict in the catalogues. Translate the new (empty) and fuzzy entries,
# then compile the committed .mo files. tests/test_translations.py makes the same extraction and
# fails on any gap. Needs GNU gettext (apt-get install gettext).
MAKEMESSAGES := $(BIN)/python manage.py makemessages -l ar --no-obsolete --add-location file \
	--ignore var --ignore test-artifacts --ignore node_modules

messages: $(VENV)/.dev
	$(MAKEMESSAGES) -d django
	$(MAKEMESSAGES) -d djangojs

compilemessages: $(VENV)/.dev
	$(BIN)/python manage.py compilemessages -l ar --ignore '.*' --ignore var

check-python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required (python3.11 not found)."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "Python 3.11 is required; $(PYTHON) is $$($(PYTHON) --version)."; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
		{ echo "Python's venv module is missing: apt-get install python3.11-venv"; exit 1; }

$(VENV)/.runtime: requirements.txt | check-python
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | check-python
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) var test-artifacts
