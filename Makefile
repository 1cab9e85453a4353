# Two commands do everything on a fresh machine with Python 3.11, pip and make:
#   make book   build the HTML book, English into _build/html and Chinese into _build/html-zh,
#               and the PDF of each edition (creating .venv first)
#   make test   unit tests, every notebook re-run by nbval, the translation check, the strict
#               build of both editions and their PDFs, the browser check of both
# (make test-perturbed: the notebooks in other numerical environments, conclusions checked)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: book test unit notebooks build-strict browser lint clean execute student student-book grade \
	test-perturbed book-en book-zh catalogues pdf build-strict-zh

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

book: book-en book-zh pdf
	@echo "The book: $(CURDIR)/_build/html/index.html, in Chinese $(CURDIR)/_build/html-zh/index.html"

book-en: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

# The Chinese edition: the same sources and outputs, the text from the catalogues in locales/.
# The Jupyter Book CLI takes no language, so it builds through the Sphinx configuration that
# Jupyter Book generates from _config.yml (conf.py, not kept in git).
ZH := -D language=zh_CN -D locale_dirs=locales -D gettext_compact=0
conf.py: _config.yml _toc.yml $(STAMP)
	$(BIN)/jupyter-book config sphinx . > /dev/null
	sed -i '1i import os\nimport sys\n\nsys.path.insert(0, os.path.abspath("book/_ext"))' conf.py

book-zh: conf.py
	$(BIN)/sphinx-build -b html $(ZH) -W -n --keep-going -q -d _build/.doctrees-zh . _build/html-zh

# After a change to the English prose: update the catalogues (new messages come in empty,
# changed ones fuzzy), translate them, then build. make test fails until every message of
# every page is translated.
catalogues: conf.py
	rm -rf _build/gettext
	$(BIN)/sphinx-build -b gettext -q -D gettext_compact=0 . _build/gettext
	$(BIN)/sphinx-intl update -p _build/gettext -l zh_CN -d locales -w 0 > /dev/null
	rm -rf locales/zh_CN/LC_MESSAGES/book/api

# The PDF of each edition: its pages, in the book's order, printed by Chromium (offline) and
# published beside the HTML as pdf/recurrent-networks-executable.pdf
PDF := pdf/recurrent-networks-executable.pdf
pdf: $(STAMP)
	$(BIN)/python book/_ext/print_pdf.py _build/html _build/html/$(PDF)
	$(BIN)/python book/_ext/print_pdf.py _build/html-zh _build/html-zh/$(PDF)

test: $(STAMP)
	$(BIN)/ruff check companion tests book/_ext
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope --no-loadscope-reorder --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg \
	    --ignore=tests/browser tests book
	$(BIN)/python book/_ext/api_pages.py  # once, before the two builds run side by side
	$(MAKE) -j2 build-strict build-strict-zh
	$(MAKE) pdf
	$(BIN)/python -m pytest -n $(JOBS) tests/browser

unit: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --ignore=tests/browser tests

notebooks: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope --no-loadscope-reorder --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg book

# Every notebook re-run in two numerical environments other than the pinned one (see
# companion/numerics.py), digits not compared: it passes when every cell runs and every
# asserted conclusion holds.  sse41: oneDNN at SSE4.1, torch's scalar kernels, oneMKL's SSE2
# branch, and numpy's baseline SIMD loops (numpy reads NPY_DISABLE_CPU_FEATURES at import, so
# it is set here, before the kernels start).  no-onednn: torch's own LSTM loop instead of
# oneDNN's, and the machine's widest kernels elsewhere.  One notebook: NB=book/<chapter>.ipynb
NUMPY_SIMD = $(shell test -x $(BIN)/python && $(BIN)/python -c "from numpy._core._multiarray_umath \
	import __cpu_dispatch__ as d, __cpu_features__ as f; print(' '.join(x for x in d if f.get(x)))")
test-perturbed: $(STAMP)
	COMPANION_NUMERICS=sse41 NPY_DISABLE_CPU_FEATURES="$(NUMPY_SIMD)" \
	    $(BIN)/python -m pytest -n $(JOBS) --dist loadscope --nbval-lax -p no:cacheprovider \
	    $(or $(NB),book)
	COMPANION_NUMERICS=no-onednn \
	    $(BIN)/python -m pytest -n $(JOBS) --dist loadscope --nbval-lax -p no:cacheprovider \
	    $(or $(NB),book)

build-strict: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . -W -n --keep-going

build-strict-zh: conf.py
	rm -rf _build/html-zh _build/.doctrees-zh
	$(MAKE) book-zh

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

# The student edition (solutions replaced by stubs, solution blocks removed, outputs cleared):
#   make student                              notebooks in _build/student/book/
#   make student-book                         the student HTML book, _build/student-book/_build/html
#   make grade SUBMISSIONS=path/to/folder     scores in _build/grades/grades.csv, feedback beside
# Grading executes the submitted code: run it in a container or sandbox that you control.
CELL_TIMEOUT ?= 300
NOTEBOOK_TIMEOUT ?= 1800
student: $(STAMP)
	$(BIN)/python -m companion.instructor student --out _build/student

student-book: $(STAMP)
	$(BIN)/python -m companion.instructor student --out _build/student-book --keep-body-outputs
	$(BIN)/jupyter-book build _build/student-book -W -n --keep-going
	cd _build/student-book && $(CURDIR)/$(BIN)/jupyter-book config sphinx . > /dev/null && \
	    sed -i '1i import os\nimport sys\n\nsys.path.insert(0, os.path.abspath("book/_ext"))' \
	    conf.py && $(CURDIR)/$(BIN)/sphinx-build -b html $(ZH) -W -n --keep-going -q \
	    -d _build/.doctrees-zh . _build/html-zh
	$(BIN)/python -m companion.instructor verify _build/student-book/_build/html
	$(BIN)/python -m companion.instructor verify _build/student-book/_build/html-zh
	@echo "The student book: $(CURDIR)/_build/student-book/_build/html/index.html," \
	    "in Chinese $(CURDIR)/_build/student-book/_build/html-zh/index.html"

grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || (echo "usage: make grade SUBMISSIONS=folder-of-notebooks" && exit 2)
	$(BIN)/python -m companion.instructor grade "$(SUBMISSIONS)" --out _build/grades/grades.csv \
	    --cell-timeout $(CELL_TIMEOUT) --notebook-timeout $(NOTEBOOK_TIMEOUT) --jobs $(JOBS)

clean:
	rm -rf _build .pytest_cache tests/artifacts book/api/companion*.md book/api/_summary.md conf.py
