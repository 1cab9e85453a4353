# Two commands do everything on a fresh machine with Python 3.11, pip and make:
#   make book   build the HTML book into _build/html (creating .venv first)
#   make test   unit tests, every notebook re-run by nbval, the strict book build, browser check
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: book test unit notebooks build-strict browser lint clean execute

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/ruff check companion tests book/_ext
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg \
	    --ignore=tests/browser tests book
	$(MAKE) build-strict
	$(BIN)/python -m pytest tests/browser

unit: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --ignore=tests/browser tests

notebooks: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg book

build-strict: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . -W -n --keep-going

browser: $(STAMP)
	$(BIN)/python -m pytest tests/browser

lint: $(STAMP)
	$(BIN)/ruff check companion tests book/_ext
	$(BIN)/ruff format --check companion tests book/_ext

# Re-run one chapter top to bottom in a fresh kernel and store its outputs, with progress-bar
# redraws collapsed to their final line:  make execute NB=book/ch02_bptt.ipynb
execute: $(STAMP)
	@test -n "$(NB)" || (echo "usage: make execute NB=book/<chapter>.ipynb" && exit 2)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace "$(NB)"
	$(BIN)/jupyter nbconvert --coalesce-streams "$(NB)"

clean:
	rm -rf _build .pytest_cache tests/artifacts
